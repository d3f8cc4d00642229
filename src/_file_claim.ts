// The file engine's claim: a registered entry this process holds, released
// by `using`, `release`, a signal or unload. It removes exactly its own
// registration (same id, pid and start), never a loop that took its id over.
import type { LoopEntry } from "./loop_entry.ts";
import { type LoopClaim, releasedClaimError } from "./loop_claim.ts";
import type { HeartbeatResult, LoopInspection } from "./registry.ts";
import { CLAIM_SIGNALS, signalExitCode } from "./_signals.ts";

/** What a claim needs of its registry. */
export interface ClaimOps {
  inspect(id: string): Promise<LoopInspection | undefined>;
  /** Removes exactly `entry`'s registration; whether it was there. */
  remove(entry: LoopEntry): Promise<boolean>;
  removeSync(entry: LoopEntry): boolean;
  /** Moves `entry`'s registration to `pid`; returns the new entry. */
  reassign(entry: LoopEntry, pid: number): Promise<LoopEntry>;
}

/** A claim on a file registry; see {@linkcode LoopClaim}. */
export class FileClaim implements LoopClaim {
  #ops: ClaimOps;
  #entry: LoopEntry;
  #released = false;
  #cleanups: (() => void)[] = [];

  /**
   * @param ops The registry's operations on this entry.
   * @param entry The registered entry.
   * @param handleSignals Whether to deregister on SIGINT, SIGTERM and unload.
   */
  constructor(ops: ClaimOps, entry: LoopEntry, handleSignals: boolean) {
    this.#ops = ops;
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

  async heartbeat(): Promise<HeartbeatResult> {
    if (this.#released) return "lost";
    const found = await this.#ops.inspect(this.#entry.id);
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

  async reassign(pid: number): Promise<void> {
    if (this.#released) throw releasedClaimError(this.#entry.id);
    this.#entry = await this.#ops.reassign(this.#entry, pid);
  }

  async release(): Promise<boolean> {
    if (!this.#detach()) return false;
    return await this.#ops.remove(this.#entry);
  }

  releaseSync(): boolean {
    if (!this.#detach()) return false;
    return this.#ops.removeSync(this.#entry);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  [Symbol.dispose](): void {
    this.releaseSync();
  }
}
