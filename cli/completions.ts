// `loops completions SHELL`: a completion script for bash, zsh or fish,
// made from the command specs (cli/_completion_scripts.ts, loaded only
// here, so that other commands do not pay for it).
import { EXIT, UsageError } from "./_errors.ts";
import { defineCommand } from "./_spec.ts";
import { positionalsExactly } from "./_values.ts";

/** The shells `completions` writes for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

/** `loops completions (bash | zsh | fish)` */
export const completionsCommand = defineCommand({
  name: "completions",
  summary: "Print a shell completion script (bash, zsh, fish)",
  arguments: [{
    name: "SHELL",
    help: "bash, zsh or fish",
    choices: SHELLS,
  }],
  options: {},
  description:
    `Prints a completion script for SHELL, made from the commands' own options;
loop ids are completed from the registry ('loops list -q'). Load it with:
  bash: source <(loops completions bash)      (e.g. in ~/.bashrc)
  zsh:  source <(loops completions zsh)       (after compinit, in ~/.zshrc)
  fish: loops completions fish > ~/.config/fish/completions/loops.fish`,
  async run({ io }, { positionals }) {
    positionalsExactly(positionals, 1, "SHELL (bash, zsh or fish)");
    const shell = positionals[0]!;
    if (!(SHELLS as readonly string[]).includes(shell)) {
      throw new UsageError(
        `Cannot write completions for ${
          JSON.stringify(shell)
        } as it is not one of ${SHELLS.join(", ")}`,
      );
    }
    const [{ completionScript }, { COMMANDS }, { GLOBAL_OPTIONS }] =
      await Promise.all([
        import("./_completion_scripts.ts"),
        import("./_commands.ts"),
        import("./_globals.ts"),
      ]);
    io.out(
      completionScript(shell as typeof SHELLS[number], {
        program: "loops",
        globals: GLOBAL_OPTIONS,
        commands: COMMANDS,
      }),
    );
    return EXIT.ok;
  },
});
