import { LoopNotFoundError } from "./errors.ts";
import type { LoopEntry } from "./loop_entry.ts";
import type { LoopRegistry } from "./loop_registry.ts";
import type { Claim, HeartbeatResult } from "./registry.ts";
import { CLAIM_SIGNALS, signalExitCode } from "./_signals.ts";

/**
 * A loop claimed by this process with `LoopRegistry.prototype.claim`.
 * Disposing it (`await using`, {@linkcode LoopClaim.prototype.release})
 * deregisters the loop. While it is held, the `unload` event and SIGINT or
 * SIGTERM deregister it too; after a signal the process exits with 128 + the
 * signal number, as it would have without the handler.
 *
 * @example Release a claim by hand
 * ```ts
 * import { LoopRegistry } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const workspace = await Deno.makeTempDir();
 * const registry = new LoopRegistry(workspace);
 * const loop = await registry.claim("refactor", { handleSignals: false });
 * assert.equal(await loop.release(), true);
 * assert.equal(await loop.release(), false);
 * await Deno.remove(workspace, { recursive: true });
 * ```
 */
export class LoopClaim implements Claim, Disposable {
  #registry: LoopRegistry;
  #entry: LoopEntry;
  #released = false;
  #cleanups: (() => void)[] = [];

  /**
   * Constructs a handle for an entry that is already registered. Use
   * `LoopRegistry.prototype.claim` rather than this constructor.
   *
   * @param registry The registry the entry is in.
   * @param entry The registered entry.
   * @param handleSignals Whether to deregister on SIGINT, SIGTERM and unload.
   */
  constructor(
    registry: LoopRegistry,
    entry: LoopEntry,
    handleSignals: boolean,
  ) {
    this.#registry = registry;
    this.#entry = entry;
    if (!handleSignals) return;
    for (const signal of CLAIM_SIGNALS) {
      const handler = () => {
        this.#releaseQuietly();
        Deno.exit(signalExitCode(signal));
      };
      try {
        Deno.addSignalListener(signal, handler);
        this.#cleanups.push(() => Deno.removeSignalListener(signal, handler));
      } catch (error) {
        // Windows supports neither signal: unload still deregisters there.
        if (!(error instanceof TypeError)) throw error;
      }
    }
    const onUnload = () => this.#releaseQuietly();
    globalThis.addEventListener("unload", onUnload);
    this.#cleanups.push(() =>
      globalThis.removeEventListener("unload", onUnload)
    );
  }

  /** The loop id. */
  get id(): string {
    return this.#entry.id;
  }

  /** The registered entry. */
  get entry(): LoopEntry {
    return { ...this.#entry };
  }

  /**
   * Checks that the registry still holds this claim's entry. A file registry
   * has no leases to renew: the entry stays while its process lives.
   *
   * @returns `renewed` while the entry is there, `taken-over` when its id
   * now names another process or start, `lost` when it is gone.
   *
   * @example Check a claim
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * const registry = new LoopRegistry(workspace);
   * const loop = await registry.claim("t", { handleSignals: false });
   * assert.equal(await loop.heartbeat(), "renewed");
   * await registry.deregister(loop.id);
   * assert.equal(await loop.heartbeat(), "lost");
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  async heartbeat(): Promise<HeartbeatResult> {
    if (this.#released) return "lost";
    const found = await this.#registry.inspect(this.#entry.id);
    if (found === undefined) return "lost";
    return found.pid === this.#entry.pid &&
        found.started === this.#entry.started
      ? "renewed"
      : "taken-over";
  }

  #detach(): boolean {
    if (this.#released) return false;
    this.#released = true;
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    return true;
  }

  #releaseQuietly(): void {
    try {
      this.releaseSync();
    } catch {
      // At exit there is no caller to report to; the entry is cleaned as
      // dead by the next call once this process is gone.
    }
  }

  /**
   * Deregisters the loop and removes the signal handlers. Safe to call more
   * than once.
   *
   * @returns Whether the entry was still registered and is now removed.
   *
   * @example Release
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * const loop = await new LoopRegistry(workspace).claim("t", {
   *   handleSignals: false,
   * });
   * assert.equal(await loop.release(), true);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  async release(): Promise<boolean> {
    if (!this.#detach()) return false;
    try {
      await this.#registry.deregister(this.#entry.id);
      return true;
    } catch (error) {
      if (error instanceof LoopNotFoundError) return false;
      throw error;
    }
  }

  /**
   * Sync twin of {@linkcode LoopClaim.prototype.release}.
   *
   * @returns Whether the entry was still registered and is now removed.
   *
   * @example Release synchronously
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * using loop = await new LoopRegistry(workspace).claim("t", {
   *   handleSignals: false,
   * });
   * assert.equal(loop.releaseSync(), true);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  releaseSync(): boolean {
    if (!this.#detach()) return false;
    try {
      this.#registry.deregisterSync(this.#entry.id);
      return true;
    } catch (error) {
      if (error instanceof LoopNotFoundError) return false;
      throw error;
    }
  }

  /**
   * Releases the claim; used by `await using`.
   *
   * @example Dispose with await using
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = await Deno.makeTempDir();
   * const registry = new LoopRegistry(workspace);
   * {
   *   await using _loop = await registry.claim("t", { handleSignals: false });
   * }
   * assert.deepEqual(await registry.list(), []);
   * await Deno.remove(workspace, { recursive: true });
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /**
   * Releases the claim synchronously; used by `using`.
   *
   * @example Dispose with using
   * ```ts
   * import { LoopRegistry } from "@loops/registry";
   * import assert from "node:assert/strict";
   *
   * const workspace = Deno.makeTempDirSync();
   * const registry = new LoopRegistry(workspace);
   * {
   *   using _loop = await registry.claim("t", { handleSignals: false });
   * }
   * assert.deepEqual(registry.listSync(), []);
   * Deno.removeSync(workspace, { recursive: true });
   * ```
   */
  [Symbol.dispose](): void {
    this.releaseSync();
  }
}
