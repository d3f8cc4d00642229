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
 * Error raised when the registry file cannot be read as a registry: it is
 * not JSON, not UTF-8, has an entry of the wrong shape, is too large, or is
 * not a regular file. The file's bytes are left untouched; the message names
 * the file and the fix, and `cause` holds the underlying `SyntaxError`,
 * `TypeError` or `RangeError`.
 *
 * @example Inspect a corrupt-registry error
 * ```ts
 * import { CorruptRegistryError } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const error = new CorruptRegistryError(
 *   "/ws/.ralph/loops.json",
 *   "it is not valid JSON",
 * );
 * assert.equal(error.name, "CorruptRegistryError");
 * assert.match(error.message, /loops repair/);
 * ```
 */
export class CorruptRegistryError extends Error {
  /** The registry file. */
  readonly path: string;

  /**
   * Constructs a new instance.
   *
   * @param path The registry file.
   * @param reason Why the file is unusable, e.g. `it is not valid JSON`.
   * @param options Standard error options, e.g. `cause`.
   */
  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(
      `Cannot read registry "${path}" as ${reason}: fix the file by hand, or run 'loops repair' (registry.repair()) to move it aside and start empty`,
      options,
    );
    this.name = "CorruptRegistryError";
    this.path = path;
  }
}
