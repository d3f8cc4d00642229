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
 * - `too-large`: the file is over the 16 MiB limit.
 * - `too-deep`: a value is nested too deeply to be written back.
 * - `not-regular`: a directory, FIFO or device is in the file's place.
 * - `not-directory`: `.ralph` is not a directory.
 * - `symlink`: the file, the journal or `.ralph` is a symbolic link.
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
}

/**
 * Error raised when the registry file cannot be read as a registry: it is
 * not JSON, not UTF-8, has an entry of the wrong shape, is too large, or is
 * not a regular file. The file's bytes are left untouched; the message names
 * the file and the fix, `kind` says what is wrong, and `cause` holds the
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
      `Cannot read registry "${path}" as ${reason}: fix the file by hand, or run 'loops repair' (registry.repair()) to move it aside and start empty`,
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
