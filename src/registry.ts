// The registry interface: what every storage engine offers. The CLI, the
// examples and the contract test suite see only this; the file engine
// (LoopRegistry) implements it, and a later engine plugs in beside it.
import type { LoopEntry, LoopInfo } from "./loop_entry.ts";
import type { ProcessVerdict } from "./process.ts";

/** Options for {@linkcode Registry.prototype.watch}. */
export interface WatchOptions {
  /**
   * Ends the watch when aborted.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * How often liveness is re-checked, in milliseconds.
   *
   * @default {2000}
   */
  intervalMs?: number;
}

/** An entry with its full liveness verdict, from `inspect`. */
export interface LoopInspection extends LoopEntry, ProcessVerdict {}

/** Options for {@linkcode Registry.prototype.claim}. */
export interface ClaimOptions {
  /**
   * The loop id.
   *
   * @default {generateLoopId()}
   */
  id?: string;
  /**
   * The process the loop runs in, e.g. a child this process started.
   *
   * @default {Deno.pid}
   */
  pid?: number;
  /**
   * The loop's git worktree.
   *
   * @default {undefined}
   */
  worktreePath?: string;
  /**
   * Deregister on SIGINT and SIGTERM (then exit with 130 or 143) and on the
   * `unload` event.
   *
   * @default {true}
   */
  handleSignals?: boolean;
}

/**
 * What a heartbeat learnt of a claimed loop's registration.
 *
 * - `renewed`: the registration is still this claim's (an engine with leases
 *   has extended the lease).
 * - `lost`: the registration is gone (cleaned, deregistered by someone else,
 *   or its lease expired).
 * - `taken-over`: the id now names another registration.
 */
export type HeartbeatResult = "renewed" | "lost" | "taken-over";

/**
 * A loop registered by {@linkcode Registry.prototype.claim}, deregistered
 * when released or disposed (`await using`).
 *
 * @example Claim and release through the interface
 * ```ts
 * import { type Claim, LoopRegistry, type Registry } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const workspace = await Deno.makeTempDir();
 * const registry: Registry = new LoopRegistry(workspace);
 * const claim: Claim = await registry.claim("task", { handleSignals: false });
 * assert.equal(await claim.heartbeat(), "renewed");
 * const child = new Deno.Command("sleep", { args: ["5"] }).spawn();
 * await claim.reassign(child.pid);
 * assert.equal((await registry.get(claim.id))?.pid, child.pid);
 * child.kill();
 * await child.status;
 * assert.equal(await claim.release(), true);
 * assert.equal(await claim.heartbeat(), "lost");
 * await Deno.remove(workspace, { recursive: true });
 * ```
 */
export interface Claim extends AsyncDisposable {
  /** The loop id. */
  readonly id: string;
  /** The registered entry. */
  readonly entry: LoopEntry;
  /**
   * Checks (and, for an engine with leases, renews) the registration.
   *
   * @returns Whether the registration is still this claim's.
   */
  heartbeat(): Promise<HeartbeatResult>;
  /**
   * Moves the registration to process `pid`, e.g. a child this process has
   * just started, in one atomic change: the id stays, the entry now names
   * `pid` (with its identity), and `started` becomes now. `loops run` claims
   * under its own pid, starts the command, then reassigns, so that a command
   * never runs unregistered.
   *
   * @param pid The process that now runs the loop.
   * @throws {LoopNotFoundError} If the registration is gone.
   * @throws {LoopIdTakenError} If its id now names another registration.
   * @throws {RangeError} If `pid` is not a valid pid.
   */
  reassign(pid: number): Promise<void>;
  /**
   * Deregisters the loop. Safe to call more than once.
   *
   * @returns Whether the entry was still registered and is now removed.
   */
  release(): Promise<boolean>;
}

/**
 * The registry of agent loops, whatever stores it: the operations every
 * engine offers. {@linkcode LoopRegistry} keeps it in a workspace's
 * `.ralph/loops.json`; code written against this interface (the `loops` CLI
 * among it) works with any engine.
 *
 * Errors every engine uses: `LoopNotFoundError` (no such id),
 * `LoopIdTakenError` (a live loop holds the id), `LockTimeoutError`,
 * `CorruptRegistryError`, and `Deno.errors.NotCapable` naming a missing
 * permission flag.
 *
 * @example Code that takes any engine
 * ```ts
 * import { createLoopEntry, LoopRegistry, type Registry } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * async function running(registry: Registry): Promise<string[]> {
 *   return (await registry.list())
 *     .filter((loop) => loop.status === "running")
 *     .map((loop) => loop.id);
 * }
 *
 * const workspace = await Deno.makeTempDir();
 * const registry = new LoopRegistry(workspace);
 * const id = await registry.register(createLoopEntry("fix bug", { workspace }));
 * assert.deepEqual(await running(registry), [id]);
 * await registry.close();
 * await Deno.remove(workspace, { recursive: true });
 * ```
 */
export interface Registry {
  /**
   * Where the registry lives, for messages: a file path, or a server's
   * address without credentials.
   */
  readonly location: string;
  /**
   * Registers a loop; replaces any entry of the same pid.
   *
   * @param entry The loop, e.g. from `createLoopEntry`.
   * @returns The entry's id.
   * @throws {LoopIdTakenError} If a live loop has the same id.
   */
  register(entry: LoopEntry): Promise<string>;
  /**
   * Removes the loop with this id.
   *
   * @param id The loop id.
   * @throws {LoopNotFoundError} If no loop has this id.
   */
  deregister(id: string): Promise<void>;
  /**
   * Removes every loop of process `pid`.
   *
   * @param pid The process id.
   * @returns Whether a loop of `pid` was removed.
   */
  deregisterPid(pid: number): Promise<boolean>;
  /**
   * One loop with its status.
   *
   * @param id The loop id.
   * @returns The loop, or `undefined` when absent or proven dead.
   */
  get(id: string): Promise<LoopInfo | undefined>;
  /**
   * The loops with their status; proven-dead ones are left out.
   *
   * @returns The loops.
   */
  list(): Promise<LoopInfo[]>;
  /**
   * One entry with its full liveness verdict and reason, dead or not;
   * changes nothing.
   *
   * @param id The loop id.
   * @returns The entry with `liveness` and `reason`, or `undefined`.
   */
  inspect(id: string): Promise<LoopInspection | undefined>;
  /**
   * Removes proven-dead loops and orphans; keeps what cannot be proven dead.
   *
   * @returns How many entries were removed.
   */
  cleanStale(): Promise<number>;
  /**
   * Registers a loop and returns a handle that deregisters it when released.
   *
   * @param prompt The prompt or task of the loop.
   * @param options The id, pid, worktree and signal handling.
   * @returns The claim.
   * @throws {LoopIdTakenError} If a live loop has the same id.
   */
  claim(prompt: string, options?: ClaimOptions): Promise<Claim>;
  /**
   * The list of loops at once, then again after each change, until `signal`
   * aborts.
   *
   * @param options An abort signal and the liveness refresh interval.
   * @returns An async iterable of loop lists.
   */
  watch(options?: WatchOptions): AsyncIterable<LoopInfo[]>;
  /**
   * Moves a corrupt registry aside and starts an empty one, for engines
   * whose store can be corrupt (absent otherwise).
   *
   * @returns Where the bad data went, or `undefined` when it was healthy.
   */
  repair?(): Promise<string | undefined>;
  /** Releases what the handle holds (connections); a no-op for files. */
  close(): Promise<void>;
}
