// Repair: move a corrupt registry aside and start an empty one. A healthy
// registry is left as it is (a torn write is rolled forward); a directory or
// FIFO in the file's place is renamed aside; a symbolic link is refused.
import { decodeRegistry, emptyDoc, encodeRegistry } from "./_codec.ts";
import {
  moveAside,
  rollForward,
  writeDurably,
  writeNewFile,
} from "./_durable_write.ts";
import { lstatOrUndefined } from "./_files.ts";
import { effectiveContent, readJournal } from "./_journal.ts";
import { acquire, MAX_REGISTRY_BYTES, readLocked, release } from "./_lock.ts";
import type { Store } from "./_operations.ts";
import type { Step } from "./_step.ts";
import { CorruptRegistryError } from "./errors.ts";

// Repair reads what a normal call refuses as too large, to move it aside.
const REPAIR_READ_LIMIT = 1024 * 1024 * 1024;

/** Repairs the registry; returns where the bad bytes went, if anywhere. */
export function* repair(store: Store): Step<string | undefined> {
  const { paths, hook } = store;
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
  const locked = yield* acquire(paths, {
    exclusive: true,
    timeoutMs: store.timeoutMs,
  });
  // An exclusive acquire creates the file: it is never missing here.
  if (locked === undefined) return undefined;
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
      if (torn) rollForward(locked, paths, current, bytes, hook);
      return undefined;
    } catch (error) {
      if (!(error instanceof CorruptRegistryError)) throw error;
    }
    writeNewFile(paths, aside, current);
    writeDurably(locked, paths, current, encodeRegistry(emptyDoc()), hook);
    return aside;
  } finally {
    release(locked);
  }
}
