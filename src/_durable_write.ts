// Durable in-place writes of the locked registry file, and the fault seam
// the crash tests use. The rules that make a write survive `kill -9` at any
// instant without a rename (a rename would break flock exclusion with ralph):
//
// 1. The journal record (old and new bytes) is written before the file is
//    touched.
// 2. The file is rewritten in place from offset 0, never truncated first; it
//    shrinks only after the new bytes are written.
// 3. The file is fdatasynced before the journal is emptied.
// 4. A real failure (no space, I/O error) puts the old bytes back; if that
//    fails too, the journal lets the next reader roll the write forward.
// 5. Rolling a torn write forward keeps the journal until the file is
//    synced: it is the only copy of the new bytes meanwhile.
// 6. The journal is opened and checked like every file written here (see
//    _files.ts): never through a link, never a swapped file; a new one gets
//    loops.json's mode and, when root makes it in a user's `.ralph/`, that
//    directory's owner and group. Root never changes an existing file's
//    owner or mode.
import { chmodThrough, createOwned } from "./_fd.ts";
import {
  checkRegularFile,
  guarded,
  JOURNAL_ADVICE,
  lstatOrUndefined,
  openExisting,
  type RegistryPaths,
  swappedError,
  verifyOpened,
  writeAll,
} from "./_files.ts";
import { clearJournal, encodeJournal, journalParts } from "./_journal.ts";
import { type Locked, MAX_REGISTRY_BYTES } from "./_lock.ts";
import { callerUid, checkFile } from "./_trust.ts";

/** Option key of the write fault seam (tests only; not exported by mod.ts). */
export const WRITE_HOOK: unique symbol = Symbol("loops.writeHook");

/** The named steps of a durable write, in order. */
export type WriteStep = "journal" | "write" | "truncate" | "sync" | "done";

/**
 * A fault seam for tests: called after each step of a durable write or a
 * roll-forward. A hook that throws simulates a crash at that point.
 */
export type WriteHook = (step: WriteStep) => void;

const PAGE = 4096;
/**
 * Up to this many old and new bytes, the journal record is copied into one
 * buffer and written at once (three writes cost more than the copy); above
 * it, its parts are written one by one (building the one record of a
 * 10,000-entry registry took 20 ms here, its parts 1.7).
 */
const JOURNAL_COPY_LIMIT = 256 * 1024;
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

/** Rewrites the file in place with `bytes`, shrinking it if needed. */
function rewrite(
  file: Deno.FsFile,
  bytes: Uint8Array,
  oldLength: number,
  step: WriteHook,
): void {
  file.seekSync(0, Deno.SeekMode.Start);
  writeAll(file, bytes);
  step("write");
  if (bytes.length < oldLength) file.truncateSync(bytes.length);
  step("truncate");
  file.syncDataSync();
  step("sync");
}

/**
 * Whether the journal the OS refused to open is an empty one of another
 * user in the caller's own `.ralph`, which the caller may replace.
 */
function replaceable(
  error: unknown,
  journal: Deno.FileInfo,
  owner: number,
): boolean {
  const me = callerUid();
  return error instanceof Deno.errors.PermissionDenied &&
    journal.size === 0 && me !== undefined && me === owner &&
    journal.uid !== me;
}

/**
 * Opens the journal for a new record (emptied through its descriptor),
 * following rule 6: an existing one is opened without create or truncate and
 * checked; a missing one is created with O_EXCL.
 *
 * @throws {Deno.errors.Busy} If the journal is swapped while opening it.
 * @throws {UntrustedRegistryError} If it fails the trust rule.
 */
function openJournal(locked: Locked, paths: RegistryPaths): Deno.FsFile {
  const what = "the journal";
  const path = paths.journal;
  // The journal holds the registry's bytes: whoever may read loops.json may
  // read the journal (a reader needs it to detect a torn write).
  const mode = (locked.info.mode ?? 0o600) & 0o666;
  const owner = locked.dir.uid ?? -1;
  return guarded("write", paths, `write "${path}"`, () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const existing = lstatOrUndefined(path, paths);
      if (existing === undefined) {
        const created = createOwned(
          paths,
          locked.dir,
          "loops.json.journal",
          mode,
          true,
        );
        if (created === undefined) continue;
        return created;
      }
      checkRegularFile(existing, path, what, JOURNAL_ADVICE);
      checkFile(paths, path, existing, owner, "change");
      let journal: Deno.FsFile | undefined;
      try {
        journal = openExisting(path, true, paths);
      } catch (error) {
        if (!replaceable(error, existing, owner)) throw error;
        // An empty journal another user (root, with an older version) left
        // in this user's own `.ralph`: replaced by one of its own. Unlinking
        // a name never follows a link, and only its owner or root can
        // change this directory.
        Deno.removeSync(path);
        continue;
      }
      if (journal === undefined) continue;
      try {
        const info = verifyOpened(journal, path, what, paths);
        if (info === undefined) throw swappedError(path, what);
        checkFile(paths, path, info, owner, "change");
        // Its mode follows loops.json's, changed only by its owner (never
        // by root in another user's registry).
        const me = callerUid();
        if (((info.mode ?? mode) & 0o777) !== mode && info.uid === me) {
          chmodThrough(path, info, mode, what, paths);
        }
        // Emptied through the descriptor (an open never truncates).
        if (info.size > 0) journal.truncateSync(0);
        return journal;
      } catch (error) {
        journal.close();
        throw error;
      }
    }
    throw swappedError(path, what);
  });
}

/**
 * Rewrites the locked file in place with `after` (padded to whole pages),
 * crash-safely, following the rules at the top of this module.
 *
 * @returns The bytes the file now holds.
 * @throws {RangeError} If the new content would pass the 128 MiB bound.
 */
export function writeDurably(
  locked: Locked,
  paths: RegistryPaths,
  before: Uint8Array,
  after: Uint8Array,
  hook?: WriteHook,
): Uint8Array {
  const padded = padToPage(after);
  if (padded.length <= MAX_REGISTRY_BYTES) after = padded;
  if (after.length > MAX_REGISTRY_BYTES) {
    throw new RangeError(
      `Cannot write registry "${paths.file}" as it would be ${after.length} bytes, over the ${
        MAX_REGISTRY_BYTES / 2 ** 20
      } MiB bound: remove entries or shorten long prompts`,
    );
  }
  const { file } = locked;
  using journal = openJournal(locked, paths);
  let simulated = false;
  const step: WriteHook = (name) => {
    try {
      hook?.(name);
    } catch (error) {
      simulated = true;
      throw error;
    }
  };
  // One write for a small record; a large one in parts, without a copy.
  if (before.length + after.length <= JOURNAL_COPY_LIMIT) {
    writeAll(journal, encodeJournal(before, after));
  } else {
    for (const part of journalParts(before, after)) writeAll(journal, part);
  }
  step("journal");
  try {
    rewrite(file, after, before.length, step);
  } catch (error) {
    // A real failure, not a simulated crash: put the old bytes back in place
    // (no new blocks are needed for that), so the failed call leaves the
    // registry as it was.
    if (!simulated) {
      try {
        rewrite(file, before, Infinity, () => {});
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
  return after;
}

/**
 * Completes a torn write in place with the journal's new bytes; the journal
 * is emptied only once the file is synced (rule 5).
 */
export function rollForward(
  { file }: Locked,
  paths: RegistryPaths,
  current: Uint8Array,
  after: Uint8Array,
  hook: WriteHook = () => {},
): void {
  rewrite(file, after, current.length, hook);
  clearJournal(paths);
  hook("done");
}

/**
 * Writes `bytes` to a new file `path` (O_EXCL, loops.json's mode, owned like
 * a new journal) and syncs it.
 */
export function writeNewFile(
  locked: Locked,
  paths: RegistryPaths,
  path: string,
  bytes: Uint8Array,
): void {
  const mode = (locked.info.mode ?? 0o600) & 0o666;
  guarded("write", paths, `write "${path}"`, () => {
    const name = path.slice(path.lastIndexOf("/") + 1);
    const created = createOwned(paths, locked.dir, name, mode, false);
    if (created === undefined) {
      throw new Deno.errors.AlreadyExists(
        `Cannot write "${path}" as something is already there: retry`,
      );
    }
    using copy = created;
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
