// Opening and locking the registry file: the one place that takes, checks
// and releases the flock that excludes this module and ralph.
//
// - Shared locks open read-only, exclusive ones read-write. `create` makes
//   `.ralph/` and the file; without it a missing file is `undefined` and
//   nothing is created.
// - While the lock is held elsewhere, `acquire` waits by yielding (it holds
//   no lock then: see the Step rules in _step.ts) until its timeout.
// - After the lock is held, the path must still name the locked inode (an
//   editor may have replaced the file by rename): otherwise it reopens.
// - Closing the descriptor releases the lock.
import {
  checkRegularFile,
  guarded,
  lstatOrUndefined,
  permissionError,
  refuseSymlink,
  type RegistryPaths,
} from "./_files.ts";
import { sleep, type Step } from "./_step.ts";
import { CorruptRegistryError, LockTimeoutError } from "./errors.ts";

/** The registry may not grow past this many bytes. */
export const MAX_REGISTRY_BYTES = 16 * 1024 * 1024;

/** A registry file opened and locked by {@linkcode acquire}. */
export interface Locked {
  /** The open file, holding the lock. */
  file: Deno.FsFile;
  /** Its fstat, taken once the lock was held (size, mode, inode). */
  info: Deno.FileInfo;
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

/** Checks `.ralph`; creates it when `create`. Returns false when missing. */
export function ensureDir(paths: RegistryPaths, create: boolean): boolean {
  const info = lstatOrUndefined(paths.dir, paths);
  if (info === undefined) {
    if (!create) return false;
    guarded("write", paths, `create "${paths.dir}"`, () => {
      try {
        Deno.mkdirSync(paths.dir, { recursive: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
    });
    return ensureDir(paths, false);
  }
  if (info.isSymlink) refuseSymlink(paths.dir, "the registry directory");
  if (!info.isDirectory) {
    throw new CorruptRegistryError(
      paths.file,
      `"${paths.dir}" is not a directory`,
      { kind: "not-directory" },
    );
  }
  return true;
}

function open(
  paths: RegistryPaths,
  exclusive: boolean,
  create: boolean,
): Deno.FsFile | undefined {
  try {
    return exclusive
      ? Deno.openSync(paths.file, {
        read: true,
        write: true,
        create,
        mode: 0o600,
      })
      : Deno.openSync(paths.file, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !create) return undefined;
    throw permissionError(
      error,
      exclusive ? "write" : "read",
      paths.dir,
      `open registry "${paths.file}"`,
    );
  }
}

/**
 * Opens and locks the registry file; see the rules at the top of this
 * module. Returns `undefined` when the file does not exist and `create` is
 * false.
 *
 * @throws {LockTimeoutError} If the lock stays held past `timeoutMs`.
 * @throws {Deno.errors.Busy} If the file keeps being replaced while locking.
 */
export function* acquire(
  paths: RegistryPaths,
  options: AcquireOptions,
): Step<Locked | undefined> {
  const { exclusive, timeoutMs, create = exclusive } = options;
  const what = "it";
  const deadline = performance.now() + timeoutMs;
  let wait = 1;
  for (let attempt = 0; attempt <= 100; attempt++) {
    if (!ensureDir(paths, create)) return undefined;
    const before = lstatOrUndefined(paths.file, paths);
    if (before === undefined && !create) return undefined;
    if (before !== undefined) checkRegularFile(before, paths.file, what);
    const file = open(paths, exclusive, create);
    if (file === undefined) return undefined;
    let locked = false;
    try {
      while (!file.tryLockSync(exclusive)) {
        if (performance.now() >= deadline) {
          throw new LockTimeoutError(paths.file, timeoutMs);
        }
        yield* sleep(wait, paths.file);
        wait = Math.min(wait * 2, 8);
      }
      const info = file.statSync();
      const now = lstatOrUndefined(paths.file, paths);
      if (
        now !== undefined && !now.isSymlink && now.ino === info.ino &&
        now.dev === info.dev
      ) {
        if (!info.isFile) checkRegularFile(info, paths.file, what);
        locked = true;
        held++;
        return { file, info };
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
 * the new descriptor is at offset 0: no further fstat or seek.
 */
export function readLocked(
  { file, info }: Locked,
  path: string,
  limit: number = MAX_REGISTRY_BYTES,
): Uint8Array {
  const mib = limit / 2 ** 20;
  if (info.size > limit) {
    throw tooLarge(
      path,
      `it is ${info.size} bytes, over the ${limit} byte (${mib} MiB) limit`,
    );
  }
  let buffer = new Uint8Array(info.size + 1);
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
