import type { ProcessIdentity } from "./process.ts";

/**
 * One registered loop. In the file the fields are snake_case, as ralph writes
 * them (`worktree_path`); identity is kept in `pid_start_time` and `boot_id`,
 * fields ralph ignores.
 */
export interface LoopEntry {
  /** Unique id, e.g. `loop-1764508593-a3f2`. */
  id: string;
  /** Process id of the loop. */
  pid: number;
  /** When the loop started, RFC 3339 UTC, e.g. `2026-11-30T13:16:33.123Z`. */
  started: string;
  /** The prompt or task the loop works on. */
  prompt: string;
  /** The loop's git worktree, absent when it runs in the main workspace. */
  worktreePath?: string;
  /** The workspace root the loop runs in. */
  workspace: string;
  /** Identity of the process when it registered, where it could be read. */
  identity?: ProcessIdentity;
  /**
   * Where it registered: the host, and the pid namespace its pid belongs to,
   * where they could be read. Entries of another host or namespace are not
   * probed by pid.
   */
  origin?: LoopOrigin;
}

/**
 * Where a loop registered. In the file: `host_id`, `hostname`, `pid_ns`.
 */
export interface LoopOrigin {
  /** A stable id of the host (a hash of its machine id). */
  hostId: string;
  /** The host name, for display. */
  hostname?: string;
  /**
   * The inode of the pid namespace the entry's pid is a number in (that of
   * the registering process).
   */
  pidNamespace?: number;
}

/**
 * Status of a listed loop.
 *
 * - `running`: the process is alive.
 * - `orphan`: the process is alive but its worktree is gone.
 * - `remote`: registered on another host or in another pid namespace (a
 *   container): its pid means nothing here, so it is not probed, never
 *   cleaned and never signalled from here.
 * - `unknown`: liveness cannot be checked (no `--allow-run`, or the pid may
 *   have been reused and nothing proves it either way).
 * - `stale`: an engine with leases (Redis) holds its lease, but the lease
 *   was last renewed two renewal intervals ago or more: its owner is hung
 *   or cut off from the server. It is listed until the lease ends. The
 *   file engine, which has no heartbeats, never reports it.
 */
export type LoopStatus =
  | "running"
  | "orphan"
  | "remote"
  | "unknown"
  | "stale";

/** A loop entry as returned by `list` and `get`, with its status. */
export interface LoopInfo extends LoopEntry {
  /** Status at the time of the call. */
  status: LoopStatus;
}

/** Options for {@linkcode createLoopEntry}. */
export interface CreateLoopEntryOptions {
  /**
   * The loop id.
   *
   * @default {generateLoopId()}
   */
  id?: string;
  /**
   * The loop's process id.
   *
   * @default {Deno.pid}
   */
  pid?: number;
  /**
   * The workspace root.
   *
   * @default {Deno.cwd()}
   */
  workspace?: string;
  /**
   * The loop's git worktree.
   *
   * @default {undefined}
   */
  worktreePath?: string;
  /**
   * The start time.
   *
   * @default {new Date()}
   */
  started?: Date;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Whether `id` may name a new loop: a string of 1 to 256 characters with no
 * control characters. (Entries read from a file are taken as they are.)
 *
 * @param id The value to check.
 * @returns `true` when `id` is a valid loop id.
 *
 * @example Check ids
 * ```ts
 * import { isValidLoopId } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isValidLoopId("loop-1764508593-a3f2"), true);
 * assert.equal(isValidLoopId(""), false);
 * assert.equal(isValidLoopId("a\nb"), false);
 * ```
 */
export function isValidLoopId(id: unknown): id is string {
  return typeof id === "string" && id.length >= 1 && id.length <= 256 &&
    !CONTROL.test(id);
}

/**
 * Generates a loop id in ralph's form `loop-{unix seconds}-{4 hex}`, the hex
 * digits from a cryptographic random source.
 *
 * @param now The time to take the seconds from.
 * @returns A new id.
 *
 * @example Generate an id
 * ```ts
 * import { generateLoopId } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * assert.match(generateLoopId(), /^loop-\d+-[0-9a-f]{4}$/);
 * ```
 */
export function generateLoopId(now: Date = new Date()): string {
  const bytes = crypto.getRandomValues(new Uint8Array(2));
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
  return `loop-${Math.floor(now.getTime() / 1000)}-${hex}`;
}

/**
 * Creates a loop entry, by default for the current process.
 *
 * Requires `--allow-read` for the current directory when `workspace` is not
 * given (it defaults to `Deno.cwd()`, as ralph uses the current directory).
 *
 * @param prompt The prompt or task of the loop.
 * @param options The id, pid, workspace, worktree and start time.
 * @returns The new entry.
 *
 * @example Create an entry
 * ```ts
 * import { createLoopEntry } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const entry = createLoopEntry("implement auth", {
 *   workspace: "/ws",
 *   worktreePath: "/ws/.worktrees/auth",
 * });
 * assert.equal(entry.pid, Deno.pid);
 * assert.match(entry.id, /^loop-\d+-[0-9a-f]{4}$/);
 * assert.equal(entry.worktreePath, "/ws/.worktrees/auth");
 * ```
 */
export function createLoopEntry(
  prompt: string,
  options: CreateLoopEntryOptions = {},
): LoopEntry {
  const started = options.started ?? new Date();
  const entry: LoopEntry = {
    id: options.id ?? generateLoopId(started),
    pid: options.pid ?? Deno.pid,
    started: started.toISOString(),
    prompt,
    workspace: options.workspace ?? Deno.cwd(),
  };
  if (options.worktreePath !== undefined) {
    entry.worktreePath = options.worktreePath;
  }
  return entry;
}
