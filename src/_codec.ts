// Pure encoding, decoding and transforms of the registry document.
import { CorruptRegistryError } from "./errors.ts";
import type { LoopEntry, LoopOrigin } from "./loop_entry.ts";
import type { ProcessIdentity } from "./process.ts";

/** An entry with the JSON object it came from (unknown fields kept). */
export interface StoredEntry {
  raw: Record<string, unknown>;
  entry: LoopEntry;
}

/** The decoded file: the top-level object (unknown fields kept) and entries. */
export interface RegistryDoc {
  top: Record<string, unknown>;
  entries: StoredEntry[];
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const encoder = new TextEncoder();

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** An empty registry document. */
export function emptyDoc(): RegistryDoc {
  return { top: { loops: [] }, entries: [] };
}

/**
 * Decodes registry bytes. An empty or all-whitespace file is an empty
 * registry; a leading UTF-8 byte order mark is skipped.
 */
export function decodeRegistry(bytes: Uint8Array, path: string): RegistryDoc {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (cause) {
    throw new CorruptRegistryError(path, "it is not valid UTF-8", {
      kind: "not-utf8",
      cause,
    });
  }
  if (text.trim() === "") return emptyDoc();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new CorruptRegistryError(
      path,
      `it is not valid JSON (${detail.split("\n")[0]})`,
      { kind: "not-json", cause },
    );
  }
  if (!isObject(value)) {
    throw new CorruptRegistryError(
      path,
      `its top level is not an object: current value is ${show(value)}`,
      { kind: "bad-shape" },
    );
  }
  const loops = value.loops ?? [];
  if (!Array.isArray(loops)) {
    throw new CorruptRegistryError(
      path,
      `"loops" is not an array: current value is ${show(loops)}`,
      { kind: "bad-shape" },
    );
  }
  const entries = loops.map((raw, index) => decodeEntry(raw, index, path));
  return { top: value, entries };
}

function decodeEntry(raw: unknown, index: number, path: string): StoredEntry {
  const fail = (field: string, expected: string, value: unknown): never => {
    const which = isObject(raw) && typeof raw.id === "string"
      ? `entry ${index} (id ${show(raw.id)})`
      : `entry ${index}`;
    throw new CorruptRegistryError(
      path,
      `${which} has ${field} that is not ${expected}: current value is ${
        show(value)
      }`,
      { kind: "bad-entry" },
    );
  };
  if (!isObject(raw)) return fail("a value", "an object", raw);
  for (const field of ["id", "started", "prompt", "workspace"]) {
    if (typeof raw[field] !== "string") {
      fail(`"${field}"`, "a string", raw[field]);
    }
  }
  if (typeof raw.pid !== "number") fail('"pid"', "a number", raw.pid);
  const worktree = raw.worktree_path;
  if (
    worktree !== undefined && worktree !== null && typeof worktree !== "string"
  ) {
    fail('"worktree_path"', "a string", worktree);
  }
  const entry = storedEntry(
    raw as unknown as RequiredFields,
    worktree,
    identityOf(raw.pid_start_time, raw.boot_id),
    originOf(raw.host_id, raw.hostname, raw.pid_ns),
  );
  return { raw, entry };
}

/** The fields every stored entry has, each already checked for its type. */
export type RequiredFields = Pick<
  LoopEntry,
  "id" | "pid" | "started" | "prompt" | "workspace"
>;

/**
 * A LoopEntry of only its own fields, from a stored entry's (both engines
 * read theirs through it): a worktree path that is not a string, and an
 * identity or origin that `identityOf`/`originOf` found malformed, count as
 * none.
 */
export function storedEntry(
  fields: RequiredFields,
  worktreePath: unknown,
  identity: ProcessIdentity | undefined,
  origin: LoopOrigin | undefined,
): LoopEntry {
  const entry: LoopEntry = {
    id: fields.id,
    pid: fields.pid,
    started: fields.started,
    prompt: fields.prompt,
    workspace: fields.workspace,
  };
  if (typeof worktreePath === "string") entry.worktreePath = worktreePath;
  if (identity !== undefined) entry.identity = identity;
  if (origin !== undefined) entry.origin = origin;
  return entry;
}

/**
 * A recorded identity from its stored values, or `undefined` when they are
 * malformed: treated as no identity (unknown, never "reused"). Both
 * engines read stored entries through it.
 */
export function identityOf(
  startTime: unknown,
  bootId: unknown,
): ProcessIdentity | undefined {
  return Number.isSafeInteger(startTime) && typeof bootId === "string"
    ? { startTime: startTime as number, bootId }
    : undefined;
}

/**
 * A recorded origin from its stored values, or `undefined` when the host
 * id is malformed: judged as an entry that records none. Malformed
 * optional fields are left out.
 */
export function originOf(
  hostId: unknown,
  hostname: unknown,
  pidNamespace: unknown,
): LoopOrigin | undefined {
  if (typeof hostId !== "string" || hostId === "") return undefined;
  const origin: LoopOrigin = { hostId };
  if (typeof hostname === "string") origin.hostname = hostname;
  if (Number.isSafeInteger(pidNamespace)) {
    origin.pidNamespace = pidNamespace as number;
  }
  return origin;
}

/** The file's JSON object for an entry, in ralph's field order. */
export function entryToRaw(entry: LoopEntry): Record<string, unknown> {
  const raw: Record<string, unknown> = {
    id: entry.id,
    pid: entry.pid,
    started: entry.started,
    prompt: entry.prompt,
  };
  if (entry.worktreePath !== undefined) raw.worktree_path = entry.worktreePath;
  raw.workspace = entry.workspace;
  if (entry.identity !== undefined) {
    raw.pid_start_time = entry.identity.startTime;
    raw.boot_id = entry.identity.bootId;
  }
  if (entry.origin !== undefined) {
    raw.host_id = entry.origin.hostId;
    if (entry.origin.hostname !== undefined) {
      raw.hostname = entry.origin.hostname;
    }
    if (entry.origin.pidNamespace !== undefined) {
      raw.pid_ns = entry.origin.pidNamespace;
    }
  }
  return raw;
}

// The text of each stored entry as it stands in the file (indented for its
// place in the array), by its raw object, which is never changed: a change
// of a registry of 10,000 entries stringifies only the entry it adds.
const entryTexts = new WeakMap<object, string>();
// Where the entries go in the text of the top-level object.
const SLOT = "\u0000loops\u0000";
const SLOT_JSON = JSON.stringify(SLOT);

function entryText(raw: Record<string, unknown>): string {
  let text = entryTexts.get(raw);
  if (text === undefined) {
    text = `    ${JSON.stringify(raw, null, 2).replaceAll("\n", "\n    ")}`;
    entryTexts.set(raw, text);
  }
  return text;
}

/** `JSON.stringify(top with doc's entries as loops, null, 2)`, by parts. */
function prettyJson(doc: RegistryDoc): string {
  const shell = JSON.stringify({ ...doc.top, loops: SLOT }, null, 2);
  const at = shell.indexOf(SLOT_JSON);
  if (at < 0 || shell.includes(SLOT_JSON, at + 1)) {
    // A field of the file holds the slot's text itself: the plain way.
    const top = { ...doc.top, loops: doc.entries.map((e) => e.raw) };
    return JSON.stringify(top, null, 2);
  }
  const loops = doc.entries.length === 0
    ? "[]"
    : `[\n${doc.entries.map((e) => entryText(e.raw)).join(",\n")}\n  ]`;
  return shell.slice(0, at) + loops + shell.slice(at + SLOT_JSON.length);
}

/** Encodes a document as ralph does: pretty JSON, two-space indent. */
export function encodeRegistry(
  doc: RegistryDoc,
  path = ".ralph/loops.json",
): Uint8Array {
  let text: string;
  try {
    text = prettyJson(doc);
  } catch (cause) {
    // JSON.parse accepts any depth; JSON.stringify recurses and overflows
    // the stack on a deeply nested (hostile) field.
    if (!(cause instanceof RangeError)) throw cause;
    throw new CorruptRegistryError(
      path,
      "a value in it is nested too deeply to be written back",
      { kind: "too-deep", cause },
    );
  }
  return encoder.encode(text);
}

/**
 * Returns a document without the entries `drop` selects: `doc` itself when
 * it selects none, so that callers tell "changed" by identity.
 */
export function withoutEntries(
  doc: RegistryDoc,
  drop: (entry: LoopEntry) => boolean,
): RegistryDoc {
  const entries = doc.entries.filter((e) => !drop(e.entry));
  return entries.length === doc.entries.length
    ? doc
    : { top: doc.top, entries };
}

/**
 * Returns a document with `entry` appended, as a decode of the file would
 * read it back (an empty host id, say, is no origin), so that the document
 * a change writes is the one its bytes decode to.
 */
export function withEntry(doc: RegistryDoc, entry: LoopEntry): RegistryDoc {
  const stored = decodeEntry(entryToRaw(entry), doc.entries.length, "");
  return { top: doc.top, entries: [...doc.entries, stored] };
}
