// `main`: the arguments through the global options, the command's spec and
// its `run`, to an exit code. Errors become exit codes through
// cli/_errors.ts; every message goes to stderr as `loops: <message>`.
import cfg from "../deno.json" with { type: "json" };
import { parseArgs, type ParsedArgs } from "./_args.ts";
import { COMMANDS } from "./_commands.ts";
import { Context } from "./_context.ts";
import { cliMessage, EXIT, exitCodeOf, UsageError } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import {
  ANYWHERE_OPTIONS,
  checkChoices,
  GLOBAL_OPTIONS,
  type GlobalValues,
  parseSeconds,
  useColor,
} from "./_globals.ts";
import {
  formatCommandHelp,
  formatProgramHelp,
  formatShortUsage,
  type ProgramHelp,
} from "./_help.ts";
import type { CommandSpec, OptionSpecs } from "./_spec.ts";
import { type CliIo, fromCallerDirectory, withRealIo } from "./io.ts";

const PROGRAM = "loops";

const PROGRAM_HELP: ProgramHelp = {
  name: PROGRAM,
  title:
    `${cfg.version}: the registry of agent loops in a workspace (.ralph/loops.json)`,
  globals: GLOBAL_OPTIONS,
  commands: COMMANDS,
};

/** The command named `name`. */
function lookup(name: string): CommandSpec {
  const spec = COMMANDS.find((command) => command.name === name);
  if (spec === undefined) {
    throw new UsageError(`Unknown command ${JSON.stringify(name)}`);
  }
  return spec;
}

function help(command?: string): string {
  return command === undefined
    ? formatProgramHelp(PROGRAM_HELP)
    : formatCommandHelp(PROGRAM, lookup(command), ANYWHERE_OPTIONS);
}

/** Whether `args` ask for help before any `--`: help wins over the rest. */
function asksHelp(args: readonly string[]): boolean {
  const split = args.indexOf("--");
  const own = split < 0 ? args : args.slice(0, split);
  return own.includes("--help") || own.includes("-h");
}

/** Checks the global options; `--color` applied to `io`. */
function applyGlobals(values: GlobalValues, io: CliIo): CliIo {
  if (values.workspace === "") {
    throw new UsageError("Option --workspace needs a directory");
  }
  if (values.redis === "") {
    throw new UsageError(
      "Option --redis needs a URL such as redis://HOST:6379",
    );
  }
  if (values.namespace === "") {
    throw new UsageError("Option --namespace needs a name");
  }
  checkChoices(GLOBAL_OPTIONS, values);
  if (values["lock-timeout"] !== undefined) {
    parseSeconds(values["lock-timeout"], "--lock-timeout");
  }
  return { ...io, color: useColor(values.color, io.color) };
}

async function dispatch(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs(args, GLOBAL_OPTIONS, {
    stopAtPositional: true,
  });
  if (positionals[0] === "--") {
    throw new UsageError('Unknown option "--" before the command');
  }
  if (values.version) {
    io.out(`${PROGRAM} ${cfg.version}`);
    return EXIT.ok;
  }
  const [name, ...rest] = positionals;
  if (name === undefined) {
    applyGlobals(values, io);
    if (values.help) {
      io.out(help());
      return EXIT.ok;
    }
    io.err(
      `${PROGRAM}: Missing command\n${
        formatShortUsage(PROGRAM_HELP)
      }\nRun '${PROGRAM} --help' for usage.`,
    );
    return EXIT.usage;
  }
  const spec = lookup(name);
  if (spec.rawArguments) {
    // `loops -h help list` is `loops help list`.
    const parsed = { values: {}, positionals: rest };
    return await run(spec, parsed, values, applyGlobals(values, io));
  }
  if (values.help || asksHelp(rest)) {
    io.out(help(spec.name));
    return EXIT.ok;
  }
  // The global options may come after the command too (before any `--`);
  // there they win over the same ones before it.
  const options: OptionSpecs = { ...ANYWHERE_OPTIONS, ...spec.options };
  const parsed = parseArgs(rest, options);
  const globals: GlobalValues = { ...values };
  for (const option of Object.keys(ANYWHERE_OPTIONS)) {
    const value = parsed.values[option];
    if (value !== undefined && !Object.hasOwn(spec.options, option)) {
      (globals as Record<string, unknown>)[option] = value;
      delete parsed.values[option];
    }
  }
  const real = applyGlobals(globals, io);
  checkChoices(spec.options, parsed.values);
  for (const [option, { required }] of Object.entries(spec.options)) {
    if (required && parsed.values[option] === undefined) {
      throw new UsageError(`Missing required option --${option}`);
    }
  }
  return await run(spec, parsed, globals, real);
}

async function run(
  spec: CommandSpec,
  parsed: ParsedArgs<OptionSpecs>,
  globals: GlobalValues,
  io: CliIo,
): Promise<number> {
  const timeout = globals["lock-timeout"];
  const context = new Context(io, {
    workspace: globals.workspace,
    redis: globals.redis,
    namespace: globals.namespace,
    lockTimeoutMs: timeout === undefined
      ? undefined
      : parseSeconds(timeout, "--lock-timeout") * 1000,
    help,
  });
  try {
    return await spec.run(context, parsed);
  } finally {
    await context.close();
  }
}

function report(error: unknown, io: CliIo): number {
  const message = cliMessage(error);
  if (error instanceof UsageError) {
    io.err(
      `${PROGRAM}: ${
        message.split("\n").map(escapeText).join(" ")
      }\nRun '${PROGRAM} --help' for usage.`,
    );
    return error.exitCode;
  }
  const code = exitCodeOf(error);
  if (code !== undefined) {
    io.err(`${PROGRAM}: ${escapeText(message)}`);
    return code;
  }
  io.err(
    `${PROGRAM}: ${
      escapeText(message)
    }\n(unexpected error: please report it with the command you ran)`,
  );
  if (io.env("LOOPS_DEBUG")) io.err(String((error as Error)?.stack));
  return EXIT.failure;
}

/**
 * Runs the `loops` command line.
 *
 * Under `deno task` (which runs tasks in the folder of `deno.json`), the
 * workspace is looked for, and relative paths are taken, from the caller's
 * directory (`INIT_CWD`).
 *
 * @param args The arguments, without the program name.
 * @param io Where output goes, the environment, the current directory and
 * the terminal; each missing member is the real one.
 * @returns The exit code: 0 ok, 1 failure, 2 usage error, 3 no such loop
 * (or not running), 4 to 9 the failures a script may tell apart (see
 * `loops --help`), 130 interrupted.
 *
 * @example Print the version
 * ```ts
 * import { main } from "@loops/registry/cli";
 * import assert from "node:assert/strict";
 *
 * const out: string[] = [];
 * const code = await main(["--version"], { out: (text) => out.push(text) });
 * assert.equal(code, 0);
 * assert.match(out[0]!, /^loops \d+\.\d+\.\d+/);
 * ```
 *
 * @example A usage error
 * ```ts
 * import { main } from "@loops/registry/cli";
 * import assert from "node:assert/strict";
 *
 * const err: string[] = [];
 * const code = await main(["bogus"], { err: (text) => err.push(text) });
 * assert.equal(code, 2);
 * assert.match(err[0]!, /^loops: Unknown command "bogus"\nRun 'loops --help'/);
 * ```
 *
 * @example Tell "no such loop" (3) from a failure
 * ```ts
 * import { main } from "@loops/registry/cli";
 * import assert from "node:assert/strict";
 *
 * const workspace = await Deno.makeTempDir();
 * const code = await main(["-w", workspace, "running", "loop-1-abcd"], {
 *   err: () => {},
 * });
 * assert.equal(code, 3);
 * await Deno.remove(workspace, { recursive: true });
 * ```
 */
export async function main(
  args: string[],
  io: Partial<CliIo> = {},
): Promise<number> {
  const real = withRealIo(io);
  try {
    return await dispatch(args, fromCallerDirectory(real));
  } catch (error) {
    return report(error, real);
  }
}
