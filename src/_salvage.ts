// Salvage for repair: the entries of a damaged registry that still decode.
// Pure: bytes in, a document out.
//
// The bytes are walked as JSON text without trusting it: the top-level
// object's members, and in `"loops"` (or a top-level array) each element's
// extent, found by matching brackets outside strings. Each element is then
// decoded on its own (UTF-8, JSON, the entry shape, and being writable back);
// one that fails is dropped and the walk goes on after it. The walk stops
// where the text is cut short (a file truncated mid-entry keeps the entries
// before the cut); bytes after the top-level value (trailing garbage) are
// ignored. Top-level members other than `"loops"` are kept when they decode.
// The first entry of each id is kept.
import {
  decodeRegistry,
  encodeRegistry,
  type RegistryDoc,
  type StoredEntry,
} from "./_codec.ts";

/** What salvage kept and how much it dropped. */
export interface Salvaged {
  doc: RegistryDoc;
  /** Elements of the loops array that could not be kept. */
  dropped: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const decoder = new TextDecoder("utf-8", { fatal: true });

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function skipSpace(bytes: Uint8Array, i: number): number {
  while (i < bytes.length && isSpace(bytes[i])) i++;
  return i;
}

/** The end of the string starting at `i` (past its quote), or -1. */
function stringEnd(bytes: Uint8Array, i: number): number {
  for (let j = i + 1; j < bytes.length; j++) {
    if (bytes[j] === BACKSLASH) j++;
    else if (bytes[j] === QUOTE) return j + 1;
  }
  return -1;
}

/**
 * The end of the value starting at `i`, found by matching brackets outside
 * strings (not validated: the slice is parsed afterwards), or -1 when the
 * text ends first.
 */
function valueEnd(bytes: Uint8Array, i: number): number {
  const first = bytes[i];
  if (first === QUOTE) return stringEnd(bytes, i);
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    let j = i;
    while (
      j < bytes.length && !isSpace(bytes[j]) && bytes[j] !== COMMA &&
      bytes[j] !== CLOSE_BRACE && bytes[j] !== CLOSE_BRACKET
    ) j++;
    // A stray byte that starts nothing: one byte, dropped.
    return j === i ? i + 1 : j;
  }
  let depth = 0;
  for (let j = i; j < bytes.length; j++) {
    const byte = bytes[j];
    if (byte === QUOTE) {
      j = stringEnd(bytes, j) - 1;
      if (j < 0) return -1;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth++;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return -1;
}

function parseSlice(bytes: Uint8Array): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(decoder.decode(bytes)) };
  } catch {
    // Not UTF-8 or not JSON: not kept.
    return undefined;
  }
}

/** One element of the loops array as an entry, or `undefined`. */
function decodeElement(
  bytes: Uint8Array,
  path: string,
): StoredEntry | undefined {
  const parsed = parseSlice(bytes);
  if (parsed === undefined) return undefined;
  try {
    const doc = decodeRegistry(
      new TextEncoder().encode(JSON.stringify({ loops: [parsed.value] })),
      path,
    );
    // Writing it back must work too (a too deeply nested field).
    encodeRegistry(doc, path);
    return doc.entries[0];
  } catch {
    // Wrong shape, or too deep to write back: dropped.
    return undefined;
  }
}

/** Collects the entries of the array starting at `i`; returns its end. */
function salvageArray(
  bytes: Uint8Array,
  i: number,
  path: string,
  into: Map<string, StoredEntry>,
  counts: { dropped: number },
): number {
  i++;
  for (;;) {
    i = skipSpace(bytes, i);
    if (i >= bytes.length) return i;
    const byte = bytes[i];
    if (byte === CLOSE_BRACKET) return i + 1;
    if (byte === COMMA) {
      i++;
      continue;
    }
    const end = valueEnd(bytes, i);
    // Cut short: what follows the cut is lost.
    if (end < 0) {
      counts.dropped++;
      return bytes.length;
    }
    const entry = decodeElement(bytes.subarray(i, end), path);
    if (entry === undefined || into.has(entry.entry.id)) counts.dropped++;
    else into.set(entry.entry.id, entry);
    i = end;
  }
}

/**
 * Salvages what still decodes of a damaged registry; see the rules at the
 * top of this module. Never throws on bad bytes.
 */
export function salvageRegistry(bytes: Uint8Array, path: string): Salvaged {
  const entries = new Map<string, StoredEntry>();
  const counts = { dropped: 0 };
  const top: Record<string, unknown> = {};
  let i = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  i = skipSpace(bytes, i);
  if (bytes[i] === OPEN_BRACKET) {
    salvageArray(bytes, i, path, entries, counts);
  } else if (bytes[i] === OPEN_BRACE) {
    i++;
    for (;;) {
      i = skipSpace(bytes, i);
      if (i >= bytes.length || bytes[i] === CLOSE_BRACE) break;
      if (bytes[i] === COMMA) {
        i++;
        continue;
      }
      if (bytes[i] !== QUOTE) break;
      const keyEnd = stringEnd(bytes, i);
      const key = keyEnd < 0
        ? undefined
        : parseSlice(bytes.subarray(i, keyEnd));
      if (key === undefined || typeof key.value !== "string") break;
      i = skipSpace(bytes, keyEnd);
      if (bytes[i] !== COLON) break;
      i = skipSpace(bytes, i + 1);
      if (i >= bytes.length) break;
      if (key.value === "loops") {
        top.loops = [];
        if (bytes[i] === OPEN_BRACKET) {
          i = salvageArray(bytes, i, path, entries, counts);
          continue;
        }
      }
      const end = valueEnd(bytes, i);
      if (end < 0) break;
      const value = parseSlice(bytes.subarray(i, end));
      if (value !== undefined && key.value !== "loops" && writable(value)) {
        top[key.value] = value.value;
      }
      i = end;
    }
  }
  if (!("loops" in top)) top.loops = [];
  return {
    doc: { top, entries: [...entries.values()] },
    dropped: counts.dropped,
  };
}

function writable(parsed: { value: unknown }): boolean {
  try {
    JSON.stringify(parsed.value);
    return true;
  } catch {
    return false;
  }
}
