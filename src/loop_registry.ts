import { WRITE_HOOK, type WriteHook } from "./_durable_write.ts";
import { registryPaths } from "./_files.ts";
import * as op from "./_operations.ts";
import { isAbsolute, resolve } from "./_path.ts";
import { repair } from "./_repair.ts";
import { runAsync, runSync } from "./_step.ts";
import { privateByEnv, trustedByEnv } from "./_trust.ts";
import { watchFiles } from "./_watch.ts";
import { type ClaimOps, FileClaim } from "./_file_claim.ts";
import type { LoopClaim } from "./loop_claim.ts";
import {
  createLoopEntry,
  type LoopEntry,
  type LoopInfo,
} from "./loop_entry.ts";
import type {
  ClaimOptions,
  LoopInspection,
  Registry,
  WatchOptions,
} from "./registry.ts";
import { defaultRegistryEnv, type RegistryEnv } from "./registry_env.ts";

/** Options for {@linkcode LoopRegistry}. */
export interface LoopRegistryOptions {
  /**
   * How long a call waits for the registry lock before it throws
   * `LockTimeoutError`, in milliseconds.
   *
   * @default {10000}
   */
  lockTimeoutMs?: number;
  /**
   * Liveness and file-system probes.
   *
   * @default {defaultRegistryEnv}
   */
  env?: RegistryEnv;
  /**
   * Trust this workspace's registry whoever owns it and whatever its mode,
   * like git's `safe.directory`. By default a change (or a signal, see
   * `mayStop`) is refused with `UntrustedRegistryError` when
   * `.ralph/`, its files or a directory above it is owned by a user other
   * than the caller (root counts as trusted; root may act in any user's
   * `.ralph/`, whose owner must then own the rest) or is writable by group
   * or others (a sticky directory, or a group that is its owner's private
   * group, is fine). Reads work either way. Trusting does not turn off the
   * descriptor checks: nothing is ever written through a link or to a
   * swapped file. See docs/security.md.
   *
   * Reading `LOOPS_TRUST` needs `--allow-env=LOOPS_TRUST`.
   *
   * @default {true when the environment variable `LOOPS_TRUST` (a
   * colon-separated list of absolute paths, or `*`) names this workspace or
   * its `.ralph`, else false}
   */
  trusted?: boolean;
  /**
   * Create new registry files 0600 and `.ralph/` 0700, instead of ralph's
   * `0666 & ~umask` and `0777 & ~umask` (which let other users of a shared
   * workspace list its loops). Existing files keep their mode.
   *
   * Reading `LOOPS_PRIVATE` needs `--allow-env=LOOPS_PRIVATE`.
   *
   * @default {true when the environment variable `LOOPS_PRIVATE` is `1`,
   * `true` or `yes`, else false}
   */
  privateFiles?: boolean;
}

function openStore(
  workspace: string | URL,
  options: LoopRegistryOptions,
): op.Store {
  if (workspace instanceof URL && workspace.protocol !== "file:") {
    throw new TypeError(
      `Cannot open a registry as the workspace URL is not a file: URL: current value is "${workspace.href}"`,
    );
  }
  const path = workspace instanceof URL
    ? decodeURIComponent(workspace.pathname)
    : workspace;
  const timeoutMs = options.lockTimeoutMs ?? 10_000;
  if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
    throw new RangeError(
      `Cannot create registry as lockTimeoutMs must be a number >= 0: current value is ${timeoutMs}`,
    );
  }
  const root = isAbsolute(path) ? path : resolve(path);
  return {
    paths: registryPaths(root, {
      trusted: options.trusted ?? trustedByEnv(root),
      privateFiles: options.privateFiles ?? privateByEnv(),
    }),
    timeoutMs,
    env: options.env ?? defaultRegistryEnv,
    hook: (options as { [WRITE_HOOK]?: WriteHook })[WRITE_HOOK],
  };
}

/**
 * The registry of agent loops in one workspace: `<workspace>/.ralph/loops.json`,
 * the file ralph-orchestrator keeps, read and written compatibly with it.
 * The file engine of the {@linkcode Registry} interface.
 *
 * Every change holds an exclusive `flock` on `loops.json`, so this module and
 * ralph's Rust code exclude each other. Changes are crash-safe (a process
 * killed at any instant loses no acknowledged change) and fsynced before they
 * return. Reads take a shared lock and write nothing unless dead entries must
 * be cleaned and write permission is granted.
 *
 * File work uses synchronous calls (a change costs about one fsync); the
 * async methods yield to the event loop only while waiting for the lock. Each
 * async method but `watch` has a sync twin (`registerSync`, ...) for exit
 * and signal handlers.
 *
 * Permissions: reads need `--allow-read=<workspace>/.ralph`; changes also
 * `--allow-write=<workspace>/.ralph`. Probing other processes needs
 * `--allow-run` (without it their status is `unknown` and they are never
 * cleaned). Detecting reused pids and zombies needs `-A` (Deno guards
 * `/proc`); without it the signal probe alone is used.
 *
 * Every method may throw `LockTimeoutError` (the lock stayed held past
 * `lockTimeoutMs`), `CorruptRegistryError` (the file is not a registry; its
 * bytes are left untouched) and `Deno.errors.NotCapable` (a permission is
 * missing; the message names the flag). Changes also throw
 * `UntrustedRegistryError` for a registry someone else could have written
 * (see the `trusted` option); reads of it still work.
 *
 * @example Register, list and deregister a loop
 * ```ts
 * import { createLoopEntry, LoopRegistry } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const workspace = await Deno.makeTempDir();
 * const registry = new LoopRegistry(workspace);
 * const id = await registry.register(
 *   createLoopEntry("implement auth", { workspace }),
 * );
 * const [loop] = await registry.list();
 * assert.equal(loop?.id, id);
 * assert.equal(loop?.status, "running");
 * await registry.deregister(id);
 * assert.deepEqual(await registry.list(), []);
 * await Deno.remove(workspace, { recursive: true });
 * ```
 */
export class LoopRegistry implements Registry {
  #store: op.Store;

  /**
   * Constructs a registry handle; touches nothing on disk. A relative
   * `workspace` is resolved against the current directory (`--allow-read`).
   *
   * @param workspace The workspace root (the folder that holds `.ralph/`).
   * @param options Lock timeout and liveness probes.
   * @throws {RangeError} If `lockTimeoutMs` is negative or not a number.
   * @throws {TypeError} If `workspace` is a URL other than a `file:` URL.
   */
  constructor(workspace: string | URL, options: LoopRegistryOptions = {}) {
    this.#store = openStore(workspace, options);
  }

  /** The workspace root. */
  get workspace(): string {
    return this.#store.paths.workspace;
  }

  /** The registry file, `<workspace>/.ralph/loops.json`. */
  get path(): string {
    return this.#store.paths.file;
  }

  /** Where the registry lives: {@linkcode LoopRegistry.prototype.path}. */
  get location(): string {
    return this.#store.paths.file;
  }

  /**
   * Registers a loop. Like ralph, first removes any entry with the same pid
   * (a process runs one loop), and entries whose process is proven dead.
   * Records the process identity where it can be read, to detect a reused
   * pid later. Needs read and write access to `<workspace>/.ralph`.
   *
   * @param entry The loop, e.g. from {@linkcode createLoopEntry}.
   * @returns The entry's id.
   * @throws {LoopIdTakenError} If a live loop has the same id.
   * @throws {RangeError} If the id or pid is invalid.
   *
   * @example Register this process
   * ```ts
   * import { createLoopEntry, LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * const registry = new LoopRegistry(workspace);
   * const id = await registry.register(createLoopEntry("fix bug", { workspace }));
   * assert.equal((await registry.get(id))?.prompt, "fix bug");
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  register(entry: LoopEntry): Promise<string> {
    return runAsync(op.register(this.#store, entry));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.register}.
   *
   * @param entry The loop.
   * @returns The entry's id.
   * @example
   * ```ts
   * import { createLoopEntry, LoopRegistry } from "@loops/registry";
   *
   * const workspace = Deno.makeTempDirSync();
   * new LoopRegistry(workspace).registerSync(createLoopEntry("t", { workspace }));
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  registerSync(entry: LoopEntry): string {
    return runSync(op.register(this.#store, entry));
  }

  /**
   * Removes the loop with this id (and entries whose process is proven dead).
   *
   * @param id The loop id.
   * @throws {LoopNotFoundError} If no loop has this id.
   *
   * @example Deregister a missing loop
   * ```ts
   * import { LoopNotFoundError, LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const registry = new LoopRegistry("/no/such/workspace");
   * await assert.rejects(registry.deregister("loop-1-abcd"), LoopNotFoundError);
   * ```
   */
  deregister(id: string): Promise<void> {
    return runAsync(op.deregister(this.#store, id));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.deregister}.
   *
   * @param id The loop id.
   * @example
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   *
   * import { LoopNotFoundError } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const registry = new LoopRegistry("/no/such/ws");
   * assert.throws(() => registry.deregisterSync("loop-1-abcd"), LoopNotFoundError);
   * ```
   */
  deregisterSync(id: string): void {
    runSync(op.deregister(this.#store, id));
  }

  /**
   * Removes every entry of process `pid` (and entries proven dead).
   *
   * @param pid The process id.
   * @returns Whether an entry of `pid` was removed.
   *
   * @example Deregister by pid
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * assert.equal(await new LoopRegistry("/no/such/ws").deregisterPid(42), false);
   * ```
   */
  deregisterPid(pid: number): Promise<boolean> {
    return runAsync(op.removePid(this.#store, pid));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.deregisterPid}.
   *
   * @param pid The process id.
   * @returns Whether an entry of `pid` was removed.
   * @example
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   *
   * new LoopRegistry("/no/such/ws").deregisterPidSync(4242);
   * ```
   */
  deregisterPidSync(pid: number): boolean {
    return runSync(op.removePid(this.#store, pid));
  }

  /**
   * Removes every entry of this process (`Deno.pid`), for clean-up at exit.
   *
   * @returns Whether an entry was removed.
   *
   * @example Clean up at exit
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const registry = new LoopRegistry("/no/such/workspace");
   * assert.equal(await registry.deregisterCurrentProcess(), false);
   * ```
   */
  deregisterCurrentProcess(): Promise<boolean> {
    return this.deregisterPid(Deno.pid);
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.deregisterCurrentProcess}.
   *
   * @returns Whether an entry was removed.
   * @example
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   *
   * globalThis.addEventListener("unload", () => {
   *   new LoopRegistry("/no/such/ws").deregisterCurrentProcessSync();
   * });
   * ```
   */
  deregisterCurrentProcessSync(): boolean {
    return this.deregisterPidSync(Deno.pid);
  }

  /**
   * Lists the loops with their status, in file order. Entries whose process
   * is proven dead are left out and, when write permission is granted,
   * removed from the file. Orphans (alive, worktree gone) are listed and
   * kept. `--allow-run` probes other processes (else they are `unknown`).
   *
   * @returns The loops.
   *
   * @example List loops
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * assert.deepEqual(await new LoopRegistry("/no/such/workspace").list(), []);
   * ```
   */
  list(): Promise<LoopInfo[]> {
    return runAsync(op.list(this.#store));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.list}.
   *
   * @returns The loops.
   * @example
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   *
   * const loops = new LoopRegistry("/no/such/ws").listSync();
   * ```
   */
  listSync(): LoopInfo[] {
    return runSync(op.list(this.#store));
  }

  /**
   * Gets one loop with its status; `undefined` when absent or proven dead.
   *
   * @param id The loop id.
   * @returns The loop, or `undefined`.
   *
   * @example Get a loop
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const registry = new LoopRegistry("/no/such/workspace");
   * assert.equal(await registry.get("loop-1-abcd"), undefined);
   * ```
   */
  get(id: string): Promise<LoopInfo | undefined> {
    return runAsync(op.get(this.#store, id));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.get}.
   *
   * @param id The loop id.
   * @returns The loop, or `undefined`.
   * @example
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   *
   * const loop = new LoopRegistry("/no/such/ws").getSync("loop-1-abcd");
   * ```
   */
  getSync(id: string): LoopInfo | undefined {
    return runSync(op.get(this.#store, id));
  }

  /**
   * Reads one entry with the full liveness verdict and its reason, whatever
   * it is (dead entries included), and writes nothing. Used before signalling
   * a loop, to refuse a reused pid (`-A` verifies identity).
   *
   * @param id The loop id.
   * @returns The entry with `liveness` and `reason`, or `undefined`.
   *
   * @example Inspect a loop
   * ```ts
   * import { createLoopEntry, LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * const registry = new LoopRegistry(workspace);
   * const id = await registry.register(createLoopEntry("t", { workspace }));
   * assert.equal((await registry.inspect(id))?.liveness, "alive");
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  inspect(id: string): Promise<LoopInspection | undefined> {
    return runAsync(op.inspect(this.#store, id));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.inspect}.
   *
   * @param id The loop id.
   * @returns The entry with `liveness` and `reason`, or `undefined`.
   * @example
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   *
   * const verdict = new LoopRegistry("/no/such/ws").inspectSync("loop-1-abcd");
   * ```
   */
  inspectSync(id: string): LoopInspection | undefined {
    return runSync(op.inspect(this.#store, id));
  }

  /**
   * Removes entries whose process is proven dead and orphans (process alive,
   * worktree gone). Entries whose liveness is unknown are kept.
   *
   * @returns How many entries were removed.
   *
   * @example Clean stale entries
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * assert.equal(await new LoopRegistry("/no/such/workspace").cleanStale(), 0);
   * ```
   */
  cleanStale(): Promise<number> {
    return runAsync(op.cleanStale(this.#store));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.cleanStale}.
   *
   * @returns How many entries were removed.
   * @example
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   *
   * const removed = new LoopRegistry("/no/such/ws").cleanStaleSync();
   * ```
   */
  cleanStaleSync(): number {
    return runSync(op.cleanStale(this.#store));
  }

  /**
   * Repairs a corrupt registry without losing what still decodes: every
   * entry that can be read (before the cut of a truncated file, around an
   * entry with a wrong field, before trailing garbage) is kept, and a copy of
   * the whole file goes to `loops.json.corrupt-<time>` first. A healthy
   * registry is left as it is (a torn write is rolled forward). A directory
   * or FIFO in the file's place, or anything but a regular file in the
   * journal's, is renamed aside.
   *
   * @returns The path the bad bytes were copied or moved to, or `undefined`
   * when the registry was healthy.
   * @throws {CorruptRegistryError} If `loops.json` or `.ralph` is a symbolic
   * link, `.ralph` is not a directory, or the file is over the 128 MiB bound:
   * the message says what to do.
   * @throws {UntrustedRegistryError} If the registry fails the trust rule.
   *
   * @example Repair a registry cut short in its second entry
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * await Deno.mkdir(`${workspace}/.ralph`);
   * const kept = {
   *   id: "loop-1-aaaa",
   *   pid: Deno.pid,
   *   started: new Date().toISOString(),
   *   prompt: "kept",
   *   workspace,
   * };
   * const text = `{"loops": [${JSON.stringify(kept)}, {"id": "loop-2-bb`;
   * await Deno.writeTextFile(`${workspace}/.ralph/loops.json`, text);
   * const registry = new LoopRegistry(workspace);
   * const aside = await registry.repair();
   * assert.equal(await Deno.readTextFile(aside!), text);
   * assert.deepEqual((await registry.list()).map((l) => l.id), [kept.id]);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  repair(): Promise<string | undefined> {
    return runAsync(repair(this.#store));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.repair}.
   *
   * @returns The path the bad bytes were moved to, or `undefined`.
   * @example
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   *
   * const workspace = Deno.makeTempDirSync();
   * const aside = new LoopRegistry(workspace).repairSync(); // undefined
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  repairSync(): string | undefined {
    return runSync(repair(this.#store));
  }

  /**
   * Claims a loop: registers it (for this process unless `pid` is given) and
   * returns a handle that deregisters it when disposed (`await using`), and,
   * unless `handleSignals` is false, on the `unload` event and on SIGINT or
   * SIGTERM (after which the process exits with 130 or 143).
   *
   * @param prompt The prompt or task of the loop.
   * @param options The id, pid, worktree and signal handling.
   * @returns A handle whose disposal deregisters the loop.
   * @throws {LoopIdTakenError} If a live loop has the same id.
   *
   * @example Claim a loop for the duration of a block
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * const registry = new LoopRegistry(workspace);
   * {
   *   await using loop = await registry.claim("auth", { handleSignals: false });
   *   assert.equal((await registry.get(loop.id))?.status, "running");
   * }
   * assert.deepEqual(await registry.list(), []);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  async claim(prompt: string, options: ClaimOptions = {}): Promise<LoopClaim> {
    const entry = this.#claimEntry(prompt, options);
    await this.register(entry);
    return new FileClaim(this.#claimOps, entry, options.handleSignals ?? true);
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.claim}.
   *
   * @param prompt The prompt or task of the loop.
   * @param options The id, pid, worktree and signal handling.
   * @returns A handle whose disposal deregisters the loop.
   * @example
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   *
   * const workspace = Deno.makeTempDirSync();
   * {
   *   using _loop = new LoopRegistry(workspace).claimSync("task");
   * }
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  claimSync(prompt: string, options: ClaimOptions = {}): LoopClaim {
    const entry = this.#claimEntry(prompt, options);
    this.registerSync(entry);
    return new FileClaim(this.#claimOps, entry, options.handleSignals ?? true);
  }

  get #claimOps(): ClaimOps {
    const store = this.#store;
    return {
      inspect: (id) => this.inspect(id),
      remove: (entry) => runAsync(op.removeEntry(store, entry)),
      removeSync: (entry) => runSync(op.removeEntry(store, entry)),
      reassign: (entry, pid) => runAsync(op.reassign(store, entry, pid)),
    };
  }

  #claimEntry(prompt: string, options: ClaimOptions): LoopEntry {
    return createLoopEntry(prompt, {
      id: options.id,
      pid: options.pid,
      workspace: this.#store.paths.workspace,
      worktreePath: options.worktreePath,
    });
  }

  /**
   * Watches the registry: yields the list of loops at once, then again each
   * time it changes (a change to `.ralph/`, seen with `Deno.watchFs`, or a
   * change of liveness, checked every `intervalMs`). Works before `.ralph/`
   * exists. Ends when `signal` aborts. Needs `--allow-read` for the
   * workspace.
   *
   * @param options An abort signal and the liveness refresh interval.
   * @returns An async iterator of loop lists.
   *
   * @example Watch until aborted
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * const controller = new AbortController();
   * for await (const loops of new LoopRegistry(workspace).watch(controller)) {
   *   assert.deepEqual(loops, []);
   *   controller.abort();
   * }
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  watch(options: WatchOptions = {}): AsyncGenerator<LoopInfo[]> {
    return watchFiles(this.#store.paths, () => this.list(), options);
  }

  /**
   * Does nothing: a file registry holds nothing open between calls. Part of
   * the {@linkcode Registry} interface, for engines that hold connections.
   *
   * @example
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   *
   * await new LoopRegistry("/ws").close();
   * ```
   */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
