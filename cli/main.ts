// `main`: the arguments through the global options, the command's spec and
// its `run`, to an exit code. Errors become exit codes through
// cli/_errors.ts; every message goes to stderr as `loops: <message>`.
import cfg from "../deno.json" with { type: "json" };
import { findWorkspace, type Registry } from "../mod.ts";
import { parseArgs, type ParsedArgs } from "./_args.ts";
import { COMMANDS } from "./_commands.ts";
import { openRegistry } from "./_engine.ts";
import { cliMessage, EXIT, exitCodeOf, UsageError } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import { formatCommandHelp, formatProgramHelp } from "./_help.ts";
import type { CommandContext, CommandSpec, OptionSpecs } from "./_spec.ts";
import { absolute } from "./_values.ts";
import { type CliIo, withRealIo } from "./io.ts";

const PROGRAM = "loops";

/** The options before the command, parsed like a command's. */
const GLOBAL_OPTIONS = {
  workspace: {
    type: "string",
    short: "w",
    value: "DIR",
    help: "Workspace root (default: nearest ancestor holding .ralph/, else .)",
  },
  help: { type: "boolean", short: "h", help: "Show help" },
  version: { type: "boolean", short: "V", help: "Show version" },
} as const satisfies OptionSpecs;

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
    ? formatProgramHelp({
      name: PROGRAM,
      title:
        `${cfg.version}: the registry of agent loops in a workspace (.ralph/loops.json)`,
      globals: GLOBAL_OPTIONS,
      commands: COMMANDS,
    })
    : formatCommandHelp(PROGRAM, lookup(command));
}

/** A command's context: the workspace and registry, found on first use. */
class Context implements CommandContext {
  readonly io: CliIo;
  #option: string | undefined;
  #workspace: string | undefined;
  #registry: Registry | undefined;

  constructor(io: CliIo, workspace: string | undefined) {
    this.io = io;
    this.#option = workspace;
  }

  get workspace(): string {
    this.#workspace ??= this.#option === undefined
      ? findWorkspace(this.io.cwd())
      : absolute(this.#option, this.io);
    return this.#workspace;
  }

  get registry(): Registry {
    this.#registry ??= openRegistry(this.workspace);
    return this.#registry;
  }

  help(command?: string): string {
    return help(command);
  }

  async close(): Promise<void> {
    await this.#registry?.close();
  }
}

/** Whether `args` ask for help before any `--`: help wins over the rest. */
function asksHelp(args: readonly string[]): boolean {
  const split = args.indexOf("--");
  const own = split < 0 ? args : args.slice(0, split);
  return own.includes("--help") || own.includes("-h");
}

async function dispatch(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs(args, GLOBAL_OPTIONS, {
    stopAtPositional: true,
  });
  if (values.workspace === "") {
    throw new UsageError("Option --workspace needs a directory");
  }
  if (positionals[0] === "--") {
    throw new UsageError('Unknown option "--" before the command');
  }
  if (values.version) {
    io.out(`${PROGRAM} ${cfg.version}`);
    return EXIT.ok;
  }
  const [name, ...rest] = positionals;
  if (name === undefined) {
    if (!values.help) throw new UsageError("Missing command");
    io.out(help());
    return EXIT.ok;
  }
  const spec = lookup(name);
  if (spec.rawArguments) {
    // `loops -h help list` is `loops help list`.
    return await run(spec, { values: {}, positionals: rest }, values, io);
  }
  if (values.help || asksHelp(rest)) {
    io.out(help(spec.name));
    return EXIT.ok;
  }
  const parsed = parseArgs(rest, spec.options);
  for (const [option, { required }] of Object.entries(spec.options)) {
    if (required && parsed.values[option] === undefined) {
      throw new UsageError(`Missing required option --${option}`);
    }
  }
  return await run(spec, parsed, values, io);
}

async function run(
  spec: CommandSpec,
  parsed: ParsedArgs<OptionSpecs>,
  globals: { workspace?: string },
  io: CliIo,
): Promise<number> {
  const context = new Context(io, globals.workspace);
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
 */
export async function main(
  args: string[],
  io: Partial<CliIo> = {},
): Promise<number> {
  const real = withRealIo(io);
  try {
    return await dispatch(args, real);
  } catch (error) {
    return report(error, real);
  }
}
