import { isAbsolute, resolve } from "./_path.ts";
import {
  decodeRegistry,
  emptyDoc,
  encodeRegistry,
  type RegistryDoc,
  withEntry,
  withoutEntries,
} from "./_codec.ts";
import {
  acquire,
  clearJournal,
  effectiveContent,
  lstatOrUndefined,
  MAX_REGISTRY_BYTES,
  moveAside,
  readJournal,
  readLocked,
  type RegistryPaths,
  registryPaths,
  release,
  rollForward,
  runAsync,
  runSync,
  type Step,
  WRITE_HOOK,
  writeDurably,
  type WriteHook,
  writeNewFile,
} from "./_store.ts";
import {
  CorruptRegistryError,
  LockTimeoutError,
  LoopIdTakenError,
  LoopNotFoundError,
} from "./errors.ts";
import type {
  ClaimOptions,
  LoopInspection,
  Registry,
  WatchOptions,
} from "./registry.ts";
import { LoopClaim } from "./loop_claim.ts";
import {
  createLoopEntry,
  isValidLoopId,
  type LoopEntry,
  type LoopInfo,
  type LoopStatus,
} from "./loop_entry.ts";
import {
  explainProcess,
  isValidPid,
  type Liveness,
  type ProbeOptions,
  probeProcess,
  type ProcessIdentity,
  type ProcessVerdict,
  readProcessIdentity,
} from "./process.ts";

/**
 * The side effects the registry uses to judge liveness, behind a small
 * interface so that tests and embedders can supply their own. The default
 * uses {@linkcode probeProcess}, {@linkcode readProcessIdentity} and
 * `Deno.statSync`.
 */
export interface RegistryEnv {
  /**
   * Liveness of `pid`, given the identity recorded at registration. With
   * `signalOnly`, only the cheap signal probe is needed (used inside changes,
   * where every other entry is checked on every call).
   */
  probe(
    pid: number,
    identity?: ProcessIdentity,
    options?: ProbeOptions,
  ): Liveness;
  /**
   * Liveness of `pid` with its reason; see {@linkcode explainProcess}. When
   * left out, `probe` is used and the reason is generic.
   */
  explain?(pid: number, identity?: ProcessIdentity): ProcessVerdict;
  /** Identity of a live process, or `undefined` where it cannot be read. */
  identify(pid: number): ProcessIdentity | undefined;
  /**
   * Whether `path` is an existing directory; `undefined` when it cannot be
   * checked (no read permission for it).
   */
  isDirectory(path: string): boolean | undefined;
}

// This process's identity never changes while it runs.
let ownIdentity: ProcessIdentity | undefined;

/** The default {@linkcode RegistryEnv}: real processes and files. */
export const defaultRegistryEnv: RegistryEnv = {
  probe: probeProcess,
  explain: explainProcess,
  identify(pid) {
    if (pid === Deno.pid && ownIdentity !== undefined) return ownIdentity;
    const live = readProcessIdentity(pid);
    const identity = live && { startTime: live.startTime, bootId: live.bootId };
    if (pid === Deno.pid && identity !== undefined) ownIdentity = identity;
    return identity;
  },
  isDirectory(path) {
    try {
      return Deno.statSync(path).isDirectory;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      if (error instanceof Deno.errors.NotADirectory) return false;
      if (error instanceof Deno.errors.FilesystemLoop) return false;
      // A path no directory can have (a NUL byte, or too long), e.g. from a
      // hostile registry file: it must not make every list fail.
      const code = (error as { code?: unknown }).code;
      if (code === "EINVAL" || code === "ENAMETOOLONG") return false;
      // No read permission for the worktree: it cannot be checked.
      if (error instanceof Deno.errors.NotCapable) return undefined;
      if (error instanceof Deno.errors.PermissionDenied) return undefined;
      throw error;
    }
  },
};

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
}

type Verdict = LoopStatus | "dead";

const REPAIR_READ_LIMIT = 1024 * 1024 * 1024;

function checkEntry(entry: LoopEntry): void {
  if (!isValidLoopId(entry.id)) {
    throw new RangeError(
      `Cannot register loop as its id must have 1 to 256 characters and no control characters: current value is ${
        JSON.stringify(entry.id)
      }`,
    );
  }
  if (!isValidPid(entry.pid)) {
    throw new RangeError(
      `Cannot register loop as its pid must be an integer from 1 to 4194304: current value is ${
        JSON.stringify(entry.pid)
      }`,
    );
  }
  for (const field of ["started", "prompt", "workspace"] as const) {
    if (typeof entry[field] !== "string") {
      throw new TypeError(
        `Cannot register loop as its ${field} is not a string: current value is ${
          JSON.stringify(entry[field])
        }`,
      );
    }
  }
  if (
    entry.worktreePath !== undefined && typeof entry.worktreePath !== "string"
  ) {
    throw new TypeError(
      `Cannot register loop as its worktreePath is not a string: current value is ${
        JSON.stringify(entry.worktreePath)
      }`,
    );
  }
}

function genericVerdict(liveness: Liveness): ProcessVerdict {
  const reason = liveness === "dead"
    ? "exited"
    : liveness === "unknown"
    ? "no-permission"
    : "alive";
  return { liveness, reason };
}

interface Change<T> {
  doc: RegistryDoc;
  result: T;
}

/**
 * The registry of agent loops in one workspace: `<workspace>/.ralph/loops.json`,
 * the file ralph-orchestrator keeps, read and written compatibly with it.
 *
 * Every change holds an exclusive `flock` on `loops.json`, so this module and
 * ralph's Rust code exclude each other. Changes are crash-safe (a process
 * killed at any instant loses no acknowledged change) and fsynced before they
 * return. Reads take a shared lock and write nothing unless dead entries must
 * be cleaned and write permission is granted.
 *
 * File work uses synchronous calls (a change costs about one fsync); the
 * async methods yield to the event loop only while waiting for the lock. Each
 * async method has a sync twin (`registerSync`, ...) for exit handlers.
 *
 * Permissions: reads need `--allow-read=<workspace>/.ralph`; changes also
 * `--allow-write=<workspace>/.ralph`. Probing other processes needs
 * `--allow-run` (without it their status is `unknown` and they are never
 * cleaned). Detecting reused pids and zombies needs `-A` (Deno guards
 * `/proc`); without it the signal probe alone is used.
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
  #paths: RegistryPaths;
  #timeoutMs: number;
  #env: RegistryEnv;
  #hook: WriteHook | undefined;

  /**
   * Constructs a registry handle; touches nothing on disk.
   *
   * A relative `workspace` is resolved against the current directory, which
   * needs `--allow-read` for it.
   *
   * @param workspace The workspace root (the folder that holds `.ralph/`).
   * @param options Lock timeout and liveness probes.
   * @throws {RangeError} If `lockTimeoutMs` is negative or not a number.
   * @throws {TypeError} If `workspace` is a URL other than a `file:` URL.
   */
  constructor(workspace: string | URL, options: LoopRegistryOptions = {}) {
    if (workspace instanceof URL && workspace.protocol !== "file:") {
      throw new TypeError(
        `Cannot open a registry as the workspace URL is not a file: URL: current value is "${workspace.href}"`,
      );
    }
    const path = workspace instanceof URL
      ? decodeURIComponent(workspace.pathname)
      : workspace;
    this.#paths = registryPaths(isAbsolute(path) ? path : resolve(path));
    const timeout = options.lockTimeoutMs ?? 10_000;
    if (!(timeout >= 0) || !Number.isFinite(timeout)) {
      throw new RangeError(
        `Cannot create registry as lockTimeoutMs must be a number >= 0: current value is ${timeout}`,
      );
    }
    this.#timeoutMs = timeout;
    this.#env = options.env ?? defaultRegistryEnv;
    this.#hook = (options as { [WRITE_HOOK]?: WriteHook })[WRITE_HOOK];
  }

  /** The workspace root. */
  get workspace(): string {
    return this.#paths.workspace;
  }

  /** The registry file, `<workspace>/.ralph/loops.json`. */
  get path(): string {
    return this.#paths.file;
  }

  /** Where the registry lives: {@linkcode LoopRegistry.prototype.path}. */
  get location(): string {
    return this.#paths.file;
  }

  /**
   * Does nothing: a file registry holds nothing open between calls. Part of
   * the {@linkcode Registry} interface, for engines that hold connections.
   *
   * @example Close a handle
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   *
   * await new LoopRegistry("/ws").close();
   * ```
   */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** A probe for one call: each pid (with its identity) is probed once. */
  #prober(options?: ProbeOptions): (entry: LoopEntry) => Liveness {
    const memo = new Map<string, Liveness>();
    return (entry) => {
      const key =
        `${entry.pid}:${entry.identity?.startTime}:${entry.identity?.bootId}`;
      let liveness = memo.get(key);
      if (liveness === undefined) {
        liveness = this.#env.probe(entry.pid, entry.identity, options);
        memo.set(key, liveness);
      }
      return liveness;
    };
  }

  #verdicts(entries: LoopEntry[]): Map<LoopEntry, Verdict> {
    const probe = this.#prober();
    const verdicts = new Map<LoopEntry, Verdict>();
    for (const entry of entries) {
      const liveness = probe(entry);
      let verdict: Verdict = liveness === "alive" ? "running" : liveness;
      if (
        verdict === "running" && entry.worktreePath !== undefined &&
        this.#env.isDirectory(entry.worktreePath) === false
      ) {
        verdict = "orphan";
      }
      verdicts.set(entry, verdict);
    }
    return verdicts;
  }

  /**
   * A predicate telling proven-dead entries, for changes. Every other entry
   * is checked on every change, so only the cheap proof of death (no such
   * pid) is used; reused pids and zombies are dropped by list, get and
   * cleanStale.
   */
  #deadTest(): (entry: LoopEntry) => boolean {
    const probe = this.#prober({ signalOnly: true });
    return (entry) => probe(entry) === "dead";
  }

  /** Exclusive lock, read, change, write when changed. */
  *#change<T>(
    change: (doc: RegistryDoc) => Change<T>,
    create = false,
    timeoutMs = this.#timeoutMs,
  ): Step<T> {
    const locked = yield* acquire(this.#paths, true, timeoutMs, create);
    // Only removals pass `create = false`: from a registry that does not
    // exist there is nothing to remove, and none is created. (A creation
    // racing with this orders after it.)
    if (locked === undefined) return change(emptyDoc()).result;
    try {
      const current = readLocked(locked, this.#paths.file);
      const journal = readJournal(this.#paths);
      const { bytes, torn } = effectiveContent(current, journal);
      const doc = decodeRegistry(bytes, this.#paths.file);
      // Finish an interrupted write first, so that a failure of this change
      // can only fall back to a consistent state.
      if (torn) rollForward(locked, this.#paths, current, bytes, this.#hook);
      else if (journal !== undefined) clearJournal(this.#paths);
      const next = change(doc);
      if (next.doc !== doc) {
        writeDurably(
          locked,
          this.#paths,
          bytes,
          encodeRegistry(next.doc, this.#paths.file),
          this.#hook,
        );
      }
      return next.result;
    } finally {
      release(locked);
    }
  }

  /** Shared lock and read; the content a torn write was meant to leave. */
  *#read(): Step<{ doc: RegistryDoc; torn: boolean }> {
    const locked = yield* acquire(this.#paths, false, this.#timeoutMs);
    if (locked === undefined) return { doc: emptyDoc(), torn: false };
    try {
      const current = readLocked(locked, this.#paths.file);
      const { bytes, torn } = effectiveContent(
        current,
        readJournal(this.#paths),
      );
      return { doc: decodeRegistry(bytes, this.#paths.file), torn };
    } finally {
      release(locked);
    }
  }

  #canWrite(): boolean {
    // The directory: a write also needs the journal beside the file.
    return Deno.permissions.querySync({ name: "write", path: this.#paths.dir })
      .state === "granted";
  }

  /** Cleans after a read when allowed; a read-only registry is left as is. */
  *#cleanAfterRead(): Step<void> {
    if (!this.#canWrite()) return;
    try {
      // A read does not wait long to clean: if writers keep the lock busy,
      // the next read cleans instead.
      yield* this.#clean(() => false, Math.min(this.#timeoutMs, 100));
    } catch (error) {
      // The OS refuses the write (e.g. another user's 0644 registry): the
      // read still succeeds, with dead entries hidden, not written back.
      // Likewise a read-only or full file system (EROFS, ENOSPC, EDQUOT).
      const code = (error as { code?: unknown }).code;
      if (
        !(error instanceof Deno.errors.PermissionDenied) &&
        !(error instanceof LockTimeoutError) &&
        code !== "EROFS" && code !== "ENOSPC" && code !== "EDQUOT"
      ) {
        throw error;
      }
    }
  }

  /** Removes proven-dead entries (and `also` ones), returns how many. */
  *#clean(
    also: (verdict: Verdict) => boolean,
    timeoutMs = this.#timeoutMs,
  ): Step<number> {
    return yield* this.#change(
      (doc) => {
        const verdicts = this.#verdicts(doc.entries.map((e) => e.entry));
        const next = withoutEntries(doc, (e) => {
          const verdict = verdicts.get(e)!;
          return verdict === "dead" || also(verdict);
        });
        return { doc: next, result: doc.entries.length - next.entries.length };
      },
      false,
      timeoutMs,
    );
  }

  *#list(): Step<LoopInfo[]> {
    const { doc, torn } = yield* this.#read();
    const entries = doc.entries.map((e) => e.entry);
    const verdicts = this.#verdicts(entries);
    const anyDead = entries.some((e) => verdicts.get(e) === "dead");
    if (anyDead || torn) yield* this.#cleanAfterRead();
    return entries.flatMap((entry) => {
      const status = verdicts.get(entry)!;
      return status === "dead" ? [] : [{ ...entry, status }];
    });
  }

  *#get(id: string): Step<LoopInfo | undefined> {
    const { doc, torn } = yield* this.#read();
    const entry = doc.entries.find((e) => e.entry.id === id)?.entry;
    if (entry === undefined) return undefined;
    const status = this.#verdicts([entry]).get(entry)!;
    if (status === "dead" || torn) yield* this.#cleanAfterRead();
    return status === "dead" ? undefined : { ...entry, status };
  }

  *#register(entry: LoopEntry): Step<string> {
    checkEntry(entry);
    const identity = entry.identity ?? this.#env.identify(entry.pid);
    const stored: LoopEntry = identity ? { ...entry, identity } : { ...entry };
    return yield* this.#change((doc) => {
      const isDead = this.#deadTest();
      const kept = withoutEntries(
        doc,
        (e) =>
          e.pid === stored.pid || isDead(e) ||
          // An entry holding the id is checked fully: a reused pid or a
          // zombie does not keep its id taken.
          (e.id === stored.id &&
            this.#env.probe(e.pid, e.identity) === "dead"),
      );
      if (kept.entries.some((e) => e.entry.id === stored.id)) {
        throw new LoopIdTakenError(stored.id, this.#paths.file);
      }
      return { doc: withEntry(kept, stored), result: stored.id };
    }, true);
  }

  /** Removes the entries `match` selects (and proven-dead ones). */
  *#remove(match: (entry: LoopEntry) => boolean): Step<boolean> {
    return yield* this.#change((doc) => {
      const isDead = this.#deadTest();
      return {
        doc: withoutEntries(doc, (e) => match(e) || isDead(e)),
        result: doc.entries.some((e) => match(e.entry)),
      };
    });
  }

  *#deregister(id: string): Step<void> {
    if (!(yield* this.#remove((e) => e.id === id))) {
      throw new LoopNotFoundError(id, this.#paths.file);
    }
  }

  *#repair(): Step<string | undefined> {
    const paths = this.#paths;
    const info = lstatOrUndefined(paths.file, paths);
    if (info?.isSymlink) {
      throw new CorruptRegistryError(
        paths.file,
        "it is a symbolic link; repair does not follow links",
        { kind: "symlink" },
      );
    }
    const aside = `${paths.file}.corrupt-${
      new Date().toISOString().replaceAll(":", "")
    }`;
    if (info !== undefined && !info.isFile) {
      // A directory or FIFO cannot be locked or rewritten in place: move it.
      moveAside(paths, aside);
      return aside;
    }
    const locked = yield* acquire(paths, true, this.#timeoutMs);
    if (locked === undefined) throw new Error("unreachable: exclusive open");
    try {
      const current = readLocked(locked, paths.file, REPAIR_READ_LIMIT);
      try {
        const { bytes, torn } = effectiveContent(current, readJournal(paths));
        if (bytes.length > MAX_REGISTRY_BYTES) {
          throw new CorruptRegistryError(paths.file, "it is over 16 MiB", {
            kind: "too-large",
          });
        }
        // Encoding proves the content can be written back (nesting depth).
        encodeRegistry(decodeRegistry(bytes, paths.file), paths.file);
        if (torn) rollForward(locked, paths, current, bytes);
        return undefined;
      } catch (error) {
        if (!(error instanceof CorruptRegistryError)) throw error;
      }
      writeNewFile(paths, aside, current);
      writeDurably(
        locked,
        paths,
        current,
        encodeRegistry(emptyDoc()),
        this.#hook,
      );
      return aside;
    } finally {
      release(locked);
    }
  }

  /**
   * Claims a loop for this process: registers it and returns a handle that
   * deregisters it when disposed (`await using`), and, unless
   * `handleSignals` is false, on the `unload` event and on SIGINT or SIGTERM
   * (after which the process exits with 130 or 143).
   *
   * Requires `--allow-read` and `--allow-write` for `<workspace>/.ralph`.
   *
   * @param prompt The prompt or task of the loop.
   * @param options The id, worktree and signal handling.
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
   *   await using loop = await registry.claim("implement auth", {
   *     handleSignals: false,
   *   });
   *   assert.equal((await registry.get(loop.id))?.status, "running");
   * }
   * assert.deepEqual(await registry.list(), []);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  async claim(prompt: string, options: ClaimOptions = {}): Promise<LoopClaim> {
    const entry = this.#claimEntry(prompt, options);
    await this.register(entry);
    return new LoopClaim(this, entry, options.handleSignals ?? true);
  }

  #claimEntry(prompt: string, options: ClaimOptions): LoopEntry {
    return createLoopEntry(prompt, {
      id: options.id,
      pid: options.pid,
      workspace: this.#paths.workspace,
      worktreePath: options.worktreePath,
    });
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.claim}.
   *
   * @param prompt The prompt or task of the loop.
   * @param options The id, worktree and signal handling.
   * @returns A handle whose disposal deregisters the loop.
   *
   * @example Claim synchronously
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = Deno.makeTempDirSync();
   * const registry = new LoopRegistry(workspace);
   * {
   *   using loop = registry.claimSync("task", { handleSignals: false });
   *   assert.equal(registry.getSync(loop.id)?.status, "running");
   * }
   * assert.deepEqual(registry.listSync(), []);
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  claimSync(prompt: string, options: ClaimOptions = {}): LoopClaim {
    const entry = this.#claimEntry(prompt, options);
    this.registerSync(entry);
    return new LoopClaim(this, entry, options.handleSignals ?? true);
  }

  /**
   * Moves a corrupt registry aside to `loops.json.corrupt-<time>` and starts
   * an empty one. A healthy registry is left as it is (a torn write is rolled
   * forward). A directory or FIFO in the file's place is renamed aside. A
   * symbolic link is refused.
   *
   * Requires `--allow-read` and `--allow-write` for `<workspace>/.ralph`.
   *
   * @returns The path the bad bytes were moved to, or `undefined` when the
   * registry was healthy.
   * @throws {CorruptRegistryError} If `loops.json` is a symbolic link.
   *
   * @example Repair a corrupt registry
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * await Deno.mkdir(`${workspace}/.ralph`);
   * await Deno.writeTextFile(`${workspace}/.ralph/loops.json`, "{oops");
   * const registry = new LoopRegistry(workspace);
   * const aside = await registry.repair();
   * assert.equal(await Deno.readTextFile(aside!), "{oops");
   * assert.deepEqual(await registry.list(), []);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  repair(): Promise<string | undefined> {
    return runAsync(this.#repair());
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.repair}.
   *
   * @returns The path the bad bytes were moved to, or `undefined`.
   *
   * @example Repair synchronously
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = Deno.makeTempDirSync();
   * assert.equal(new LoopRegistry(workspace).repairSync(), undefined);
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  repairSync(): string | undefined {
    return runSync(this.#repair());
  }

  /**
   * Registers a loop. Like ralph, first removes any entry with the same pid
   * (a process runs one loop) and entries whose process is proven dead.
   * Records the process identity where it can be read, to detect a reused
   * pid later.
   *
   * Requires `--allow-read` and `--allow-write` for `<workspace>/.ralph`.
   *
   * @param entry The loop, e.g. from {@linkcode createLoopEntry}.
   * @returns The entry's id.
   * @throws {LoopIdTakenError} If a live loop has the same id.
   * @throws {RangeError} If the id or pid is invalid.
   * @throws {LockTimeoutError} If the lock stays held past `lockTimeoutMs`.
   * @throws {CorruptRegistryError} If the file cannot be read as a registry.
   * @throws {Deno.errors.NotCapable} If a permission is missing; the message
   * names the flag.
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
    return runAsync(this.#register(entry));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.register}.
   *
   * @param entry The loop.
   * @returns The entry's id.
   *
   * @example Register synchronously
   * ```ts
   * import { createLoopEntry, LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = Deno.makeTempDirSync();
   * const registry = new LoopRegistry(workspace);
   * const id = registry.registerSync(createLoopEntry("fix bug", { workspace }));
   * assert.equal(registry.listSync().length, 1);
   * registry.deregisterSync(id);
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  registerSync(entry: LoopEntry): string {
    return runSync(this.#register(entry));
  }

  /**
   * Removes the loop with this id (and entries whose process is proven dead).
   *
   * Requires `--allow-read` and `--allow-write` for `<workspace>/.ralph`.
   *
   * @param id The loop id.
   * @throws {LoopNotFoundError} If no loop has this id.
   * @throws {LockTimeoutError} If the lock stays held past `lockTimeoutMs`.
   * @throws {CorruptRegistryError} If the file cannot be read as a registry.
   *
   * @example Deregister a loop
   * ```ts
   * import { createLoopEntry, LoopNotFoundError, LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * const registry = new LoopRegistry(workspace);
   * const id = await registry.register(createLoopEntry("task", { workspace }));
   * await registry.deregister(id);
   * await assert.rejects(registry.deregister(id), LoopNotFoundError);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  deregister(id: string): Promise<void> {
    return runAsync(this.#deregister(id));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.deregister}.
   *
   * @param id The loop id.
   *
   * @example Deregister synchronously
   * ```ts
   * import { createLoopEntry, LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = Deno.makeTempDirSync();
   * const registry = new LoopRegistry(workspace);
   * const id = registry.registerSync(createLoopEntry("task", { workspace }));
   * registry.deregisterSync(id);
   * assert.equal(registry.getSync(id), undefined);
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  deregisterSync(id: string): void {
    runSync(this.#deregister(id));
  }

  /**
   * Removes every entry of this process (`Deno.pid`), for clean-up at exit.
   *
   * Requires `--allow-read` and `--allow-write` for `<workspace>/.ralph`.
   *
   * @returns Whether an entry was removed.
   *
   * @example Clean up at exit
   * ```ts
   * import { createLoopEntry, LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * const registry = new LoopRegistry(workspace);
   * await registry.register(createLoopEntry("task", { workspace }));
   * assert.equal(await registry.deregisterCurrentProcess(), true);
   * assert.equal(await registry.deregisterCurrentProcess(), false);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  deregisterCurrentProcess(): Promise<boolean> {
    return runAsync(this.#remove((e) => e.pid === Deno.pid));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.deregisterCurrentProcess}.
   *
   * @returns Whether an entry was removed.
   *
   * @example In an unload handler
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = Deno.makeTempDirSync();
   * const registry = new LoopRegistry(workspace);
   * assert.equal(registry.deregisterCurrentProcessSync(), false);
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  deregisterCurrentProcessSync(): boolean {
    return runSync(this.#remove((e) => e.pid === Deno.pid));
  }

  /**
   * Lists the loops with their status. Entries whose process is proven dead
   * are left out and, when write permission is granted, removed from the
   * file; otherwise nothing is written. Orphans (alive, worktree gone) are
   * listed and kept.
   *
   * Requires `--allow-read` for `<workspace>/.ralph`; `--allow-run` to probe
   * other processes (else their status is `unknown`).
   *
   * @returns The loops, in file order.
   * @throws {CorruptRegistryError} If the file cannot be read as a registry.
   * @throws {LockTimeoutError} If the lock stays held past `lockTimeoutMs`.
   *
   * @example List loops
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * assert.deepEqual(await new LoopRegistry(workspace).list(), []);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  list(): Promise<LoopInfo[]> {
    return runAsync(this.#list());
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.list}.
   *
   * @returns The loops.
   *
   * @example List synchronously
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = Deno.makeTempDirSync();
   * assert.deepEqual(new LoopRegistry(workspace).listSync(), []);
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  listSync(): LoopInfo[] {
    return runSync(this.#list());
  }

  /**
   * Gets one loop with its status; `undefined` when absent or proven dead.
   *
   * Requires `--allow-read` for `<workspace>/.ralph`.
   *
   * @param id The loop id.
   * @returns The loop, or `undefined`.
   *
   * @example Get a loop
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * assert.equal(await new LoopRegistry(workspace).get("loop-1-abcd"), undefined);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  get(id: string): Promise<LoopInfo | undefined> {
    return runAsync(this.#get(id));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.get}.
   *
   * @param id The loop id.
   * @returns The loop, or `undefined`.
   *
   * @example Get synchronously
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = Deno.makeTempDirSync();
   * assert.equal(new LoopRegistry(workspace).getSync("x"), undefined);
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  getSync(id: string): LoopInfo | undefined {
    return runSync(this.#get(id));
  }

  /**
   * Removes entries whose process is proven dead and orphans (process alive,
   * worktree gone). Entries whose liveness is unknown are kept.
   *
   * Requires `--allow-read` and `--allow-write` for `<workspace>/.ralph`,
   * and `--allow-run` to probe other processes.
   *
   * @returns How many entries were removed.
   *
   * @example Clean stale entries
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * assert.equal(await new LoopRegistry(workspace).cleanStale(), 0);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  cleanStale(): Promise<number> {
    return runAsync(this.#clean((v) => v === "orphan"));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.cleanStale}.
   *
   * @returns How many entries were removed.
   *
   * @example Clean synchronously
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = Deno.makeTempDirSync();
   * assert.equal(new LoopRegistry(workspace).cleanStaleSync(), 0);
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  cleanStaleSync(): number {
    return runSync(this.#clean((v) => v === "orphan"));
  }

  *#inspect(id: string): Step<LoopInspection | undefined> {
    const { doc } = yield* this.#read();
    const entry = doc.entries.find((e) => e.entry.id === id)?.entry;
    if (entry === undefined) return undefined;
    const verdict: ProcessVerdict = this.#env.explain?.(
      entry.pid,
      entry.identity,
    ) ?? genericVerdict(this.#env.probe(entry.pid, entry.identity));
    return { ...entry, ...verdict };
  }

  /**
   * Reads one entry with the full liveness verdict and its reason, whatever
   * it is (dead entries included), and writes nothing. Used before signalling
   * a loop, to refuse a reused pid.
   *
   * Requires `--allow-read` for `<workspace>/.ralph`; `--allow-run` to probe
   * and `-A` to verify identity.
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
    return runAsync(this.#inspect(id));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.inspect}.
   *
   * @param id The loop id.
   * @returns The entry with `liveness` and `reason`, or `undefined`.
   *
   * @example Inspect synchronously
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = Deno.makeTempDirSync();
   * assert.equal(new LoopRegistry(workspace).inspectSync("x"), undefined);
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  inspectSync(id: string): LoopInspection | undefined {
    return runSync(this.#inspect(id));
  }

  /**
   * Removes every entry of process `pid` (and entries proven dead).
   *
   * Requires `--allow-read` and `--allow-write` for `<workspace>/.ralph`.
   *
   * @param pid The process id.
   * @returns Whether an entry of `pid` was removed.
   *
   * @example Deregister by pid
   * ```ts
   * import { createLoopEntry, LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * const registry = new LoopRegistry(workspace);
   * await registry.register(createLoopEntry("t", { workspace }));
   * assert.equal(await registry.deregisterPid(Deno.pid), true);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  deregisterPid(pid: number): Promise<boolean> {
    return runAsync(this.#remove((e) => e.pid === pid));
  }

  /**
   * Sync twin of {@linkcode LoopRegistry.prototype.deregisterPid}.
   *
   * @param pid The process id.
   * @returns Whether an entry of `pid` was removed.
   *
   * @example Deregister by pid synchronously
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = Deno.makeTempDirSync();
   * assert.equal(new LoopRegistry(workspace).deregisterPidSync(4242), false);
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  deregisterPidSync(pid: number): boolean {
    return runSync(this.#remove((e) => e.pid === pid));
  }

  /**
   * Watches the registry: yields the list of loops at once, then again each
   * time it changes (a change to `.ralph/`, seen with `Deno.watchFs`, or a
   * change of liveness, checked every `intervalMs`). Works before `.ralph/`
   * exists. Ends when `signal` aborts.
   *
   * Requires `--allow-read` for the workspace, like
   * {@linkcode LoopRegistry.prototype.list}.
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
  async *watch(options: WatchOptions = {}): AsyncGenerator<LoopInfo[]> {
    const { signal, intervalMs = 2000 } = options;
    let dirty = true;
    let wake = () => {};
    const poke = () => {
      dirty = true;
      wake();
    };
    const watchers: Deno.FsWatcher[] = [];
    const pumps: Promise<void>[] = [];
    const watch = (path: string) => {
      const watcher = Deno.watchFs(path, { recursive: false });
      watchers.push(watcher);
      pumps.push((async () => {
        for await (const _event of watcher) poke();
      })());
    };
    const onAbort = () => wake();
    signal?.addEventListener("abort", onAbort);
    const timer = setInterval(poke, intervalMs);
    let last: string | undefined;
    let watchingDir = false;
    try {
      watch(this.#paths.workspace);
      while (!signal?.aborted) {
        if (!watchingDir && lstatOrUndefined(this.#paths.dir, this.#paths)) {
          watch(this.#paths.dir);
          watchingDir = true;
        }
        if (dirty) {
          dirty = false;
          const loops = await this.list();
          const key = JSON.stringify(loops);
          if (key !== last) {
            last = key;
            yield loops;
          }
          continue;
        }
        await new Promise<void>((resolve) => wake = resolve);
      }
    } finally {
      clearInterval(timer);
      signal?.removeEventListener("abort", onAbort);
      for (const watcher of watchers) watcher.close();
      await Promise.all(pumps);
    }
  }
}
