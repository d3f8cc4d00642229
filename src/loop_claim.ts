import type { Claim } from "./registry.ts";

/**
 * A loop claimed with `LoopRegistry.prototype.claim` (or `claimSync`): a
 * {@linkcode Claim} with sync twins for exit handlers. Disposing it (`using`,
 * `await using`, `release`) deregisters the loop: exactly its own
 * registration, never a loop that took its id over. Unless claimed with
 * `handleSignals: false`, the `unload` event and SIGINT or SIGTERM
 * deregister it too; after a signal the process exits with 128 + the signal
 * number, as it would have without the handler.
 *
 * @example Release a claim by hand, then synchronously
 * ```ts
 * import { LoopRegistry } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const workspace = await Deno.makeTempDir();
 * const registry = new LoopRegistry(workspace);
 * const loop = await registry.claim("refactor", { handleSignals: false });
 * assert.equal(await loop.release(), true);
 * assert.equal(await loop.release(), false);
 * {
 *   using _sync = registry.claimSync("docs", { handleSignals: false });
 *   assert.equal(registry.listSync().length, 1);
 * }
 * assert.deepEqual(registry.listSync(), []);
 * await Deno.remove(workspace, { recursive: true });
 * ```
 */
export interface LoopClaim extends Claim, Disposable {
  /**
   * Sync twin of {@linkcode Claim.prototype.release}, for exit handlers.
   *
   * @returns Whether the entry was still registered and is now removed.
   */
  releaseSync(): boolean;
}

/**
 * What a released claim's `reassign()` throws, in both engines.
 *
 * @internal
 */
export function releasedClaimError(id: string): TypeError {
  return new TypeError(
    `Cannot reassign loop ${JSON.stringify(id)} as its claim is released`,
  );
}
