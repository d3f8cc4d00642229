// The Step bodies of the file engine's operations: lock, read, judge,
// change, write. Each runs under either driver (see _step.ts), so the async
// method and its sync twin share one body. Which entries each removes is
// decided in _liveness.ts; how bytes reach the disk in _durable_write.ts.
import {
  decodeRegistry,
  emptyDoc,
  encodeRegistry,
  type RegistryDoc,
  withEntry,
  withoutEntries,
} from "./_codec.ts";
import { rollForward, writeDurably, type WriteHook } from "./_durable_write.ts";
import { sameBytes } from "./_bytes.ts";
import type { RegistryPaths } from "./_files.ts";
import { clearJournal, effectiveContent, readJournal } from "./_journal.ts";
import {
  Judge,
  removedByChange,
  removedByClean,
  removedByRegister,
} from "./_liveness.ts";
import { acquire, readLocked, release } from "./_lock.ts";
import type { Step } from "./_step.ts";
import {
  LockTimeoutError,
  LoopIdTakenError,
  LoopNotFoundError,
} from "./errors.ts";
import {
  isValidLoopId,
  type LoopEntry,
  type LoopInfo,
  type LoopOrigin,
} from "./loop_entry.ts";
import { isValidPid } from "./process.ts";
import type { LoopInspection } from "./registry.ts";
import type { RegistryEnv } from "./registry_env.ts";

/** What every operation of one registry handle works with. */
export interface Store {
  paths: RegistryPaths;
  timeoutMs: number;
  env: RegistryEnv;
  hook?: WriteHook;
  /**
   * The last content decoded and its document, reused while the content is
   * byte for byte the same (see {@linkcode decode}). Documents are never
   * changed in place, and what a call returns copies what it could change.
   */
  decoded?: { bytes: Uint8Array; doc: RegistryDoc };
  /**
   * A buffer the last read was made into and nothing holds, for the next
   * read (see {@linkcode readLocked}); never the memo's.
   */
  spare?: Uint8Array;
}

/** A buffer to read into: the spare, unless the memo holds it. */
function takeSpare(store: Store): Uint8Array | undefined {
  const spare = store.spare;
  store.spare = undefined;
  if (spare === undefined) return undefined;
  return spare.buffer === store.decoded?.bytes.buffer ? undefined : spare;
}

/** Keeps the buffer `read` was made into for the next read, if free. */
function recycle(store: Store, read: Uint8Array): void {
  if (read.buffer !== store.decoded?.bytes.buffer) {
    store.spare = new Uint8Array(read.buffer);
  }
}

/**
 * `bytes` decoded, or the document of the last content this store decoded
 * when `bytes` are the same: comparing costs a small part of decoding
 * (0.6 of 38 ms at 10,000 entries), and a long-lived process reads an
 * unchanged registry again and again (watch, serve).
 */
function decode(store: Store, bytes: Uint8Array): RegistryDoc {
  const last = store.decoded;
  if (last !== undefined && sameBytes(last.bytes, bytes)) return last.doc;
  const doc = decodeRegistry(bytes, store.paths.file);
  store.decoded = { bytes, doc };
  return doc;
}

/**
 * A copy of `entry` down to its nested objects, so that a caller changing
 * what a call returned changes nothing stored (see `Store.decoded`).
 */
function copied(entry: LoopEntry): LoopEntry {
  const copy = { ...entry };
  if (entry.origin !== undefined) copy.origin = { ...entry.origin };
  if (entry.identity !== undefined) copy.identity = { ...entry.identity };
  return copy;
}

/** A listed loop: a copy of `entry` with its status. */
function listed(entry: LoopEntry, status: LoopInfo["status"]): LoopInfo {
  const info = copied(entry) as LoopInfo;
  info.status = status;
  return info;
}

/** A change's new document and what the call returns. */
export interface Change<T> {
  doc: RegistryDoc;
  result: T;
}

/** Options for {@linkcode change}. */
export interface ChangeOptions {
  /**
   * Create `.ralph/` and the file. Only removals pass `false`: from a
   * registry that does not exist there is nothing to remove, and none is
   * created (a creation racing with the removal orders after it).
   *
   * @default {true}
   */
  create?: boolean;
  /**
   * How long to wait for the lock.
   *
   * @default {store.timeoutMs}
   */
  timeoutMs?: number;
}

function judgeOf(store: Store): Judge {
  return new Judge(store.env, store.paths.workspace);
}

/** Exclusive lock, read, change, and a durable write when changed. */
export function* change<T>(
  store: Store,
  fn: (doc: RegistryDoc) => Change<T>,
  options: ChangeOptions = {},
): Step<T> {
  const { paths, hook } = store;
  const locked = yield* acquire(paths, {
    exclusive: true,
    timeoutMs: options.timeoutMs ?? store.timeoutMs,
    create: options.create ?? true,
  });
  if (locked === undefined) return fn(emptyDoc()).result;
  let current: Uint8Array | undefined;
  try {
    current = readLocked(locked, paths.file, undefined, takeSpare(store));
    const journal = readJournal(paths);
    const { bytes, torn } = effectiveContent(current, journal);
    const doc = decode(store, bytes);
    // Finish an interrupted write first, so that a failure of this change
    // can only fall back to a consistent state.
    if (torn) rollForward(locked, paths, current, bytes, hook);
    else if (journal !== undefined) clearJournal(paths);
    const next = fn(doc);
    if (next.doc !== doc) {
      const encoded = encodeRegistry(next.doc, paths.file);
      const written = writeDurably(locked, paths, bytes, encoded, hook);
      // What the file now holds decodes to next.doc (withEntry stores
      // entries as decoded): the next call skips the decode.
      store.decoded = { bytes: written, doc: next.doc };
    }
    return next.result;
  } finally {
    release(locked);
    if (current !== undefined) recycle(store, current);
  }
}

/** Shared lock and read; the content a torn write was meant to leave. */
export function* read(
  store: Store,
): Step<{ doc: RegistryDoc; torn: boolean }> {
  const { paths } = store;
  const locked = yield* acquire(paths, {
    exclusive: false,
    timeoutMs: store.timeoutMs,
  });
  if (locked === undefined) return { doc: emptyDoc(), torn: false };
  let current: Uint8Array | undefined;
  try {
    current = readLocked(locked, paths.file, undefined, takeSpare(store));
    const { bytes, torn } = effectiveContent(current, readJournal(paths));
    return { doc: decode(store, bytes), torn };
  } finally {
    release(locked);
    if (current !== undefined) recycle(store, current);
  }
}

/** Removes what a clean removes (see _liveness.ts); returns how many. */
function* clean(
  store: Store,
  options: { orphans: boolean; timeoutMs?: number },
): Step<number> {
  return yield* change(store, (doc) => {
    const next = withoutEntries(
      doc,
      removedByClean(judgeOf(store), options),
    );
    return { doc: next, result: doc.entries.length - next.entries.length };
  }, { create: false, timeoutMs: options.timeoutMs });
}

const UNWRITABLE = new Set(["EROFS", "ENOSPC", "EDQUOT"]);

/** Cleans after a read when allowed; a read-only registry is left as is. */
function* cleanAfterRead(store: Store): Step<void> {
  // The directory: a write also needs the journal beside the file.
  const dir = store.paths.dir;
  if (
    Deno.permissions.querySync({ name: "write", path: dir }).state !==
      "granted"
  ) {
    return;
  }
  try {
    // A read does not wait long to clean: if writers keep the lock busy,
    // the next read cleans instead.
    yield* clean(store, {
      orphans: false,
      timeoutMs: Math.min(store.timeoutMs, 100),
    });
  } catch (error) {
    // The OS refuses the write (e.g. another user's 0644 registry): the
    // read still succeeds, with dead entries hidden, not written back.
    // Likewise a read-only or full file system.
    if (
      !(error instanceof Deno.errors.PermissionDenied) &&
      !(error instanceof LockTimeoutError) &&
      !UNWRITABLE.has(String((error as { code?: unknown }).code))
    ) {
      throw error;
    }
  }
}

/** The loops with their status, dead ones hidden and cleaned. */
export function* list(store: Store): Step<LoopInfo[]> {
  const { doc, torn } = yield* read(store);
  const judge = judgeOf(store);
  const loops: LoopInfo[] = [];
  let anyDead = false;
  for (const { entry } of doc.entries) {
    const status = judge.verdict(entry);
    if (status === "dead") anyDead = true;
    else loops.push(listed(entry, status));
  }
  if (anyDead || torn) yield* cleanAfterRead(store);
  return loops;
}

/** One loop with its status; `undefined` when absent or dead. */
export function* get(store: Store, id: string): Step<LoopInfo | undefined> {
  const { doc, torn } = yield* read(store);
  const entry = doc.entries.find((e) => e.entry.id === id)?.entry;
  if (entry === undefined) return undefined;
  const status = judgeOf(store).verdict(entry);
  if (status === "dead" || torn) yield* cleanAfterRead(store);
  return status === "dead" ? undefined : listed(entry, status);
}

/** One entry with its full verdict and reason; writes nothing. */
export function* inspect(
  store: Store,
  id: string,
): Step<LoopInspection | undefined> {
  const { doc } = yield* read(store);
  const entry = doc.entries.find((e) => e.entry.id === id)?.entry;
  if (entry === undefined) return undefined;
  return { ...copied(entry), ...judgeOf(store).explain(entry) };
}

/** Removes dead entries and orphans; returns how many. */
export function cleanStale(store: Store): Step<number> {
  return clean(store, { orphans: true });
}

/** Where a loop registered by this process runs, as an entry records it. */
function here(env: RegistryEnv): LoopOrigin | undefined {
  const local = env.origin?.();
  if (local?.hostId === undefined) return undefined;
  const origin: LoopOrigin = { hostId: local.hostId };
  if (local.hostname !== undefined) origin.hostname = local.hostname;
  if (local.pidNamespace !== undefined) {
    origin.pidNamespace = local.pidNamespace;
  }
  return origin;
}

function checkEntry(entry: LoopEntry): void {
  const current = (value: unknown) =>
    `current value is ${JSON.stringify(value)}`;
  if (!isValidLoopId(entry.id)) {
    throw new RangeError(
      `Cannot register loop as its id must have 1 to 256 characters and no control characters: ${
        current(entry.id)
      }`,
    );
  }
  if (!isValidPid(entry.pid)) {
    throw new RangeError(
      `Cannot register loop as its pid must be an integer from 1 to 4194304: ${
        current(entry.pid)
      }`,
    );
  }
  for (const field of ["started", "prompt", "workspace"] as const) {
    if (typeof entry[field] !== "string") {
      throw new TypeError(
        `Cannot register loop as its ${field} is not a string: ${
          current(entry[field])
        }`,
      );
    }
  }
  if (
    entry.worktreePath !== undefined && typeof entry.worktreePath !== "string"
  ) {
    throw new TypeError(
      `Cannot register loop as its worktreePath is not a string: ${
        current(entry.worktreePath)
      }`,
    );
  }
}

/** Registers `entry`, recording the process identity where readable. */
export function* register(store: Store, entry: LoopEntry): Step<string> {
  checkEntry(entry);
  const stored: LoopEntry = { ...entry };
  const identity = entry.identity ?? store.env.identify(entry.pid);
  if (identity !== undefined) stored.identity = identity;
  const origin = entry.origin ?? here(store.env);
  if (origin !== undefined) stored.origin = origin;
  return yield* change(store, (doc) => {
    const judge = judgeOf(store);
    const kept = withoutEntries(doc, removedByRegister(judge, stored));
    if (kept.entries.some((e) => e.entry.id === stored.id)) {
      throw new LoopIdTakenError(stored.id, store.paths.file);
    }
    return { doc: withEntry(kept, stored), result: stored.id };
  });
}

/** Removes the entries `target` selects (and dead ones). */
export function* remove(
  store: Store,
  target: (entry: LoopEntry) => boolean,
): Step<boolean> {
  return yield* change(store, (doc) => ({
    doc: withoutEntries(
      doc,
      removedByChange(judgeOf(store), target),
    ),
    result: doc.entries.some((e) => target(e.entry)),
  }), { create: false });
}

/** Removes the loops of `pid`, a pid of this host and namespace. */
export function removePid(store: Store, pid: number): Step<boolean> {
  const check = judgeOf(store);
  return remove(store, (e) => e.pid === pid && check.here(e));
}

function sameRegistration(a: LoopEntry, b: LoopEntry): boolean {
  return a.id === b.id && a.pid === b.pid && a.started === b.started;
}

/** Removes exactly `entry`'s registration (and dead entries). */
export function removeEntry(store: Store, entry: LoopEntry): Step<boolean> {
  return remove(store, (e) => sameRegistration(e, entry));
}

/**
 * Moves `entry`'s registration to `pid` in one change: same id, the pid's
 * identity and origin, `started` now. Returns the new entry.
 */
export function* reassign(
  store: Store,
  entry: LoopEntry,
  pid: number,
): Step<LoopEntry> {
  const moved: LoopEntry = {
    ...entry,
    pid,
    started: new Date().toISOString(),
  };
  delete moved.identity;
  checkEntry(moved);
  const identity = store.env.identify(pid);
  if (identity !== undefined) moved.identity = identity;
  return yield* change(store, (doc) => {
    const current = doc.entries.find((e) => e.entry.id === entry.id)?.entry;
    if (current === undefined) {
      throw new LoopNotFoundError(entry.id, store.paths.file);
    }
    if (!sameRegistration(current, entry)) {
      throw new LoopIdTakenError(entry.id, store.paths.file);
    }
    const judge = judgeOf(store);
    const kept = withoutEntries(
      doc,
      (e) => e === current || removedByRegister(judge, moved)(e),
    );
    return { doc: withEntry(kept, moved), result: moved };
  }, { create: false });
}

/** Removes the loop `id`. */
export function* deregister(store: Store, id: string): Step<void> {
  if (!(yield* remove(store, (e) => e.id === id))) {
    throw new LoopNotFoundError(id, store.paths.file);
  }
}
