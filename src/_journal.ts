// The journal: `loops.json.journal`, a file ralph never touches, holding the
// old and new bytes of the in-place write in progress.
//
// Record format (v2), encoded and parsed only here:
//
//     loops-journal-v2 <old length> <new length> <checksum>\n<old><new>
//
// The checksum (see `checksum`) covers both payloads. A record that is cut
// short, has a damaged or hostile header (negative, fractional or huge
// lengths) or a wrong checksum is no record at all. An empty or missing
// journal means nothing is in progress (learnt from one lstat).
//
// The torn-write shape: a process killed during an in-place rewrite leaves
// `new[0..k] + old[k..]`. Only that exact shape is rolled forward from the
// journal: any other difference between file and journal is someone else's
// later rewrite (ralph, an editor) and is left alone.
//
// Only a journal that passes the trust rule (_trust.ts: owned by the owner
// of `.ralph/` or root, not writable by others, one link) is relied on: one
// planted by another user could otherwise roll its own bytes forward.
import { sameBytes } from "./_bytes.ts";
import {
  guarded,
  lstatOrUndefined,
  openExisting,
  readUpTo,
  type RegistryPaths,
  sameFile,
  swappedError,
  verifyOpened,
} from "./_files.ts";
import { MAX_REGISTRY_BYTES } from "./_lock.ts";
import { callerUid, checkFile, exposed, fileTrusted } from "./_trust.ts";

const MAGIC = "loops-journal-v2";
const MAGIC_BYTES = new TextEncoder().encode(MAGIC);
const HEADER_MAX = 128;
const RECORD_LIMIT = 2 * MAX_REGISTRY_BYTES + HEADER_MAX;

/** The old and new content of an in-place write, from the journal. */
export interface Journal {
  before: Uint8Array;
  after: Uint8Array;
}

/** A parsed record header. */
interface Header {
  /** Bytes of the header, its newline included. */
  size: number;
  beforeLength: number;
  afterLength: number;
  checksum: number;
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

/**
 * The record of an in-place write of `after` over `before`, in the parts
 * written one after the other: header, old bytes, new bytes (no copy of a
 * large registry into one buffer).
 */
export function journalParts(
  before: Uint8Array,
  after: Uint8Array,
): Uint8Array[] {
  const header = new TextEncoder().encode(
    `${MAGIC} ${before.length} ${after.length} ${checksum(before, after)}\n`,
  );
  return [header, before, after];
}

/** Encodes the record of an in-place write of `after` over `before`. */
export function encodeJournal(
  before: Uint8Array,
  after: Uint8Array,
): Uint8Array {
  const parts = journalParts(before, after);
  const record = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    record.set(part, at);
    at += part.length;
  }
  return record;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (bytes[i] !== prefix[i]) return false;
  }
  return true;
}

/** Parses the header at the start of `bytes`; `undefined` when invalid. */
function parseHeader(bytes: Uint8Array): Header | undefined {
  if (!startsWith(bytes, MAGIC_BYTES)) return undefined;
  const newline = bytes.indexOf(10);
  if (newline < 0 || newline > HEADER_MAX) return undefined;
  const fields = new TextDecoder().decode(bytes.subarray(0, newline)).split(
    " ",
  );
  if (fields.length !== 4 || fields[0] !== MAGIC) return undefined;
  if (!fields.slice(1).every((f) => /^\d{1,10}$/.test(f))) return undefined;
  const [beforeLength, afterLength, sum] = fields.slice(1).map(Number) as [
    number,
    number,
    number,
  ];
  return { size: newline + 1, beforeLength, afterLength, checksum: sum };
}

function recordSize(header: Header): number {
  return header.size + header.beforeLength + header.afterLength;
}

/** Parses journal bytes; a torn, damaged or foreign record is `undefined`. */
export function parseJournal(bytes: Uint8Array): Journal | undefined {
  const header = parseHeader(bytes.subarray(0, HEADER_MAX));
  if (header === undefined || recordSize(header) !== bytes.length) {
    return undefined;
  }
  const before = bytes.subarray(header.size, header.size + header.beforeLength);
  const after = bytes.subarray(header.size + header.beforeLength);
  return checksum(before, after) === header.checksum
    ? { before, after }
    : undefined;
}

/**
 * Opens the journal to read it: read-only, or read-write where others could
 * swap a FIFO in and this process may write (a read-write open cannot
 * block). `undefined` when the OS refuses it (its mode lags a chmod of
 * loops.json: read the file alone, as a reader of ralph's would) or it is
 * gone.
 */
function openToRead(
  paths: RegistryPaths,
  dir: Deno.FileInfo,
  info: Deno.FileInfo,
): Deno.FsFile | undefined {
  const me = callerUid();
  const write = exposed(paths, dir) &&
    (me === undefined || me === 0 || info.uid === me) &&
    Deno.permissions.querySync({ name: "write", path: paths.journal })
        .state === "granted";
  for (const mode of write ? [true, false] : [false]) {
    try {
      return openExisting(paths.journal, mode, paths);
    } catch (error) {
      if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
    }
  }
  return undefined;
}

/**
 * Reads the journal's record bytes. `undefined` when there is none: no file
 * or an empty one (the usual case, learnt from one lstat), a record cut
 * short, or no valid header; also when the journal is not to be relied on
 * (it fails the trust rule, or was swapped while being opened). Bytes past
 * the record are ignored.
 */
export function readJournal(paths: RegistryPaths): Uint8Array | undefined {
  const info = lstatOrUndefined(paths.journal, paths);
  if (info === undefined || info.size === 0 || !info.isFile) return undefined;
  return guarded("read", paths, `read "${paths.journal}"`, () => {
    const dir = lstatOrUndefined(paths.dir, paths);
    if (dir === undefined || dir.isSymlink) return undefined;
    if (!fileTrusted(paths, paths.journal, info, dir.uid ?? -1)) {
      return undefined;
    }
    const opened = openToRead(paths, dir, info);
    if (opened === undefined) return undefined;
    using file = opened;
    // The descriptor must be the very file judged above.
    const now = file.statSync();
    if (!now.isFile || !sameFile(now, info)) return undefined;
    const head = readUpTo(file, Math.min(now.size, HEADER_MAX));
    const header = parseHeader(head);
    if (header === undefined) return undefined;
    const total = recordSize(header);
    if (total > RECORD_LIMIT || total > now.size) return undefined;
    const record = new Uint8Array(total);
    record.set(head.subarray(0, Math.min(head.length, total)));
    if (total > head.length) {
      record.set(readUpTo(file, total - head.length), head.length);
    }
    return record;
  });
}

/**
 * Empties a journal once the file no longer needs it, through a descriptor
 * checked against its path (see _files.ts); never through a link.
 *
 * @throws {Deno.errors.Busy} If the journal was swapped while opening it.
 * @throws {UntrustedRegistryError} If it fails the trust rule.
 */
export function clearJournal(paths: RegistryPaths): void {
  const info = lstatOrUndefined(paths.journal, paths);
  if (info === undefined || info.size === 0 || !info.isFile) return;
  guarded("write", paths, `write "${paths.journal}"`, () => {
    const dir = lstatOrUndefined(paths.dir, paths);
    const opened = openExisting(paths.journal, true, paths);
    if (opened === undefined) return;
    using journal = opened;
    const verified = verifyOpened(journal, paths.journal, "the journal", paths);
    if (verified === undefined || dir === undefined) {
      throw swappedError(paths.journal, "the journal");
    }
    checkFile(paths, paths.journal, verified, dir.uid ?? -1, "change");
    journal.truncateSync(0);
  });
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
  if (sameBytes(current, after) || sameBytes(current, before)) return false;
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
