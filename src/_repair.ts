// Repair: salvage a corrupt registry, never empty it. Every entry that still
// decodes is kept (see _salvage.ts: a file cut mid-entry, an entry with a
// wrong field, trailing garbage); the file's bytes, whole, are copied aside
// to `loops.json.corrupt-<time>` first, so nothing is lost. A healthy
// registry is left as it is (a torn write is rolled forward). A directory or
// FIFO in the file's place, or anything but a regular file in the journal's,
// is renamed aside (a rename never follows a link). Repair is a change: it
// needs a trusted registry (_trust.ts). It cannot fix, and says so: a
// symbolic link in the file's or `.ralph`'s place, `.ralph` not being a
// directory, a file over the 128 MiB bound.
import { decodeRegistry, encodeRegistry } from "./_codec.ts";
import {
  moveAside,
  rollForward,
  writeDurably,
  writeNewFile,
} from "./_durable_write.ts";
import { guarded, lstatOrUndefined, refuseSymlink } from "./_files.ts";
import { effectiveContent, readJournal } from "./_journal.ts";
import { acquire, readLocked, release } from "./_lock.ts";
import type { Store } from "./_operations.ts";
import { salvageRegistry } from "./_salvage.ts";
import type { Step } from "./_step.ts";
import { checkDirectory } from "./_trust.ts";
import { CorruptRegistryError } from "./errors.ts";

/** Repairs the registry; returns where the bad bytes went, if anywhere. */
export function* repair(store: Store): Step<string | undefined> {
  const { paths, hook } = store;
  const dir = lstatOrUndefined(paths.dir, paths);
  if (dir === undefined) return undefined;
  if (dir.isSymlink) refuseSymlink(paths.dir, "the registry directory");
  if (!dir.isDirectory) {
    throw new CorruptRegistryError(
      paths.file,
      `"${paths.dir}" is not a directory`,
      { kind: "not-directory" },
    );
  }
  checkDirectory(paths, dir, "change");
  const stamp = new Date().toISOString().replaceAll(":", "");
  const aside = `${paths.file}.corrupt-${stamp}`;
  let moved: string | undefined;
  const journal = lstatOrUndefined(paths.journal, paths);
  if (journal !== undefined && !journal.isFile) {
    // A FIFO, link or directory where the journal goes: no write could use
    // it. Renaming moves the link itself, never its target.
    moved = `${paths.journal}.corrupt-${stamp}`;
    const to = moved;
    guarded(
      "write",
      paths,
      `move "${paths.journal}"`,
      () => Deno.renameSync(paths.journal, to),
    );
  }
  const info = lstatOrUndefined(paths.file, paths);
  if (info?.isSymlink) {
    throw new CorruptRegistryError(
      paths.file,
      "it is a symbolic link; repair does not follow links",
      { kind: "symlink" },
    );
  }
  if (info !== undefined && !info.isFile) {
    // A directory or FIFO cannot be locked or rewritten in place: move it.
    moveAside(paths, aside);
    return aside;
  }
  if (info === undefined) return moved;
  const locked = yield* acquire(paths, {
    exclusive: true,
    timeoutMs: store.timeoutMs,
    create: false,
  });
  if (locked === undefined) return moved;
  try {
    // Over the bound: refused (CorruptRegistryError "too-large"), untouched.
    const current = readLocked(locked, paths.file);
    const { bytes, torn } = effectiveContent(current, readJournal(paths));
    try {
      // Encoding proves the content can be written back (nesting depth).
      encodeRegistry(decodeRegistry(bytes, paths.file), paths.file);
      if (torn) rollForward(locked, paths, current, bytes, hook);
      return moved;
    } catch (error) {
      if (!(error instanceof CorruptRegistryError)) throw error;
    }
    const { doc } = salvageRegistry(bytes, paths.file);
    writeNewFile(locked, paths, aside, current);
    writeDurably(
      locked,
      paths,
      current,
      encodeRegistry(doc, paths.file),
      hook,
    );
    return aside;
  } finally {
    release(locked);
  }
}
