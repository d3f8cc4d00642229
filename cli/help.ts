// `loops help [COMMAND]`: the help of loops or of one command.
import { EXIT } from "./_errors.ts";
import { defineCommand } from "./_spec.ts";

/** `loops help [COMMAND]` */
export const helpCommand = defineCommand({
  name: "help",
  summary: "Show help",
  arguments: [{
    name: "COMMAND",
    help: "The command to explain",
    optional: true,
  }],
  options: {},
  // `loops help stop --json` is the help of stop, whatever follows.
  rawArguments: true,
  description: "",
  run(context, { positionals }) {
    context.io.out(context.help(positionals[0]));
    return Promise.resolve(EXIT.ok);
  },
});
