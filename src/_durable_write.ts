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
import {
  checkRegularFile,
  guarded,
  lstatOrUndefined,
  type RegistryPaths,
  writeAll,
} from "./_files.ts";
import { clearJournal, encodeJournal } from "./_journal.ts";
import { type Locked, MAX_REGISTRY_BYTES } from "./_lock.ts";

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

/** Opens the journal for a new record, refusing a link or special file. */
function openJournal(paths: RegistryPaths, mode: number): Deno.FsFile {
  const existing = lstatOrUndefined(paths.journal, paths);
  if (existing !== undefined) {
    checkRegularFile(existing, paths.journal, "the journal");
  }
  const journal = guarded(
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
  return journal;
}

/**
 * Rewrites the locked file in place with `after` (padded to whole pages),
 * crash-safely, following the rules at the top of this module.
 *
 * @throws {RangeError} If the new content would pass 16 MiB.
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
  // The journal holds the registry's bytes: whoever may read loops.json may
  // read the journal (a reader needs it to detect a torn write).
  using journal = openJournal(paths, (info.mode ?? 0o600) & 0o666);
  let simulated = false;
  const step: WriteHook = (name) => {
    try {
      hook?.(name);
    } catch (error) {
      simulated = true;
      throw error;
    }
  };
  writeAll(journal, encodeJournal(before, after));
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
