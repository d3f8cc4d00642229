// What a command declares: its name, arguments, options and texts, from
// which both its parsing and its help are made (cli/_help.ts), and what it
// runs. One spec per command file in cli/; the table is cli/_commands.ts.
import type { ArgOption, ParsedArgs } from "./_args.ts";
import type { CliIo } from "./io.ts";
import type { Registry } from "../mod.ts";

/** One option: how it is parsed and how the help shows it. */
export interface OptionSpec extends ArgOption {
  /** The value's name in the help, e.g. `PID` (string options). */
  value?: string;
  /** What it does, one line. */
  help: string;
  /**
   * The values it accepts (checked before `run`, shown by the help and
   * offered by the shell completions).
   *
   * @default {any value}
   */
  choices?: readonly string[];
  /**
   * Must be given (the help says so, and it is checked before `run`).
   *
   * @default {false}
   */
  required?: boolean;
}

/** The options by long name. */
export type OptionSpecs = Readonly<Record<string, Readonly<OptionSpec>>>;

/** One positional argument, for the usage line and the help. */
export interface ArgumentSpec {
  /** Its name in the usage line, e.g. `ID`. */
  name: string;
  /** What it is, one line. */
  help: string;
  /**
   * The values it accepts (checked by the command; offered by the shell
   * completions). A loop id argument is named `ID`: the completions offer
   * the registered ids.
   *
   * @default {any value}
   */
  choices?: readonly string[];
  /** @default {false} */
  optional?: boolean;
  /** Takes the rest of the arguments (`ARGS...`). @default {false} */
  variadic?: boolean;
  /** Comes after `--`, after the options (`-- CMD`). @default {false} */
  afterDashes?: boolean;
}

/** What a command runs with. */
export interface CommandContext {
  /** The outside world. */
  readonly io: CliIo;
  /** The workspace root, absolute (found on first use). */
  readonly workspace: string;
  /** The workspace's registry (opened on first use). */
  readonly registry: Registry;
  /**
   * Another registry of the same engine (`--redis`, `--namespace`), for a
   * long-lived command's own lock timeout; the caller closes it.
   */
  openRegistry(options?: { lockTimeoutMs?: number }): Registry;
  /**
   * How long a registry call waits for the lock (`--lock-timeout`), in
   * milliseconds; `undefined`: the engine's default.
   */
  readonly lockTimeoutMs?: number;
  /**
   * The help text of a command, or of `loops` for `undefined`.
   *
   * @throws {UsageError} If there is no such command.
   */
  help(command?: string): string;
}

/** A command of `loops`. */
export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  /** The word that selects it. */
  name: string;
  /** One line, for the list of commands. */
  summary: string;
  /** Its positional arguments, in order. */
  arguments: readonly ArgumentSpec[];
  /** Its options, in the order the help shows them. */
  options: O;
  /**
   * When the command has several forms: the argument and option names of
   * each (`[["ID"], ["pid"]]`: `ID` or `--pid PID`), one usage line a form.
   *
   * @default {one form of all arguments and options}
   */
  forms?: readonly (readonly string[])[];
  /**
   * Its arguments are not parsed: all of them, `--help` and `-h` included,
   * are positionals (the `help` command, whose topic may be any word).
   *
   * @default {false}
   */
  rawArguments?: boolean;
  /** The paragraph of its help, below the usage. */
  description: string;
  /**
   * Runs the command on its parsed arguments.
   *
   * @returns The exit code.
   */
  run(context: CommandContext, parsed: ParsedArgs<O>): Promise<number>;
}

/** A spec, typed by its options (so that `run` sees typed values). */
export function defineCommand<O extends OptionSpecs>(
  spec: CommandSpec<O>,
): CommandSpec<O> {
  return spec;
}
