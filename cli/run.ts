// `loops run -- CMD`: run a command as a registered loop, forward signals to
// it, deregister it when it ends and exit with its code.
import { guardInspectorSignal } from "../src/_inspector_guard.ts";
import { type Claim, generateLoopId } from "../mod.ts";
import { FORWARDED_SIGNALS } from "../src/_signals.ts";
import { assertWritable } from "./_engine.ts";
import { CliError, UsageError } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import { type CommandContext, defineCommand } from "./_spec.ts";
import { absolute, checkId } from "./_values.ts";
import { ID_OPTION, WORKTREE_OPTION } from "./register.ts";

/** What the loop is registered with. */
interface RunOptions {
  prompt?: string;
  worktree?: string;
  id?: string;
}

/** `loops run [--prompt P] [--worktree DIR] [--id ID] -- CMD [ARGS...]` */
export const runCommand = defineCommand({
  name: "run",
  summary: "Run CMD as a registered loop",
  arguments: [
    { name: "CMD", help: "The command to run", afterDashes: true },
    {
      name: "ARGS",
      help: "Its arguments",
      optional: true,
      variadic: true,
      afterDashes: true,
    },
  ],
  options: {
    prompt: {
      type: "string",
      value: "P",
      help: "The prompt or task (default: the command line)",
    },
    worktree: WORKTREE_OPTION,
    id: ID_OPTION,
  },
  description:
    `Registers the loop, then runs CMD with inherited stdio (and the terminal) and
records CMD's pid in the entry. When the registry cannot be written or the id is
taken, CMD never starts. CMD gets LOOPS_ID and LOOPS_WORKSPACE in its
environment. SIGTERM is forwarded to it; SIGINT and SIGHUP too, except when the
terminal already delivered them (Ctrl+C reaches CMD once). When it ends, the
entry is removed and loops exits with its exit code (128+N when it died of
signal N; 127 when CMD or its #! interpreter is not found, 126 when it cannot
be executed).`,
  async run(context, { values, positionals }) {
    // A long-lived process: close the V8 inspector that SIGUSR1 would open.
    guardInspectorSignal();
    if (positionals.length === 0) {
      throw new UsageError("Missing the command to run after --");
    }
    if (values.id !== undefined) checkId(values.id);
    return await runLoop(context, positionals, values);
  },
});

/** Exit codes of a command that could not start, as shells give them. */
const CANNOT_EXECUTE = 126;
const COMMAND_NOT_FOUND = 127;

/** Where `name` is found on PATH (or `name` itself when it has a slash). */
function which(
  name: string,
  env: CommandContext["io"]["env"],
): string | undefined {
  if (name.includes("/")) return name;
  for (const dir of (env("PATH") ?? "").split(":")) {
    const path = `${dir || "."}/${name}`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not in this directory (or not readable): try the next one.
    }
  }
  return undefined;
}

/** Why a command that exists could not be started: a missing interpreter. */
function interpreterOf(path: string): string | undefined {
  try {
    using file = Deno.openSync(path);
    const head = new Uint8Array(256);
    const n = file.readSync(head) ?? 0;
    const line = new TextDecoder().decode(head.subarray(0, n)).split("\n")[0]!;
    return line.startsWith("#!") ? line.slice(2).trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Spawns `command[0]` with inherited stdio and LOOPS_* in its environment,
 * in this process's group: it keeps the terminal, and Ctrl+C reaches it.
 *
 * @throws {CliError} With exit 127 when it is not found (or its `#!`
 * interpreter is not), 126 when it cannot be executed.
 */
function spawn(
  command: string[],
  env: Record<string, string>,
  io: CommandContext["io"],
): Deno.ChildProcess {
  const name = JSON.stringify(command[0]);
  try {
    return new Deno.Command(command[0]!, {
      args: command.slice(1),
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
      env,
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      const path = which(command[0]!, io.env);
      const interpreter = path === undefined ? undefined : interpreterOf(path);
      throw new CliError(
        interpreter === undefined
          ? `Cannot run ${name} as it was not found on PATH`
          : `Cannot run ${name} as its interpreter ${
            JSON.stringify(interpreter)
          } (its #! line) was not found`,
        { exitCode: COMMAND_NOT_FOUND },
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new CliError(
        `Cannot run ${name} as it is not executable (chmod +x it, or run it through its interpreter)`,
        { exitCode: CANNOT_EXECUTE },
      );
    }
    throw error;
  }
}

/**
 * Whether this process is in its terminal's foreground process group, where
 * the terminal itself delivers Ctrl+C (SIGINT) and a hangup (SIGHUP) to the
 * child too (fields 5 and 8 of /proc/self/stat; needs -A). `false` when it
 * cannot tell: the signal is then forwarded.
 */
function inForeground(): boolean {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pgrp = Number(fields[2]);
    const tpgid = Number(fields[5]);
    return pgrp > 0 && tpgid === pgrp;
  } catch {
    return false;
  }
}

/**
 * Forwards FORWARDED_SIGNALS to `child`, each exactly once: SIGINT and SIGHUP
 * that the terminal already delivered to the foreground group (the child's
 * too) are not sent again. Returns what undoes it.
 */
function forwardSignals(child: Deno.ChildProcess): () => void {
  const forwarded = FORWARDED_SIGNALS.map((signal) => {
    const forward = () => {
      if (signal !== "SIGTERM" && inForeground()) return;
      try {
        child.kill(signal);
      } catch {
        // The child already exited: nothing to forward to.
      }
    };
    Deno.addSignalListener(signal, forward);
    return [signal, forward] as const;
  });
  return () => {
    for (const [signal, forward] of forwarded) {
      Deno.removeSignalListener(signal, forward);
    }
  };
}

async function runLoop(
  { io, registry, workspace }: CommandContext,
  command: string[],
  options: RunOptions,
): Promise<number> {
  assertWritable(registry);
  // Register first, under this process: a registry that cannot be written
  // or an id that is taken means the command never starts, and of two runs
  // racing for one id exactly one gets it.
  const claim = await registry.claim(options.prompt ?? command.join(" "), {
    id: options.id ?? generateLoopId(),
    worktreePath: options.worktree === undefined
      ? undefined
      : absolute(options.worktree, io),
    handleSignals: false,
  });
  let child: Deno.ChildProcess;
  try {
    child = spawn(command, {
      LOOPS_ID: claim.id,
      LOOPS_WORKSPACE: workspace,
    }, io);
  } catch (error) {
    await releaseQuietly(claim, io);
    throw error;
  }
  // Forward signals at once, before anything else can fail.
  const unforward = forwardSignals(child);
  try {
    try {
      await claim.reassign(child.pid);
    } catch (error) {
      // The loop stays registered under this process, which lives as long
      // as the child does: say so, and let the command run.
      io.err(`loops: warning: ${escapeText(message(error))}`);
    }
    // Deno reports a child killed by signal N with code 128 + N, as shells do.
    return (await child.status).code;
  } finally {
    unforward();
    await releaseQuietly(claim, io);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Releases the claim; a failure is only shown (the loop has ended). */
async function releaseQuietly(claim: Claim, io: CommandContext["io"]) {
  try {
    await claim.release();
  } catch (error) {
    io.err(`loops: ${escapeText(message(error))}`);
  }
}
