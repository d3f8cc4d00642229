/**
 * Error raised when the Redis server of a registry cannot be reached, does
 * not answer a call within its deadline, or refuses the credentials. A call
 * that timed out may still have been applied by the server: a claim's
 * lease tells the truth, not the failed call.
 *
 * @example Inspect an unavailable-server error
 * ```ts
 * import { RedisUnavailableError } from "@loops/registry/redis";
 * import assert from "node:assert/strict";
 *
 * const error = new RedisUnavailableError(
 *   "redis://127.0.0.1:6379/",
 *   "it did not answer within 5000 ms",
 * );
 * assert.equal(error.name, "RedisUnavailableError");
 * assert.equal(error.location, "redis://127.0.0.1:6379/");
 * assert.match(error.message, /did not answer/);
 * ```
 */
export class RedisUnavailableError extends Error {
  /** The server's address, without credentials. */
  readonly location: string;

  /**
   * Constructs a new instance.
   *
   * @param location The server's address, without credentials.
   * @param reason Why, e.g. `it did not answer within 5000 ms`.
   * @param options Standard error options, e.g. `cause`.
   */
  constructor(location: string, reason: string, options?: ErrorOptions) {
    super(`Cannot use Redis at "${location}" as ${reason}`, options);
    this.name = "RedisUnavailableError";
    this.location = location;
  }
}
