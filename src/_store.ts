// The one module that locks, reads and writes the registry file.
//
// Crash safety without rename (a rename would break flock exclusion with
// ralph): before rewriting `loops.json` in place, the old and new bytes are
// written to `loops.json.journal`. A process killed mid-write leaves the main
// file as new-prefix + old-tail; a reader that finds exactly that shape (and
// only that shape, so a later change by ralph or an editor is never undone)
// rolls the write forward from the journal. After the main file is fsynced
// the journal is truncated to zero bytes.
import { join } from "./_path.ts";
import { CorruptRegistryError, LockTimeoutError } from "./errors.ts";

/** The registry may not grow past this many bytes. */
export const MAX_REGISTRY_BYTES = 16 * 1024 * 1024;
const JOURNAL_MAGIC = "loops-journal-v2";
const JOURNAL_MAGIC_BYTES = new TextEncoder().encode(JOURNAL_MAGIC);

/** Where the registry of one workspace lives. */
export interface RegistryPaths {
  workspace: string;
  dir: string;
  file: string;
  journal: string;
}

/** The paths of the registry of `workspace` (an absolute path). */
export function registryPaths(workspace: string): RegistryPaths {
  const dir = join(workspace, ".ralph");
  const file = join(dir, "loops.json");
  return { workspace, dir, file, journal: `${file}.journal` };
}

/**
 * A step of an operation: a generator that yields how many milliseconds to
 * wait before retrying a lock. One definition serves both the sync API
 * (sleeps) and the async API (awaits a timer).
 */
export type Step<T> = Generator<number, T, void>;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Runs a step to completion, sleeping synchronously between retries. */
export function runSync<T>(step: Step<T>): T {
  for (let next = step.next();; next = step.next()) {
    if (next.done) return next.value;
    Atomics.wait(sleeper, 0, 0, next.value);
  }
}

/** Runs a step to completion, awaiting a timer between retries. */
export async function runAsync<T>(step: Step<T>): Promise<T> {
  for (let next = step.next();; next = step.next()) {
    if (next.done) return next.value;
    await new Promise((resolve) => setTimeout(resolve, next.value));
  }
}

/** Translates a missing Deno permission into an error naming the flag. */
export function permissionError(
  cause: unknown,
  kind: "read" | "write" | "run",
  scope: string | undefined,
  act: string,
): unknown {
  if (!(cause instanceof Deno.errors.NotCapable)) return cause;
  const flag = scope === undefined
    ? `--allow-${kind}`
    : `--allow-${kind}=${scope}`;
  return new Deno.errors.NotCapable(
    `Cannot ${act} as ${kind} access is not granted: run again with ${flag}`,
    { cause },
  );
}

function guarded<T>(
  kind: "read" | "write",
  paths: RegistryPaths,
  act: string,
  fn: () => T,
): T {
  try {
    return fn();
  } catch (error) {
    throw permissionError(error, kind, paths.dir, act);
  }
}

/** `lstat`, or `undefined` when the path does not exist. */
export function lstatOrUndefined(
  path: string,
  paths: RegistryPaths,
): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw permissionError(error, "read", paths.dir, `read "${path}"`);
  }
}

function refuseSymlink(path: string, what: string): never {
  throw new CorruptRegistryError(
    path,
    `${what} is a symbolic link, which could redirect writes elsewhere`,
    { kind: "symlink" },
  );
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

function checkRegularFile(info: Deno.FileInfo, path: string): void {
  if (info.isSymlink) refuseSymlink(path, "the registry file");
  if (!info.isFile) {
    throw new CorruptRegistryError(
      path,
      "it is not a regular file (a directory, FIFO or device is in its place)",
      { kind: "not-regular" },
    );
  }
}

/** A registry file opened and locked by {@linkcode acquire}. */
export interface Locked {
  /** The open file, holding the lock. */
  file: Deno.FsFile;
  /** Its fstat, taken once the lock was held (size, mode, inode). */
  info: Deno.FileInfo;
}

/**
 * Opens and locks the registry file. Shared locks open read-only; exclusive
 * locks open read-write and, when `create`, create `.ralph` and the file
 * (mode 0600). Without `create`, returns `undefined` when the file does not
 * exist. Waits by yielding, up to `timeoutMs`. After the
 * lock is held, checks that the path still names the locked inode (an editor
 * may have replaced the file by rename) and reopens when it does not.
 */
export function* acquire(
  paths: RegistryPaths,
  exclusive: boolean,
  timeoutMs: number,
  create: boolean = exclusive,
): Step<Locked | undefined> {
  const deadline = performance.now() + timeoutMs;
  let wait = 1;
  for (let attempt = 0;; attempt++) {
    if (!ensureDir(paths, create)) return undefined;
    const before = lstatOrUndefined(paths.file, paths);
    if (before === undefined && !create) return undefined;
    if (before !== undefined) checkRegularFile(before, paths.file);
    let file: Deno.FsFile;
    try {
      file = exclusive
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
    try {
      while (!file.tryLockSync(exclusive)) {
        if (performance.now() >= deadline) {
          throw new LockTimeoutError(paths.file, timeoutMs);
        }
        yield wait;
        wait = Math.min(wait * 2, 8);
      }
      const held = file.statSync();
      const now = lstatOrUndefined(paths.file, paths);
      if (
        now !== undefined && !now.isSymlink && now.ino === held.ino &&
        now.dev === held.dev
      ) {
        if (!held.isFile) checkRegularFile(held, paths.file);
        return { file, info: held };
      }
    } catch (error) {
      file.close();
      throw error;
    }
    file.close();
    if (attempt >= 100) {
      throw new Error(
        `Cannot lock registry "${paths.file}" as it was replaced 100 times while locking: stop the process that keeps replacing it`,
      );
    }
  }
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
  const size = info.size;
  if (size > limit) {
    throw new CorruptRegistryError(
      path,
      `it is ${size} bytes, over the ${limit} byte (${
        limit / 2 ** 20
      } MiB) limit`,
      { kind: "too-large" },
    );
  }
  let buffer = new Uint8Array(size + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (length > limit) {
        throw new CorruptRegistryError(
          path,
          `it grew over the ${limit} byte (${limit / 2 ** 20} MiB) limit`,
          { kind: "too-large" },
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

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    offset += file.writeSync(bytes.subarray(offset));
  }
}

/**
 * A 32-bit checksum of the journal's old and new bytes (MurmurHash3-style
 * mixing of 32-bit words, length included). It is there to tell a whole
 * record from a torn or damaged one, not to resist forgery; word-wise it costs
 * about 3 us per 8 KiB against 18 us for a byte-wise CRC-32 in JavaScript.
 */
export function checksum(...parts: Uint8Array[]): number {
  let h = 0x9747b28c;
  let total = 0;
  for (const part of parts) {
    total += part.length;
    const bytes = part.byteOffset % 4 === 0 ? part : part.slice();
    const words = new Uint32Array(
      bytes.buffer,
      bytes.byteOffset,
      bytes.length >>> 2,
    );
    for (let i = 0; i < words.length; i++) {
      let k = Math.imul(words[i]!, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    for (let i = words.length * 4; i < bytes.length; i++) {
      h = Math.imul(h ^ bytes[i]!, 0x01000193);
    }
  }
  h ^= total;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The old and new content of an in-place write, from the journal. */
export interface Journal {
  before: Uint8Array;
  after: Uint8Array;
}

/** Parses journal bytes; a torn or foreign journal is `undefined`. */
export function parseJournal(bytes: Uint8Array): Journal | undefined {
  const newline = bytes.indexOf(10);
  if (newline < 0 || newline > 100) return undefined;
  const header = new TextDecoder().decode(bytes.subarray(0, newline)).split(
    " ",
  );
  if (header.length !== 4 || header[0] !== JOURNAL_MAGIC) return undefined;
  if (!header.slice(1).every((f) => /^\d{1,10}$/.test(f))) return undefined;
  const [beforeLength, afterLength, crc] = header.slice(1).map(Number);
  const start = newline + 1;
  if (
    !Number.isSafeInteger(beforeLength) || !Number.isSafeInteger(afterLength) ||
    start + beforeLength! + afterLength! !== bytes.length
  ) {
    return undefined;
  }
  const before = bytes.subarray(start, start + beforeLength!);
  const after = bytes.subarray(start + beforeLength!);
  return checksum(before, after) === crc ? { before, after } : undefined;
}

const JOURNAL_HEADER_MAX = 128;
const JOURNAL_LIMIT = 2 * MAX_REGISTRY_BYTES + JOURNAL_HEADER_MAX;

/**
 * Reads the journal's record. `undefined` when there is none: no file or an
 * empty one (the usual case, learnt from one lstat), or no valid header.
 * Bytes past the record are ignored.
 */
export function readJournal(paths: RegistryPaths): Uint8Array | undefined {
  const info = lstatOrUndefined(paths.journal, paths);
  if (info === undefined || info.size === 0) return undefined;
  if (!info.isFile) return undefined;
  return guarded("read", paths, `read "${paths.journal}"`, () => {
    let opened: Deno.FsFile;
    try {
      opened = Deno.openSync(paths.journal, { read: true });
    } catch (error) {
      // The OS refuses this user the journal (its mode lags a chmod of
      // loops.json): read the file alone, as a reader of ralph's would.
      if (error instanceof Deno.errors.PermissionDenied) return undefined;
      throw error;
    }
    using file = opened;
    const head = readUpTo(file, Math.min(info.size, JOURNAL_HEADER_MAX));
    if (!startsWith(head, JOURNAL_MAGIC_BYTES)) return undefined;
    const newline = head.indexOf(10);
    if (newline < 0) return undefined;
    const fields = new TextDecoder().decode(head.subarray(0, newline)).split(
      " ",
    );
    // A hostile or damaged header (negative, fractional or huge lengths) is
    // no record at all.
    if (
      fields.length !== 4 || !fields.slice(1).every((f) => /^\d{1,10}$/.test(f))
    ) {
      return undefined;
    }
    const total = newline + 1 + Number(fields[1]) + Number(fields[2]);
    if (total > JOURNAL_LIMIT) return undefined;
    if (total > info.size) return undefined; // torn: the write never ended
    const record = new Uint8Array(total);
    record.set(head.subarray(0, Math.min(head.length, total)));
    if (total > head.length) {
      record.set(readUpTo(file, total - head.length), head.length);
    }
    return record;
  });
}

function readUpTo(file: Deno.FsFile, length: number): Uint8Array {
  const buffer = new Uint8Array(length);
  let offset = 0;
  while (offset < length) {
    const n = file.readSync(buffer.subarray(offset));
    if (n === null || n === 0) break;
    offset += n;
  }
  return buffer.subarray(0, offset);
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (bytes[i] !== prefix[i]) return false;
  }
  return true;
}

const PAGE = 4096;
const SPACE = 0x20;
const NEWLINE = 0x0a;

/**
 * Pads encoded JSON with trailing spaces and a newline to a whole number of
 * 4 KiB pages. JSON (and ralph's serde_json) ignore trailing whitespace; a
 * file whose size does not change is rewritten in place without a change of
 * metadata, which makes its fdatasync about half as dear.
 */
export function padToPage(json: Uint8Array): Uint8Array {
  const size = Math.ceil((json.length + 1) / PAGE) * PAGE;
  const padded = new Uint8Array(size).fill(SPACE, json.length, size - 1);
  padded.set(json);
  padded[size - 1] = NEWLINE;
  return padded;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether `current` is what an interrupted in-place write of `after` over
 * `before` leaves: `after[0..k] + before[k..]` for some k, other than
 * `before` and `after` themselves.
 */
export function isTornWrite(
  current: Uint8Array,
  before: Uint8Array,
  after: Uint8Array,
): boolean {
  if (equalBytes(current, after) || equalBytes(current, before)) return false;
  let prefix = 0;
  const limit = Math.min(current.length, after.length);
  while (prefix < limit && current[prefix] === after[prefix]) prefix++;
  if (current.length > before.length) return prefix === current.length;
  if (current.length !== before.length) return false;
  let suffix = current.length;
  while (suffix > 0 && current[suffix - 1] === before[suffix - 1]) suffix--;
  return suffix <= prefix;
}

/**
 * The content the registry holds: the file's bytes, or the journal's new
 * bytes when the file is a torn write of them.
 */
export function effectiveContent(
  current: Uint8Array,
  journalBytes: Uint8Array | undefined,
): { bytes: Uint8Array; torn: boolean } {
  if (journalBytes !== undefined) {
    const journal = parseJournal(journalBytes);
    if (journal && isTornWrite(current, journal.before, journal.after)) {
      return { bytes: journal.after, torn: true };
    }
  }
  return { bytes: current, torn: false };
}

/** Option key of the write fault seam (tests only; not exported by mod.ts). */
export const WRITE_HOOK: unique symbol = Symbol("loops.writeHook");

/** A fault seam for tests: called between the steps of a durable write. */
export type WriteHook = (
  step: "journal" | "write" | "truncate" | "sync" | "done",
) => void;

/**
 * Rewrites the locked file in place with `after` (padded to whole pages),
 * crash-safely: the journal record first, then the in-place write, truncate
 * (only when the file shrinks by a page or more) and fdatasync, then the
 * journal is emptied. Never truncates before writing. The file's size seldom
 * changes, so its fdatasync seldom has metadata to commit.
 */
export function writeDurably(
  { file, info }: Locked,
  paths: RegistryPaths,
  before: Uint8Array,
  after: Uint8Array,
  hook?: WriteHook,
): void {
  const padded = padToPage(after);
  if (padded.length <= MAX_REGISTRY_BYTES) after = padded;
  if (after.length > MAX_REGISTRY_BYTES) {
    throw new RangeError(
      `Cannot write registry "${paths.file}" as it would be ${after.length} bytes, over the 16 MiB limit`,
    );
  }
  const existing = lstatOrUndefined(paths.journal, paths);
  if (existing?.isSymlink) refuseSymlink(paths.journal, "the journal file");
  if (existing !== undefined && !existing.isFile) {
    // Opening a FIFO for writing would block forever; a directory fails.
    throw new CorruptRegistryError(
      paths.journal,
      "the journal is not a regular file (a directory, FIFO or device is in its place)",
      { kind: "not-regular" },
    );
  }
  // The journal holds the registry's bytes: whoever may read loops.json may
  // read the journal (a reader needs it to detect a torn write).
  const mode = (info.mode ?? 0o600) & 0o666;
  const header = new TextEncoder().encode(
    `${JOURNAL_MAGIC} ${before.length} ${after.length} ${
      checksum(before, after)
    }\n`,
  );
  const record = new Uint8Array(header.length + before.length + after.length);
  record.set(header);
  record.set(before, header.length);
  record.set(after, header.length + before.length);
  using journal = guarded(
    "write",
    paths,
    `write "${paths.journal}"`,
    () =>
      Deno.openSync(paths.journal, {
        write: true,
        create: true,
        truncate: true,
        mode,
      }),
  );
  if (existing !== undefined && ((existing.mode ?? mode) & 0o666) !== mode) {
    guarded(
      "write",
      paths,
      `chmod "${paths.journal}"`,
      () => Deno.chmodSync(paths.journal, mode),
    );
  }
  let simulated = false;
  const step = (name: Parameters<WriteHook>[0]) => {
    try {
      hook?.(name);
    } catch (error) {
      simulated = true;
      throw error;
    }
  };
  writeAll(journal, record);
  step("journal");
  try {
    file.seekSync(0, Deno.SeekMode.Start);
    writeAll(file, after);
    step("write");
    if (after.length < before.length) file.truncateSync(after.length);
    step("truncate");
    file.syncDataSync();
    step("sync");
  } catch (error) {
    // A real failure (no space left, I/O error), not a simulated crash: put
    // the old bytes back in place (no new blocks are needed for that), so the
    // failed call leaves the registry as it was. If that fails too, the
    // journal still lets the next reader roll the write forward.
    if (!simulated) {
      try {
        file.seekSync(0, Deno.SeekMode.Start);
        writeAll(file, before);
        file.truncateSync(before.length);
        file.syncDataSync();
        journal.truncateSync(0);
      } catch {
        // Keep the journal: the registry is recovered from it on next read.
      }
    }
    throw error;
  }
  // Emptied rather than cleared in place: a reader then learns from one
  // lstat (size 0) that there is nothing to recover.
  journal.truncateSync(0);
  step("done");
}

/**
 * Completes a torn write in place with the journal's new bytes. The journal
 * is left as it is until the file is synced: a crash or a failure (no space
 * left) meanwhile leaves another torn write of the same journal, which still
 * rolls forward. Rewriting the journal first would destroy the only copy of
 * the new bytes while the file is torn.
 */
export function rollForward(
  { file }: Locked,
  paths: RegistryPaths,
  current: Uint8Array,
  after: Uint8Array,
  hook?: WriteHook,
): void {
  file.seekSync(0, Deno.SeekMode.Start);
  writeAll(file, after);
  hook?.("write");
  if (current.length > after.length) file.truncateSync(after.length);
  hook?.("truncate");
  file.syncDataSync();
  hook?.("sync");
  clearJournal(paths);
  hook?.("done");
}

/** Empties a journal left by a crash once the file no longer needs it. */
export function clearJournal(paths: RegistryPaths): void {
  const info = lstatOrUndefined(paths.journal, paths);
  if (info === undefined || info.size === 0 || !info.isFile) return;
  guarded("write", paths, `write "${paths.journal}"`, () => {
    using journal = Deno.openSync(paths.journal, { write: true });
    journal.truncateSync(0);
  });
}

/** Unlocks and closes a file taken by {@linkcode acquire}. */
export function release({ file }: Locked): void {
  // Closing the only descriptor of the open file releases its flock: an
  // explicit unlock would be one more system call for nothing.
  file.close();
}

/** Writes `bytes` to a new file `path` (mode 0600) and syncs it. */
export function writeNewFile(
  paths: RegistryPaths,
  path: string,
  bytes: Uint8Array,
): void {
  guarded("write", paths, `write "${path}"`, () => {
    using copy = Deno.openSync(path, {
      write: true,
      createNew: true,
      mode: 0o600,
    });
    writeAll(copy, bytes);
    copy.syncDataSync();
  });
}

/** Renames whatever is at the registry's path (not a file) to `path`. */
export function moveAside(paths: RegistryPaths, path: string): void {
  guarded(
    "write",
    paths,
    `move "${paths.file}"`,
    () => Deno.renameSync(paths.file, path),
  );
}
