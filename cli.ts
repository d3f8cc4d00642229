/**
 * The `loops` command: list, wrap, watch and stop the agent loops of a
 * workspace. Wiring only: arguments, calls to the library, formatting and
 * the exit code.
 *
 * @example Run the CLI in-process
 * ```ts ignore
 * import { main } from "@loops/registry/cli";
 *
 * Deno.exitCode = await main(["list", "--json"]);
 * ```
 *
 * @module
 */
import cfg from "./deno.json" with { type: "json" };
import {
  CorruptRegistryError,
  createLoopEntry,
  explainProcess,
  findWorkspace,
  generateLoopId,
  isValidLoopId,
  isValidPid,
  LockTimeoutError,
  type LoopInfo,
  LoopNotFoundError,
  LoopRegistry,
  MAX_PID,
} from "./mod.ts";
import {
  escapeText,
  formatDetail,
  formatTable,
  stringifyJson,
  toJson,
} from "./src/_format.ts";
import { parseArgs, ParseArgsError } from "./src/_args.ts";
import { dirname, isAbsolute, resolve } from "./src/_path.ts";

const USAGE =
  `loops ${cfg.version}: the registry of agent loops in a workspace (.ralph/loops.json)

USAGE:
  loops [--workspace DIR] <command> [options]

COMMANDS:
  list [--json]                       Table of loops; --json prints a JSON array
  get ID [--json]                     One loop; exit 1 when not found
  register --pid PID --prompt P [--worktree DIR] [--id ID]
                                      Register a loop for a running process; prints the id
  deregister (ID | --pid PID)         Remove a loop; exit 1 when not found
  clean                               Remove dead and orphan entries; prints how many
  run [--prompt P] [--worktree DIR] [--id ID] -- CMD [ARGS...]
                                      Run CMD as a registered loop
  stop ID [--signal NAME] [--timeout SECONDS] [--force]
                                      Signal a loop and wait for it to exit
  watch [--json]                      Live view until Ctrl+C
  repair                              Move a corrupt registry aside and start empty
  help [COMMAND]                      Show help

OPTIONS:
  -w, --workspace DIR   Workspace root (default: nearest ancestor holding .ralph/, else .)
  -h, --help            Show help
  -V, --version         Show version

EXIT CODES:
  0 ok, 1 failure or not found, 2 usage error, 130 interrupted`;

const HELP: Record<string, string> = {
  list: `USAGE:
  loops list [--json]

Lists the loops: ID  STATUS  PID  AGE  WORKTREE  PROMPT. STATUS is running,
orphan (alive, worktree gone) or unknown (liveness cannot be checked). Dead
entries are left out (and removed when the file is writable).

OPTIONS:
  --json   Print a JSON array of entries (the file's fields plus status)`,
  get: `USAGE:
  loops get ID [--json]

Shows one loop. Exits 1 when no live loop has this id.

OPTIONS:
  --json   Print the entry as a JSON object`,
  register: `USAGE:
  loops register --pid PID --prompt P [--worktree DIR] [--id ID]

Registers a loop for a running process, e.g. a shell's $$ (the CLI's own pid
would be dead at once). Prints the id.

OPTIONS:
  --pid PID        The loop's process (required)
  --prompt P       The prompt or task (required)
  --worktree DIR   The loop's git worktree
  --id ID          The id (default: loop-<unix seconds>-<4 hex>)`,
  deregister: `USAGE:
  loops deregister ID
  loops deregister --pid PID

Removes a loop by id, or every loop of a process. Exits 1 when not found.`,
  clean: `USAGE:
  loops clean

Removes entries whose process is dead and orphans (alive, worktree gone).
Entries whose liveness cannot be checked are kept. Prints how many were removed.`,
  run: `USAGE:
  loops run [--prompt P] [--worktree DIR] [--id ID] -- CMD [ARGS...]

Runs CMD with inherited stdio as a registered loop. CMD gets LOOPS_ID and
LOOPS_WORKSPACE in its environment; SIGINT, SIGTERM and SIGHUP are forwarded to
it. When it ends, the entry is removed and loops exits with its exit code (or
128+N when it died of signal N).

OPTIONS:
  --prompt P       The prompt or task (default: the command line)
  --worktree DIR   The loop's git worktree
  --id ID          The id (default: loop-<unix seconds>-<4 hex>)`,
  stop: `USAGE:
  loops stop ID [--signal NAME] [--timeout SECONDS] [--force]

Sends SIGTERM (or --signal) to the loop's process, waits up to --timeout
seconds (default 5) for it to exit, then with --force sends SIGKILL. Removes the
entry once the process is gone; exits 1 when it is still alive. Never signals
pid 0 or 1, itself, or a process whose identity does not match the entry.

OPTIONS:
  --signal NAME       Signal to send first, e.g. SIGINT, TERM or 2 (default SIGTERM)
  --timeout SECONDS   How long to wait for the process to exit (default 5)
  --force             Send SIGKILL when it is still alive after the timeout`,
  watch: `USAGE:
  loops watch [--json]

Shows the loops and redraws when the registry changes or a loop's liveness
changes (checked every 2 s), until Ctrl+C (exit 130).

OPTIONS:
  --json   Print one JSON array per line on each change`,
  repair: `USAGE:
  loops repair

Moves a corrupt registry aside to .ralph/loops.json.corrupt-<time> and starts an
empty one. A healthy registry is left alone.`,
  help: `USAGE:
  loops help [COMMAND]`,
};

/** A usage error: exit 2 with a hint to run `--help`. */
class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure already explained: exit 1 with this message. */
class Failure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Failure";
  }
}

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGWINCH: 28,
};

function parseSignal(value: string): Deno.Signal {
  const upper = value.toUpperCase();
  const name = /^\d+$/.test(value)
    ? Object.keys(SIGNAL_NUMBERS).find((n) =>
      SIGNAL_NUMBERS[n] === Number(value)
    )
    : upper.startsWith("SIG")
    ? upper
    : `SIG${upper}`;
  if (name === undefined || !(name in SIGNAL_NUMBERS)) {
    throw new UsageError(
      `Cannot use signal ${JSON.stringify(value)} as it is not one of ${
        Object.keys(SIGNAL_NUMBERS).join(", ")
      }`,
    );
  }
  return name as Deno.Signal;
}

function parsePid(value: string | undefined, option: string): number {
  if (value === undefined) {
    throw new UsageError(`Missing required option ${option}`);
  }
  const pid = /^\d{1,8}$/.test(value) ? Number(value) : NaN;
  if (!isValidPid(pid)) {
    throw new UsageError(
      `Cannot use ${option} as it must be an integer from 1 to ${MAX_PID}: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return pid;
}

function parseTimeout(value: string | undefined): number {
  if (value === undefined) return 5;
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= 0 && seconds <= 86400)) {
    throw new UsageError(
      `Cannot use --timeout as it must be a number of seconds from 0 to 86400: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return seconds;
}

function absolute(path: string): string {
  return isAbsolute(path) ? path : resolve(path);
}

function positionalsExactly(
  positionals: string[],
  count: number,
  what: string,
): void {
  if (positionals.length < count) throw new UsageError(`Missing ${what}`);
  if (positionals.length > count) {
    throw new UsageError(
      `Unexpected argument ${JSON.stringify(positionals[count])}`,
    );
  }
}

/** What a command needs from the outside world; real by default. */
interface Io {
  out(text: string): void;
  err(text: string): void;
  color: boolean;
  columns: number | undefined;
}

function realIo(): Io {
  const terminal = Deno.stdout.isTerminal();
  let columns: number | undefined;
  if (terminal) {
    try {
      columns = Deno.consoleSize().columns;
    } catch {
      columns = undefined;
    }
  }
  return {
    // deno-lint-ignore no-console
    out: (text) => console.log(text),
    // deno-lint-ignore no-console
    err: (text) => console.error(text),
    color: terminal && !Deno.noColor,
    columns,
  };
}

function printLoops(
  io: Io,
  loops: LoopInfo[],
  json: boolean,
  workspace: string,
) {
  if (json) {
    io.out(stringifyJson(loops.map(toJson)));
  } else if (loops.length === 0) {
    io.out(`No loops registered in ${escapeText(workspace)}`);
  } else {
    io.out(
      formatTable(loops, {
        color: io.color,
        columns: io.columns,
        now: new Date(),
      }),
    );
  }
}

type Command = (
  args: string[],
  registry: LoopRegistry,
  io: Io,
) => Promise<number>;

const jsonOption = { json: { type: "boolean" } } as const;

const commands: Record<string, Command> = {
  async list(args, registry, io) {
    const { values, positionals } = parseArgs(args, jsonOption);
    positionalsExactly(positionals, 0, "");
    printLoops(
      io,
      await registry.list(),
      values.json ?? false,
      registry.workspace,
    );
    return 0;
  },

  async get(args, registry, io) {
    const { values, positionals } = parseArgs(args, jsonOption);
    positionalsExactly(positionals, 1, "loop ID");
    const id = positionals[0]!;
    const loop = await registry.get(id);
    if (loop === undefined) throw new LoopNotFoundError(id, registry.path);
    io.out(
      values.json
        ? stringifyJson(toJson(loop))
        : formatDetail(loop, new Date()),
    );
    return 0;
  },

  async register(args, registry, io) {
    const { values, positionals } = parseArgs(args, {
      pid: { type: "string" },
      prompt: { type: "string" },
      worktree: { type: "string" },
      id: { type: "string" },
    });
    positionalsExactly(positionals, 0, "");
    const pid = parsePid(values.pid, "--pid");
    if (values.prompt === undefined) {
      throw new UsageError("Missing required option --prompt");
    }
    if (values.id !== undefined) checkId(values.id);
    const entry = createLoopEntry(values.prompt, {
      id: values.id,
      pid,
      workspace: registry.workspace,
      worktreePath: values.worktree === undefined
        ? undefined
        : absolute(values.worktree),
    });
    io.out(escapeText(await registry.register(entry)));
    return 0;
  },

  async deregister(args, registry, io) {
    const { values, positionals } = parseArgs(args, {
      pid: { type: "string" },
    });
    if (values.pid !== undefined) {
      positionalsExactly(positionals, 0, "");
      const pid = parsePid(values.pid, "--pid");
      if (!(await registry.deregisterPid(pid))) {
        throw new Failure(
          `Cannot find a loop of pid ${pid} in registry "${registry.path}"`,
        );
      }
      io.out(`Deregistered the loops of pid ${pid}`);
      return 0;
    }
    positionalsExactly(positionals, 1, "loop ID or --pid PID");
    await registry.deregister(positionals[0]!);
    io.out(`Deregistered ${escapeText(positionals[0]!)}`);
    return 0;
  },

  async clean(args, registry, io) {
    const { positionals } = parseArgs(args);
    positionalsExactly(positionals, 0, "");
    const removed = await registry.cleanStale();
    io.out(`Removed ${removed} stale ${removed === 1 ? "entry" : "entries"}`);
    return 0;
  },

  async repair(args, registry, io) {
    const { positionals } = parseArgs(args);
    positionalsExactly(positionals, 0, "");
    const aside = await registry.repair();
    io.out(
      aside === undefined
        ? `Registry "${
          escapeText(registry.path)
        }" is healthy: nothing to repair`
        : `Moved the corrupt registry to "${
          escapeText(aside)
        }" and started an empty one`,
    );
    return 0;
  },

  async run(args, registry, io) {
    const split = args.indexOf("--");
    const own = split < 0 ? args : args.slice(0, split);
    const { values, positionals } = parseArgs(own, {
      prompt: { type: "string" },
      worktree: { type: "string" },
      id: { type: "string" },
    });
    const command = split < 0
      ? positionals
      : [...positionals, ...args.slice(split + 1)];
    if (command.length === 0) {
      throw new UsageError("Missing the command to run after --");
    }
    if (values.id !== undefined) checkId(values.id);
    return await runLoop(registry, io, command, values);
  },

  async stop(args, registry, io) {
    const { values, positionals } = parseArgs(args, {
      signal: { type: "string" },
      timeout: { type: "string" },
      force: { type: "boolean" },
    });
    positionalsExactly(positionals, 1, "loop ID");
    const signal = parseSignal(values.signal ?? "SIGTERM");
    const timeout = parseTimeout(values.timeout);
    return await stopLoop(
      registry,
      io,
      positionals[0]!,
      signal,
      timeout,
      values.force ?? false,
    );
  },

  async watch(args, registry, io) {
    const { values, positionals } = parseArgs(args, jsonOption);
    positionalsExactly(positionals, 0, "");
    const controller = new AbortController();
    let interrupted = false;
    const onInterrupt = () => {
      interrupted = true;
      controller.abort();
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
    try {
      for await (const loops of registry.watch({ signal: controller.signal })) {
        if (values.json) {
          io.out(stringifyJson(loops.map(toJson)));
        } else {
          if (io.color) io.out("\x1b[H\x1b[2J");
          printLoops(io, loops, false, registry.workspace);
          io.out(`\nWatching ${escapeText(registry.path)} (Ctrl+C to stop)`);
        }
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
    }
    return interrupted ? 130 : 0;
  },
};

function checkId(id: string): void {
  if (!isValidLoopId(id)) {
    throw new UsageError(
      `Cannot use --id as it must have 1 to 256 characters and no control characters: current value is ${
        JSON.stringify(id)
      }`,
    );
  }
}

async function runLoop(
  registry: LoopRegistry,
  io: Io,
  command: string[],
  options: { prompt?: string; worktree?: string; id?: string },
): Promise<number> {
  const entryId = options.id ?? generateLoopId();
  // Fail before spawning when the registry cannot be used (corrupt file,
  // missing permission, taken id), rather than start a loop and kill it.
  if (await registry.get(entryId) !== undefined) {
    throw new Deno.errors.AlreadyExists(
      `Cannot run loop ${
        JSON.stringify(entryId)
      } as that id is taken by a live loop: choose another --id`,
    );
  }
  const dir = dirname(registry.path);
  if (
    Deno.permissions.querySync({ name: "write", path: dir }).state !==
      "granted"
  ) {
    throw new Deno.errors.NotCapable(
      `Cannot register the loop as write access is not granted: run again with --allow-write=${dir}`,
    );
  }
  let child: Deno.ChildProcess;
  const forwarded: [Deno.Signal, () => void][] = [];
  try {
    child = new Deno.Command(command[0]!, {
      args: command.slice(1),
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
      env: {
        LOOPS_ID: entryId,
        LOOPS_WORKSPACE: registry.workspace,
      },
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Failure(
        `Cannot run ${JSON.stringify(command[0])} as it was not found on PATH`,
      );
    }
    throw error;
  }
  // Forward signals at once, before registering, so none is lost.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const forward = () => {
      try {
        child.kill(signal);
      } catch {
        // The child already exited: nothing to forward to.
      }
    };
    Deno.addSignalListener(signal, forward);
    forwarded.push([signal, forward]);
  }
  let id: string | undefined;
  try {
    const entry = createLoopEntry(options.prompt ?? command.join(" "), {
      id: entryId,
      pid: child.pid,
      workspace: registry.workspace,
      worktreePath: options.worktree === undefined
        ? undefined
        : absolute(options.worktree),
    });
    try {
      id = await registry.register(entry);
    } catch (error) {
      child.kill("SIGTERM");
      await child.status;
      throw error;
    }
    // Deno reports a child killed by signal N with code 128 + N, as shells do.
    return (await child.status).code;
  } finally {
    for (const [signal, forward] of forwarded) {
      Deno.removeSignalListener(signal, forward);
    }
    if (id !== undefined) {
      try {
        await registry.deregister(id);
      } catch (error) {
        if (!(error instanceof LoopNotFoundError)) {
          io.err(`loops: ${escapeText(message(error))}`);
        }
      }
    }
  }
}

function send(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch (error) {
    // It exited between the check and the signal: that is what we wanted.
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function stopLoop(
  registry: LoopRegistry,
  io: Io,
  id: string,
  signal: Deno.Signal,
  timeoutSeconds: number,
  force: boolean,
): Promise<number> {
  const shown = escapeText(JSON.stringify(id));
  const check = async () => {
    const loop = await registry.inspect(id);
    if (loop === undefined) throw new LoopNotFoundError(id, registry.path);
    if (!isValidPid(loop.pid) || loop.pid < 2) {
      throw new Failure(
        `Refusing to signal loop ${shown} as its pid ${loop.pid} would address the init process or a process group`,
      );
    }
    if (loop.pid === Deno.pid) {
      throw new Failure(
        `Refusing to signal loop ${shown} as its pid ${loop.pid} is this process`,
      );
    }
    if (loop.reason === "pid-reused") {
      throw new Failure(
        `Refusing to signal loop ${shown} as pid ${loop.pid} now belongs to another process (its start time differs from the registered one); run 'loops clean' to drop the entry`,
      );
    }
    if (loop.reason === "no-permission") {
      throw new Failure(
        `Cannot check loop ${shown} as run access is not granted: run again with --allow-run (or -A to also verify the process identity)`,
      );
    }
    if (
      loop.identity !== undefined && loop.reason !== "verified" &&
      loop.liveness === "alive"
    ) {
      throw new Failure(
        `Refusing to signal loop ${shown} as the identity of pid ${loop.pid} cannot be verified: run with -A (Deno guards /proc)`,
      );
    }
    return loop;
  };
  const gone = async () => {
    try {
      await registry.deregister(id);
    } catch (error) {
      if (!(error instanceof LoopNotFoundError)) throw error;
    }
  };
  const first = await check();
  if (first.liveness === "dead") {
    await gone();
    io.out(
      `Loop ${shown} (pid ${first.pid}) had already exited; entry removed`,
    );
    return 0;
  }
  // Polls the process, not the registry: its identity was verified above,
  // so "dead" here also covers its pid being reused meanwhile.
  const waitGone = async (seconds: number) => {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      if (explainProcess(first.pid, first.identity).liveness === "dead") {
        return true;
      }
      if (Date.now() >= deadline) return false;
      await sleep(50);
    }
  };
  send(first.pid, signal);
  if (await waitGone(timeoutSeconds)) {
    await gone();
    io.out(`Stopped loop ${shown} (pid ${first.pid}) with ${signal}`);
    return 0;
  }
  if (!force) {
    throw new Failure(
      `Loop ${shown} (pid ${first.pid}) is still alive ${timeoutSeconds} s after ${signal}: use --force to send SIGKILL`,
    );
  }
  const again = await check();
  if (again.liveness !== "dead") send(again.pid, "SIGKILL");
  if (await waitGone(5)) {
    await gone();
    io.out(`Killed loop ${shown} (pid ${first.pid}) with SIGKILL`);
    return 0;
  }
  throw new Failure(
    `Loop ${shown} (pid ${first.pid}) is still alive after SIGKILL`,
  );
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A failed system call (a bad path, ...): its message says what failed. */
function isOsError(error: unknown): boolean {
  return error instanceof Error &&
    /^E[A-Z0-9]+$/.test(String((error as { code?: unknown }).code));
}

function isUsage(error: unknown): boolean {
  return error instanceof UsageError || error instanceof ParseArgsError;
}

interface GlobalArgs {
  workspace?: string;
  help: boolean;
  version: boolean;
  command?: string;
  rest: string[];
}

function parseGlobal(args: string[]): GlobalArgs {
  const result: GlobalArgs = { help: false, version: false, rest: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-h" || arg === "--help") result.help = true;
    else if (arg === "-V" || arg === "--version") result.version = true;
    else if (arg === "-w" || arg === "--workspace") {
      const value = args[++i];
      if (value === undefined || value === "") {
        throw new UsageError("Option --workspace needs a directory");
      }
      result.workspace = value;
    } else if (arg.startsWith("--workspace=")) {
      result.workspace = arg.slice("--workspace=".length);
      if (result.workspace === "") {
        throw new UsageError("Option --workspace needs a directory");
      }
    } else if (arg.startsWith("-")) {
      throw new UsageError(
        `Unknown option ${JSON.stringify(arg)} before the command`,
      );
    } else {
      result.command = arg;
      result.rest = args.slice(i + 1);
      break;
    }
  }
  return result;
}

/**
 * Runs the `loops` command line.
 *
 * @param args The arguments, without the program name.
 * @returns The exit code: 0 ok, 1 failure, 2 usage error, 130 interrupted.
 *
 * @example Print the version
 * ```ts ignore
 * import { main } from "@loops/registry/cli";
 *
 * const code = await main(["--version"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const io = realIo();
  try {
    const global = parseGlobal(args);
    if (global.version) {
      io.out(`loops ${cfg.version}`);
      return 0;
    }
    if (global.command === "help") {
      const topic = global.rest[0];
      if (topic !== undefined && !Object.hasOwn(HELP, topic)) {
        throw new UsageError(`Unknown command ${JSON.stringify(topic)}`);
      }
      io.out(topic === undefined ? USAGE : HELP[topic]!);
      return 0;
    }
    if (global.command === undefined) {
      if (global.help) {
        io.out(USAGE);
        return 0;
      }
      throw new UsageError("Missing command");
    }
    const command = commands[global.command];
    if (command === undefined || !Object.hasOwn(commands, global.command)) {
      throw new UsageError(
        `Unknown command ${JSON.stringify(global.command)}`,
      );
    }
    const split = global.rest.indexOf("--");
    const own = split < 0 ? global.rest : global.rest.slice(0, split);
    if (global.help || own.includes("--help") || own.includes("-h")) {
      io.out(HELP[global.command]!);
      return 0;
    }
    const workspace = global.workspace === undefined
      ? findWorkspace(Deno.cwd())
      : absolute(global.workspace);
    return await command(global.rest, new LoopRegistry(workspace), io);
  } catch (error) {
    if (isUsage(error)) {
      io.err(
        `loops: ${
          message(error).split("\n").map(escapeText).join(" ")
        }\nRun 'loops --help' for usage.`,
      );
      return 2;
    }
    if (
      error instanceof Failure || error instanceof LoopNotFoundError ||
      error instanceof CorruptRegistryError ||
      error instanceof LockTimeoutError ||
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.AlreadyExists ||
      error instanceof Deno.errors.PermissionDenied ||
      error instanceof Deno.errors.NotFound || error instanceof RangeError ||
      isOsError(error)
    ) {
      io.err(`loops: ${escapeText(message(error))}`);
      return 1;
    }
    io.err(
      `loops: ${
        escapeText(message(error))
      }\n(unexpected error: please report it with the command you ran)`,
    );
    const debug = Deno.permissions.querySync({
          name: "env",
          variable: "LOOPS_DEBUG",
        }).state === "granted" && Deno.env.get("LOOPS_DEBUG");
    if (debug) io.err(String((error as Error)?.stack));
    return 1;
  }
}

if (import.meta.main) Deno.exitCode = await main(Deno.args);
