// `loops stop ID`: signal a loop's process tree, wait for it to exit (then, with
// --force, SIGKILL it) and remove its entry. It never signals pid 0 or 1,
// itself, a process whose identity differs from the registered one, a loop
// of another host or pid namespace, or one whose liveness is unknown.
import {
  explainProcess,
  isValidPid,
  type LoopInspection,
  LoopNotFoundError,
  type ProcessVerdict,
  type Registry,
} from "../mod.ts";
import {
  descendants,
  isRunning,
  startTimeOf,
  type TreeMember,
} from "../src/_process_tree.ts";
import { signalProcess } from "../src/_pidfd.ts";
import { SIGNAL_NUMBERS, type SignalName } from "../src/_signals.ts";
import { stopRefusal } from "./_engine.ts";
import { parseSeconds } from "./_globals.ts";
import { resolveId } from "./_select.ts";
import { CliError, EXIT, UsageError } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import { type CommandContext, defineCommand } from "./_spec.ts";
import { ID_ARGUMENT, positionalsExactly } from "./_values.ts";

/** How to stop a loop. */
export interface StopOptions {
  signal: SignalName;
  timeoutSeconds: number;
  force: boolean;
}

/** `loops stop ID [--signal NAME] [--timeout SECONDS] [--force]` */
export const stopCommand = defineCommand({
  name: "stop",
  summary: "Signal a loop and wait for it to exit",
  arguments: [ID_ARGUMENT],
  forms: [["ID"], ["all"]],
  options: {
    all: {
      type: "boolean",
      help: "Stop every running loop of this host instead of one",
    },
    yes: {
      type: "boolean",
      help: "With --all from a terminal: do it without asking",
    },
    signal: {
      type: "string",
      value: "NAME",
      help: "Signal to send first, e.g. SIGINT, TERM or 2 (default SIGTERM)",
    },
    timeout: {
      type: "string",
      value: "SECONDS",
      help: "How long to wait for the process to exit (default 5)",
    },
    force: {
      type: "boolean",
      help: "Send SIGKILL when it is still alive after the timeout",
    },
  },
  description:
    `Sends SIGTERM (or --signal) to the loop's process and all its descendants
(found in /proc before signalling, each identified by its start time), waits up
to --timeout seconds (default 5) for them to exit, then with --force sends
SIGKILL to what is left. Removes the entry once the loop's process is gone;
fails when a process of the tree is still alive, naming the pids. Never
signals pid 0 or 1, itself, a process whose identity does not match the entry,
or a loop of another host or pid namespace. --all stops every running, orphan
or stale loop of this host (from a terminal, only with --yes).`,
  async run(context, { values, positionals }) {
    const options = {
      signal: parseSignal(values.signal ?? "SIGTERM"),
      timeoutSeconds: parseTimeout(values.timeout),
      force: values.force ?? false,
    };
    if (!values.all) {
      positionalsExactly(positionals, 1, "loop ID");
      const id = await resolveId(context.registry, positionals[0]!);
      return await stopLoop(context, id, options);
    }
    positionalsExactly(positionals, 0, "");
    return await stopAll(context, options, values.yes ?? false);
  },
});

/**
 * `stop --all`: every loop of this host whose status is `running` or
 * `orphan`, or `stale` with its process here (a hung loop is the one most
 * worth stopping), one after the other; never `remote` or `unknown` ones,
 * nor a stale loop of another host. From a terminal it needs `--yes`.
 */
async function stopAll(
  context: CommandContext,
  options: StopOptions,
  yes: boolean,
): Promise<number> {
  const loops = [];
  for (const loop of await context.registry.list()) {
    if (
      loop.status === "running" || loop.status === "orphan" ||
      (loop.status === "stale" && await runsHere(context.registry, loop.id))
    ) loops.push(loop);
  }
  if (loops.length > 0 && !yes && Deno.stdin.isTerminal()) {
    throw new UsageError(
      `Cannot stop all ${loops.length} running loops without --yes: run 'loops stop --all --yes'`,
    );
  }
  let code: number = EXIT.ok;
  for (const loop of loops) {
    try {
      await stopLoop(context, loop.id, options);
    } catch (error) {
      if (!(error instanceof CliError || error instanceof LoopNotFoundError)) {
        throw error;
      }
      context.io.err(`loops: ${escapeText(error.message)}`);
      if (code === EXIT.ok) {
        code = error instanceof CliError ? error.exitCode : EXIT.ok;
      }
    }
  }
  if (loops.length === 0) context.io.out("No running loops to stop");
  return code;
}

/**
 * Whether the loop's process was judged on this host and in this pid
 * namespace (a stale loop is listed `stale` wherever it runs).
 */
async function runsHere(registry: Registry, id: string): Promise<boolean> {
  const loop = await inspectForStop(registry, id);
  return loop !== undefined && loop.liveness === "alive" &&
    loop.reason !== "other-host" && loop.reason !== "other-pid-namespace";
}

/**
 * The loop as `stop` must judge it: a Redis loop whose lease ended while
 * its process runs on here (`outlivedLease`: a hung owner) is that process,
 * to be signalled, not reported gone.
 */
async function inspectForStop(
  registry: Registry,
  id: string,
): Promise<LoopInspection | undefined> {
  const loop = await registry.inspect(id);
  const outlived = (loop as { outlivedLease?: ProcessVerdict } | undefined)
    ?.outlivedLease;
  return outlived === undefined ? loop : { ...loop!, ...outlived };
}

function parseSignal(value: string): SignalName {
  const upper = value.toUpperCase();
  const names = Object.keys(SIGNAL_NUMBERS) as SignalName[];
  const name = /^\d+$/.test(value)
    ? names.find((n) => SIGNAL_NUMBERS[n] === Number(value))
    : upper.startsWith("SIG")
    ? upper
    : `SIG${upper}`;
  if (name === undefined || !Object.hasOwn(SIGNAL_NUMBERS, name)) {
    throw new UsageError(
      `Cannot use signal ${JSON.stringify(value)} as it is not one of ${
        names.join(", ")
      }`,
    );
  }
  return name as SignalName;
}

/** A `--timeout SECONDS` value; `fallback` when absent. */
export function parseTimeout(
  value: string | undefined,
  fallback = 5,
): number {
  return value === undefined ? fallback : parseSeconds(value, "--timeout");
}

/**
 * The entry, if it may be signalled.
 *
 * @throws {CliError} If its pid is 0, 1, negative, this process, reused by
 * another process, of another host or pid namespace, or cannot be checked or
 * verified.
 */
async function signallable(
  registry: Registry,
  id: string,
): Promise<LoopInspection> {
  const shown = escapeText(JSON.stringify(id));
  const loop = await inspectForStop(registry, id);
  if (loop === undefined) throw new LoopNotFoundError(id, registry.location);
  const refuse = (why: string) =>
    new CliError(`Refusing to signal loop ${shown} as ${why}`, {
      exitCode: EXIT.refused,
    });
  if (!isValidPid(loop.pid) || loop.pid < 2) {
    throw refuse(
      `its pid ${loop.pid} would address the init process or a process group`,
    );
  }
  if (loop.pid === Deno.pid) {
    throw refuse(`its pid ${loop.pid} is this process`);
  }
  if (loop.reason === "pid-reused") {
    throw refuse(
      loop.liveness === "dead"
        ? `pid ${loop.pid} now belongs to another process (its start time differs from the registered one); run 'loops clean' to drop the entry`
        : `pid ${loop.pid} now belongs to another process (it started after the loop registered); run 'loops deregister ${
          escapeText(id)
        }' to drop the entry`,
    );
  }
  if (loop.reason === "other-host") {
    const host = loop.origin?.hostname ?? `host id ${loop.origin?.hostId}`;
    throw refuse(
      `it runs on another host, ${
        escapeText(JSON.stringify(host))
      } (its pid means nothing here): stop it there`,
    );
  }
  if (loop.reason === "other-pid-namespace") {
    throw refuse(
      `it runs in another pid namespace of this host (a container; namespace ${loop.origin?.pidNamespace}), where pid ${loop.pid} names another process than here: stop it from inside`,
    );
  }
  if (loop.reason === "no-permission") {
    throw new CliError(
      `Cannot check loop ${shown} as run access is not granted: run again with --allow-run (or -A to also verify the process identity)`,
      { exitCode: EXIT.permission },
    );
  }
  // Whatever the reason, a process that cannot be checked is not signalled.
  if (loop.liveness === "unknown") {
    throw refuse(`its process cannot be checked (${loop.reason})`);
  }
  if (
    loop.identity !== undefined && loop.reason !== "verified" &&
    loop.liveness === "alive"
  ) {
    throw refuse(
      `the identity of pid ${loop.pid} cannot be verified: run with -A (Deno guards /proc)`,
    );
  }
  return loop;
}

/**
 * Signals the process at `pid`. With the start time it was verified by,
 * through a pidfd where one can be used (`signalProcess`): never another
 * process that took the pid meanwhile, and nothing when it is gone (what we
 * wanted). Elsewhere (no FFI or pidfds), by pid as before.
 */
function send(pid: number, signal: SignalName, startTime?: number): void {
  if (
    startTime !== undefined &&
    signalProcess({ pid, startTime }, signal) !== "unavailable"
  ) {
    return;
  }
  try {
    Deno.kill(pid, signal);
  } catch (error) {
    // It exited between the check and the signal: that is what we wanted.
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * The loop's process tree: its process and, where /proc can be read (-A),
 * every descendant, each identified by its start time. Without -A, only the
 * loop's process, judged as before by `explainProcess`.
 */
class LoopTree {
  #loop: LoopInspection;
  #members: TreeMember[];
  #refusal: (pid: number) => string | undefined;

  /**
   * @param loop The verified loop.
   * @param refusal Why a pid must not be signalled (another user's), if so.
   */
  constructor(
    loop: LoopInspection,
    refusal: (pid: number) => string | undefined,
  ) {
    this.#loop = loop;
    this.#refusal = refusal;
    const startTime = loop.identity?.startTime ?? startTimeOf(loop.pid);
    const root = startTime === undefined ? [] : [{ pid: loop.pid, startTime }];
    this.#members = [...root, ...descendants(root)];
  }

  /** Adds what the living members have started since. */
  grow(): void {
    const living = this.living();
    this.#members = [...living, ...descendants(living)];
  }

  /** Whether the loop's own process is gone. */
  loopGone(): boolean {
    if (this.#members.length === 0) {
      return explainProcess(this.#loop.pid, this.#loop.identity).liveness ===
        "dead";
    }
    const root = this.#members.find((m) => m.pid === this.#loop.pid);
    return root === undefined || !isRunning(root);
  }

  /** The members still running (the same pid with the same start time). */
  living(): TreeMember[] {
    return this.#members.filter(isRunning);
  }

  /** Pids still running, the loop's own included. */
  remaining(): number[] {
    if (this.#members.length === 0) {
      return this.loopGone() ? [] : [this.#loop.pid];
    }
    return this.living().map((m) => m.pid);
  }

  /**
   * Signals every running member, the loop's process first; a member this
   * process may not signal (another user's) is skipped and named.
   *
   * @throws {CliError} If the loop's own process may not be signalled.
   */
  signal(signal: SignalName): string[] {
    const members: { pid: number; startTime?: number }[] =
      this.#members.length === 0
        ? (this.loopGone() ? [] : [{ pid: this.#loop.pid }])
        : this.living();
    const skipped: string[] = [];
    for (const { pid, startTime } of members) {
      const refusal = this.#refusal(pid);
      if (refusal === undefined) send(pid, signal, startTime);
      else if (pid === this.#loop.pid) {
        throw new CliError(refusal, { exitCode: EXIT.refused });
      } else skipped.push(refusal);
    }
    return skipped;
  }

  /** Whether every member is gone within `seconds` (polled every 50 ms). */
  async endsWithin(seconds: number): Promise<boolean> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      if (this.remaining().length === 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * Stops one loop (what `loops stop ID` does); also used by `loops serve`.
 *
 * @throws {CliError} If refused or still alive (see `signallable`).
 * @throws {LoopNotFoundError} If no such loop.
 */
export async function stopLoop(
  { io, registry }: Pick<CommandContext, "io" | "registry">,
  id: string,
  options: StopOptions,
): Promise<number> {
  const shown = escapeText(JSON.stringify(id));
  const gone = async () => {
    try {
      await registry.deregister(id);
    } catch (error) {
      if (!(error instanceof LoopNotFoundError)) throw error;
    }
  };
  const { signal, timeoutSeconds } = options;
  const first = await signallable(registry, id);
  const what = `Loop ${shown} (pid ${first.pid})`;
  if (first.liveness === "dead") {
    await gone();
    io.out(`${what} had already exited; entry removed`);
    return EXIT.ok;
  }
  // Snapshot the tree before signalling: once a shell dies its children are
  // reparented, and could no longer be found as the loop's.
  const tree = new LoopTree(first, (pid) => stopRefusal(registry, pid));
  for (const skipped of tree.signal(signal)) {
    io.err(`loops: ${escapeText(skipped)}`);
  }
  const left = (pids: number[]) => `pids ${pids.join(", ")} still running`;
  if (await tree.endsWithin(timeoutSeconds)) {
    await gone();
    io.out(`Stopped loop ${shown} (pid ${first.pid}) with ${signal}`);
    return EXIT.ok;
  }
  if (tree.loopGone()) await gone();
  if (!options.force) {
    throw new CliError(
      `${what} is still alive ${timeoutSeconds} s after ${signal} (${
        left(tree.remaining())
      }): use --force to send SIGKILL`,
      { exitCode: EXIT.timeout },
    );
  }
  if (!tree.loopGone()) await signallable(registry, id);
  tree.grow();
  for (const skipped of tree.signal("SIGKILL")) {
    io.err(`loops: ${escapeText(skipped)}`);
  }
  if (await tree.endsWithin(5)) {
    await gone();
    io.out(`Killed loop ${shown} (pid ${first.pid}) with SIGKILL`);
    return EXIT.ok;
  }
  throw new CliError(
    `${what} is still alive after SIGKILL (${left(tree.remaining())})`,
    { exitCode: EXIT.timeout },
  );
}
