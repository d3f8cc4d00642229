// Opening and locking the registry file: the one place that takes, checks
// and releases the flock that excludes this module and ralph.
//
// - Shared locks open read-only (read-write where others could swap the
//   file, see `exposed` in _trust.ts), exclusive ones read-write. `create`
//   makes `.ralph/` and the file; without it a missing file is `undefined`
//   and nothing is created. The file rules of _files.ts apply: an existing
//   file is opened without create or truncate, a new one with O_EXCL.
// - An exclusive lock is for a change: `.ralph/`, its ancestors and the
//   file must pass the trust rule of _trust.ts, checked on lstats before
//   the open and on the descriptor after the lock.
// - While the lock is held elsewhere, `acquire` waits by yielding (it holds
//   no lock then: see the Step rules in _step.ts) until its timeout.
// - After the lock is held, the path must still name the locked inode (an
//   editor may have replaced the file by rename), and for a change `.ralph`
//   the directory checked before the open: otherwise it reopens.
// - Root creating `.ralph/` or the file in a user's workspace gives it to
//   that user (the workspace's owner, or `.ralph/`'s), through a descriptor.
// - Closing the descriptor releases the lock.
import { chownThrough, createOwned, mkdirFor } from "./_fd.ts";
import {
  checkRegularFile,
  dirMode,
  fileMode,
  guarded,
  lstatOrUndefined,
  openExisting,
  refuseSymlink,
  type RegistryPaths,
  sameFile,
} from "./_files.ts";
import { sleep, type Step } from "./_step.ts";
import {
  callerUid,
  checkAncestors,
  checkDirectory,
  checkFile,
  exposed,
} from "./_trust.ts";
import { CorruptRegistryError, LockTimeoutError } from "./errors.ts";

/**
 * The registry may not grow past this many bytes: a bound on this module's
 * memory (a change holds the old and new bytes, their journal record and the
 * decoded entries: about 8x the file at worst), not a format limit. ralph
 * has none; 128 MiB is far beyond any registry seen in use.
 */
export const MAX_REGISTRY_BYTES = 128 * 1024 * 1024;

/** A registry file opened and locked by {@linkcode acquire}. */
export interface Locked {
  /** The open file, holding the lock. */
  file: Deno.FsFile;
  /** Its fstat, taken once the lock was held (size, mode, inode, owner). */
  info: Deno.FileInfo;
  /** The lstat of `.ralph`, the same directory before and after the open. */
  dir: Deno.FileInfo;
}

/** Options for {@linkcode acquire}. */
export interface AcquireOptions {
  /** An exclusive lock (for a change) rather than a shared one. */
  exclusive: boolean;
  /** How long to wait for another holder, in milliseconds. */
  timeoutMs: number;
  /**
   * Create `.ralph/` and the file when missing.
   *
   * @default {exclusive}
   */
  create?: boolean;
}

// How many registry locks Steps of this process hold now: 0 at every yield
// (Step rule 3), which the checking test driver asserts.
let held = 0;

/** How many registry locks this process's Steps hold at this moment. */
export function heldLocks(): number {
  return held;
}

/**
 * How long to wait before trying a held lock again, in milliseconds: from
 * 50 us doubling up to a cap of 1 ms, each wait jittered down by up to half
 * so that waiting processes do not retry in step. A long cap starves
 * waiters: the holder's neighbours retry sooner and take the lock first (8
 * processes with a 1-8 ms backoff: p99 450 ms, least/most served 0.29).
 * Waiting in the kernel instead (an async `file.lock()`) is not done: a
 * `lock()` in flight cannot be cancelled, so after a timeout it would keep
 * the process alive and could take the lock for no Step (docs/performance.md).
 */
export function backoff(tries: number): number {
  return Math.min(1, 0.05 * 2 ** tries) * (1 - Math.random() / 2);
}

/** Gives a directory root just made to the owner of its parent. */
function adoptDir(paths: RegistryPaths, info: Deno.FileInfo): void {
  if (info.uid !== 0) return;
  let parent: Deno.FileInfo;
  try {
    parent = Deno.statSync(paths.workspace);
  } catch (error) {
    // The workspace cannot be read (scoped --allow-read): no owner to give.
    if (error instanceof Deno.errors.NotCapable) return;
    throw error;
  }
  if (parent.uid === 0 || parent.uid === null) return;
  chownThrough(
    paths.dir,
    info,
    {
      uid: parent.uid,
      gid: parent.gid ?? parent.uid,
    },
    "the registry directory",
    paths,
  );
}

/**
 * Checks `.ralph`; creates it when `create` (mode 0777 & ~umask, or 0700
 * for private files). Returns its lstat, `undefined` when missing.
 */
export function ensureDir(
  paths: RegistryPaths,
  create: boolean,
): Deno.FileInfo | undefined {
  const info = lstatOrUndefined(paths.dir, paths);
  if (info === undefined) {
    if (!create) return undefined;
    const made = guarded("write", paths, `create "${paths.dir}"`, () => {
      if (callerUid() === 0) {
        // Root makes it inside the workspace held open, for its owner.
        try {
          mkdirFor(paths.workspace, ".ralph", dirMode(paths), paths);
          return false;
        } catch (error) {
          // No -A (no /proc), or no workspace yet: as anyone else does.
          if (
            !(error instanceof Deno.errors.NotCapable) &&
            !(error instanceof Deno.errors.Busy)
          ) {
            throw error;
          }
        }
      }
      try {
        Deno.mkdirSync(paths.dir, { mode: dirMode(paths) });
        return true;
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) return false;
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      // The workspace itself is missing: make it with `.ralph` (which needs
      // write access to `.ralph` alone).
      Deno.mkdirSync(paths.dir, { recursive: true, mode: dirMode(paths) });
      return true;
    });
    const now = ensureDir(paths, false);
    if (made && now !== undefined) adoptDir(paths, now);
    return now === undefined ? undefined : ensureDir(paths, false);
  }
  if (info.isSymlink) refuseSymlink(paths.dir, "the registry directory");
  if (!info.isDirectory) {
    throw new CorruptRegistryError(
      paths.file,
      `"${paths.dir}" is not a directory`,
      { kind: "not-directory" },
    );
  }
  return info;
}

/**
 * Who will own a `.ralph/` this process creates: itself, or for root the
 * workspace's owner (see `adoptDir`).
 */
function futureOwner(paths: RegistryPaths): number {
  const me = callerUid();
  if (me !== undefined && me !== 0) return me;
  try {
    return Deno.statSync(paths.workspace).uid ?? 0;
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.NotCapable
    ) {
      return me ?? 0;
    }
    throw error;
  }
}

/** Creates the registry file with O_EXCL; `undefined` if it exists now. */
function createFile(
  paths: RegistryPaths,
  dir: Deno.FileInfo,
): Deno.FsFile | undefined {
  return createOwned(paths, dir, "loops.json", fileMode(paths), false);
}

/**
 * Opens the existing registry file for a lock. A shared lock opens
 * read-only, unless others could swap a FIFO in (then read-write where this
 * process may write, which cannot block).
 */
function openFile(
  paths: RegistryPaths,
  exclusive: boolean,
  dir: Deno.FileInfo,
  before: Deno.FileInfo,
): Deno.FsFile | undefined {
  if (exclusive) return openExisting(paths.file, true, paths);
  if (exposed(paths, dir)) {
    const me = callerUid();
    const mayWrite = (me === undefined || me === 0 || before.uid === me) &&
      Deno.permissions.querySync({ name: "write", path: paths.file })
          .state === "granted";
    if (mayWrite) {
      try {
        return openExisting(paths.file, true, paths);
      } catch (error) {
        // The OS refuses writing (mode, read-only file system): read-only.
        const code = String((error as { code?: unknown }).code);
        if (
          !(error instanceof Deno.errors.PermissionDenied) &&
          code !== "EROFS"
        ) {
          throw error;
        }
      }
    }
  }
  return openExisting(paths.file, false, paths);
}

/** Whether `.ralph` is still the directory `dir` is the lstat of. */
export function sameDir(paths: RegistryPaths, dir: Deno.FileInfo): boolean {
  const now = lstatOrUndefined(paths.dir, paths);
  return now !== undefined && !now.isSymlink && sameFile(now, dir);
}

/**
 * Opens and locks the registry file; see the rules at the top of this
 * module. Returns `undefined` when the file does not exist and `create` is
 * false.
 *
 * @throws {LockTimeoutError} If the lock stays held past `timeoutMs`.
 * @throws {Deno.errors.Busy} If the file keeps being replaced while locking.
 * @throws {UntrustedRegistryError} If a change is asked of a registry that
 * fails the trust rule.
 */
export function* acquire(
  paths: RegistryPaths,
  options: AcquireOptions,
): Step<Locked | undefined> {
  const { exclusive, timeoutMs, create = exclusive } = options;
  const what = "it";
  const deadline = performance.now() + timeoutMs;
  let tries = 0;
  for (let attempt = 0; attempt <= 100; attempt++) {
    let dir = ensureDir(paths, false);
    if (dir === undefined) {
      if (!create) return undefined;
      // Nothing is created under an untrusted ancestor.
      if (exclusive) checkAncestors(paths, futureOwner(paths), "change");
      dir = ensureDir(paths, true);
      if (dir === undefined) return undefined;
    }
    const owner = dir.uid ?? -1;
    if (exclusive) checkDirectory(paths, dir, "change");
    const before = lstatOrUndefined(paths.file, paths);
    if (before === undefined && !create) return undefined;
    if (before !== undefined) {
      checkRegularFile(before, paths.file, what);
      if (exclusive) checkFile(paths, paths.file, before, owner, "change");
    }
    const file = before === undefined
      ? createFile(paths, dir)
      : openFile(paths, exclusive, dir, before);
    // Created or removed meanwhile: look again.
    if (file === undefined) continue;
    let locked = false;
    try {
      while (!file.tryLockSync(exclusive)) {
        if (performance.now() >= deadline) {
          throw new LockTimeoutError(paths.file, timeoutMs);
        }
        yield* sleep(backoff(tries++), paths.file);
      }
      const info = file.statSync();
      const now = lstatOrUndefined(paths.file, paths);
      if (
        now !== undefined && !now.isSymlink && sameFile(now, info) &&
        (!exclusive || sameDir(paths, dir))
      ) {
        if (!info.isFile) checkRegularFile(info, paths.file, what);
        if (exclusive) checkFile(paths, paths.file, info, owner, "change");
        locked = true;
        held++;
        return { file, info, dir };
      }
    } finally {
      if (!locked) file.close();
    }
  }
  throw new Deno.errors.Busy(
    `Cannot lock registry "${paths.file}" as it was replaced 100 times while locking: stop the process that keeps replacing it`,
  );
}

/** Unlocks and closes a file taken by {@linkcode acquire}. */
export function release({ file }: Locked): void {
  // Closing the only descriptor of the open file releases its flock: an
  // explicit unlock would be one more system call for nothing.
  held--;
  file.close();
}

function tooLarge(path: string, detail: string): CorruptRegistryError {
  return new CorruptRegistryError(path, detail, { kind: "too-large" });
}

/**
 * Reads the whole of a file just locked by {@linkcode acquire}, refusing one
 * over `limit` bytes. The size comes from the fstat taken after locking, and
 * the new descriptor is at offset 0: no further fstat or seek. Reads into
 * `into` when it is large enough (a fresh 3 MB buffer, page faults and the
 * collector took 0.4-5 ms here, the read into a used one 0.17 ms).
 */
export function readLocked(
  { file, info }: Locked,
  path: string,
  limit: number = MAX_REGISTRY_BYTES,
  into?: Uint8Array,
): Uint8Array {
  const mib = limit / 2 ** 20;
  if (info.size > limit) {
    throw tooLarge(
      path,
      `it is ${info.size} bytes, over the ${limit} byte (${mib} MiB) limit`,
    );
  }
  let buffer = into !== undefined && into.length > info.size
    ? into
    : new Uint8Array(info.size + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > limit) {
        throw tooLarge(
          path,
          `it grew over the ${limit} byte (${mib} MiB) limit`,
        );
      }
      const grown = new Uint8Array(buffer.length * 2);
      grown.set(buffer);
      buffer = grown;
    }
    const wanted = buffer.length - length;
    const n = file.readSync(buffer.subarray(length));
    if (n === null || n === 0) break;
    length += n;
    // A short read of a regular file is its end: no second read for EOF.
    if (n < wanted) break;
  }
  return buffer.subarray(0, length);
}
