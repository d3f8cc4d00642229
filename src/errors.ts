/**
 * Error raised when a loop id is not in the registry.
 *
 * @example Catch a missing loop
 * ```ts
 * import { LoopNotFoundError } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const error = new LoopNotFoundError("loop-1-abcd", "/ws/.ralph/loops.json");
 * assert.equal(error.name, "LoopNotFoundError");
 * assert.equal(error.id, "loop-1-abcd");
 * ```
 */
export class LoopNotFoundError extends Error {
  /** The id that was looked up. */
  readonly id: string;
  /** The registry file that was searched. */
  readonly path: string;

  /**
   * Constructs a new instance.
   *
   * @param id The id that was not found.
   * @param path The registry file.
   * @param options Standard error options, e.g. `cause`.
   */
  constructor(id: string, path: string, options?: ErrorOptions) {
    super(
      `Cannot find loop ${
        JSON.stringify(id)
      } in registry "${path}": run 'loops list' to see the registered loops`,
      options,
    );
    this.name = "LoopNotFoundError";
    this.id = id;
    this.path = path;
  }
}

/**
 * Error raised when the registry lock could not be taken within
 * `lockTimeoutMs`.
 *
 * @example Inspect a timeout
 * ```ts
 * import { LockTimeoutError } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const error = new LockTimeoutError("/ws/.ralph/loops.json", 250);
 * assert.equal(error.name, "LockTimeoutError");
 * assert.equal(error.timeoutMs, 250);
 * ```
 */
export class LockTimeoutError extends Error {
  /** The registry file whose lock was awaited. */
  readonly path: string;
  /** How long the call waited, in milliseconds. */
  readonly timeoutMs: number;

  /**
   * Constructs a new instance.
   *
   * @param path The registry file.
   * @param timeoutMs How long the call waited.
   * @param options Standard error options, e.g. `cause`.
   */
  constructor(path: string, timeoutMs: number, options?: ErrorOptions) {
    super(
      `Cannot lock registry "${path}" as another process held it for ${timeoutMs} ms: retry, raise lockTimeoutMs, or find the holder with 'fuser ${path}'`,
      options,
    );
    this.name = "LockTimeoutError";
    this.path = path;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * What is wrong with a registry that cannot be read, in
 * {@linkcode CorruptRegistryError.prototype.kind}:
 *
 * - `not-utf8`: the bytes are not UTF-8.
 * - `not-json`: the text is not JSON.
 * - `bad-shape`: the top level is not an object, or `loops` not an array.
 * - `bad-entry`: an entry lacks a field or has one of the wrong type.
 * - `too-large`: the file is over the 128 MiB bound this module reads.
 * - `too-deep`: a value is nested too deeply to be written back.
 * - `not-regular`: a directory, FIFO or device is in the file's place.
 * - `not-directory`: `.ralph` is not a directory.
 * - `symlink`: the file, the journal or `.ralph` is a symbolic link.
 *
 * `repair()` fixes `not-utf8`, `not-json`, `bad-shape`, `bad-entry` and
 * `too-deep` (it keeps every entry that still decodes) and `not-regular`
 * (it moves the thing aside); the others need a person, and their messages
 * say what to do.
 */
export type CorruptRegistryKind =
  | "not-utf8"
  | "not-json"
  | "bad-shape"
  | "bad-entry"
  | "too-large"
  | "too-deep"
  | "not-regular"
  | "not-directory"
  | "symlink";

/** Options for {@linkcode CorruptRegistryError}. */
export interface CorruptRegistryErrorOptions extends ErrorOptions {
  /** What is wrong with the file. */
  kind: CorruptRegistryKind;
  /**
   * What to do about it, ending the message.
   *
   * @default {the advice for `kind`: `loops repair` where it can fix the case}
   */
  advice?: string;
}

const REPAIR =
  "run 'loops repair' (registry.repair()) to keep the entries that still decode and move the file aside, or fix it by hand";

/** What to do about each kind of unusable registry. */
function adviceFor(kind: CorruptRegistryKind): string {
  switch (kind) {
    case "too-large":
      return "shrink it by hand (remove entries or long prompts); this module reads at most 128 MiB to bound its memory";
    case "not-regular":
      return "run 'loops repair' (registry.repair()) to move it aside and start empty";
    case "not-directory":
      return "move it out of the way by hand; repair does not touch it";
    case "symlink":
      return "replace the link by the regular file or directory it points to (or remove it); this module never writes through a link";
    default:
      return REPAIR;
  }
}

/**
 * Error raised when the registry file cannot be read as a registry: it is
 * not JSON, not UTF-8, has an entry of the wrong shape, is too large, or is
 * not a regular file. The file's bytes are left untouched; the message names
 * the file and the fix (`loops repair` only where repair can fix it), `kind`
 * says what is wrong, and `cause` holds the
 * underlying error where there is one (the `SyntaxError` of `JSON.parse`,
 * the `TypeError` of the UTF-8 decoder).
 *
 * @example Inspect a corrupt-registry error
 * ```ts
 * import { CorruptRegistryError } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const error = new CorruptRegistryError(
 *   "/ws/.ralph/loops.json",
 *   "it is not valid JSON",
 *   { kind: "not-json" },
 * );
 * assert.equal(error.name, "CorruptRegistryError");
 * assert.equal(error.kind, "not-json");
 * assert.match(error.message, /loops repair/);
 * ```
 */
export class CorruptRegistryError extends Error {
  /** The registry file. */
  readonly path: string;
  /** What is wrong with it. */
  readonly kind: CorruptRegistryKind;

  /**
   * Constructs a new instance.
   *
   * @param path The registry file.
   * @param reason Why the file is unusable, e.g. `it is not valid JSON`.
   * @param options The kind, and a `cause` where there is one.
   */
  constructor(
    path: string,
    reason: string,
    options: CorruptRegistryErrorOptions,
  ) {
    super(
      `Cannot read registry "${path}" as ${reason}: ${
        options.advice ?? adviceFor(options.kind)
      }`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "CorruptRegistryError";
    this.path = path;
    this.kind = options.kind;
  }
}

/**
 * Error raised when a loop is registered with an id a live loop already
 * holds. A `Deno.errors.AlreadyExists`, so code that catches that keeps
 * working.
 *
 * @example Catch a taken id
 * ```ts
 * import { LoopIdTakenError } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const error = new LoopIdTakenError("loop-1-abcd", "/ws/.ralph/loops.json");
 * assert.ok(error instanceof Deno.errors.AlreadyExists);
 * assert.equal(error.id, "loop-1-abcd");
 * ```
 */
export class LoopIdTakenError extends Deno.errors.AlreadyExists {
  /** The id that is taken. */
  readonly id: string;
  /** The registry that holds it. */
  readonly path: string;

  /**
   * Constructs a new instance.
   *
   * @param id The taken id.
   * @param path The registry (a file, or a server's address).
   * @param options Standard error options.
   */
  constructor(id: string, path: string, options?: ErrorOptions) {
    super(
      `Cannot register loop ${
        JSON.stringify(id)
      } as that id is taken by a live loop in "${path}": choose another id`,
      options,
    );
    this.name = "LoopIdTakenError";
    this.id = id;
    this.path = path;
  }
}

/**
 * Why a registry is not trusted, in
 * {@linkcode UntrustedRegistryError.prototype.reason}:
 *
 * - `owner`: a path is owned by a user other than the caller (or, for root,
 *   other than the owner of `.ralph/`), and not by root.
 * - `writable`: a path is writable by group or others (a directory without
 *   the sticky bit; a group is fine when it is its owner's private group).
 * - `hard-links`: a registry file has more than one hard link, so it may be
 *   another file too.
 */
export type UntrustedReason = "owner" | "writable" | "hard-links";

/** Options for {@linkcode UntrustedRegistryError}. */
export interface UntrustedRegistryErrorOptions extends ErrorOptions {
  /** What makes the registry untrusted. */
  reason: UntrustedReason;
  /** The path at fault: `.ralph/`, a registry file or an ancestor. */
  offending: string;
  /** The owner of `offending`. */
  ownerUid: number;
  /** What to do about it, ending the message. */
  advice: string;
  /**
   * What was refused.
   *
   * @default {"change"}
   */
  act?: string;
}

/**
 * Error raised when a registry is refused a change or a signal because
 * someone other than the caller could have written it: `.ralph/`, its files
 * or an ancestor directory is owned by another user (root counts as trusted)
 * or writable by group or others, as git's `safe.directory` and OpenSSH's
 * `StrictModes` refuse. Reads still work. The message names the owner and
 * how to trust the workspace (`LOOPS_TRUST=<workspace>`, or the
 * `LoopRegistry` option `trusted: true`).
 *
 * A `Deno.errors.PermissionDenied`, so code that treats the OS refusing a
 * write as "read only" keeps working.
 *
 * @example Inspect an untrusted-registry error
 * ```ts
 * import { UntrustedRegistryError } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const error = new UntrustedRegistryError(
 *   "/ws/.ralph/loops.json",
 *   "is owned by uid 1000, not by you (uid 1001) or root",
 *   {
 *     reason: "owner",
 *     offending: "/ws/.ralph",
 *     ownerUid: 1000,
 *     advice: 'if you trust uid 1000, run again with LOOPS_TRUST="/ws"',
 *   },
 * );
 * assert.ok(error instanceof Deno.errors.PermissionDenied);
 * assert.equal(error.ownerUid, 1000);
 * assert.match(error.message, /LOOPS_TRUST/);
 * ```
 */
export class UntrustedRegistryError extends Deno.errors.PermissionDenied {
  /** The registry file. */
  readonly path: string;
  /** The path at fault. */
  readonly offending: string;
  /** The owner of the path at fault. */
  readonly ownerUid: number;
  /** What makes the registry untrusted. */
  readonly reason: UntrustedReason;

  /**
   * Constructs a new instance.
   *
   * @param path The registry file.
   * @param detail What is wrong with `offending`, e.g. `is writable by others`.
   * @param options The reason, the path at fault, its owner and the advice.
   */
  constructor(
    path: string,
    detail: string,
    options: UntrustedRegistryErrorOptions,
  ) {
    super(
      `Cannot ${
        options.act ?? "change"
      } registry "${path}" as "${options.offending}" ${detail}: ${options.advice}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "UntrustedRegistryError";
    this.path = path;
    this.offending = options.offending;
    this.ownerUid = options.ownerUid;
    this.reason = options.reason;
  }
}
