/**
 * A registry of the agent loops running in a workspace, kept in
 * `.ralph/loops.json` and compatible with ralph-orchestrator's Rust code: the
 * same file, the same format, the same `flock`. It adds crash safety (a
 * process killed at any instant loses no acknowledged change), liveness you
 * can trust (reused pids, another user's processes, zombies), reads that do
 * not write, and errors that name the missing permission flag.
 *
 * @example Register a loop, list it, deregister it
 * ```ts
 * import { createLoopEntry, LoopRegistry } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const workspace = await Deno.makeTempDir();
 * const registry = new LoopRegistry(workspace, { lockTimeoutMs: 10_000 });
 * const id = await registry.register(
 *   createLoopEntry("implement auth", { workspace }),
 * );
 * assert.equal((await registry.list())[0]?.id, id);
 * await registry.deregister(id);
 * await Deno.remove(workspace, { recursive: true });
 * ```
 *
 * @module
 */
export {
  CorruptRegistryError,
  type CorruptRegistryErrorOptions,
  type CorruptRegistryKind,
  LockTimeoutError,
  LoopIdTakenError,
  LoopNotFoundError,
  type UntrustedReason,
  UntrustedRegistryError,
  type UntrustedRegistryErrorOptions,
} from "./src/errors.ts";
export type {
  Claim,
  ClaimOptions,
  HeartbeatResult,
  LoopInspection,
  Registry,
  WatchOptions,
} from "./src/registry.ts";
export {
  createLoopEntry,
  type CreateLoopEntryOptions,
  generateLoopId,
  isValidLoopId,
  type LoopEntry,
  type LoopInfo,
  type LoopOrigin,
  type LoopStatus,
} from "./src/loop_entry.ts";
export type { LoopClaim } from "./src/loop_claim.ts";
export { LoopRegistry, type LoopRegistryOptions } from "./src/loop_registry.ts";
export { defaultRegistryEnv, type RegistryEnv } from "./src/registry_env.ts";
export {
  explainProcess,
  isValidPid,
  type Liveness,
  type LivenessReason,
  type LiveProcessIdentity,
  type LocalOrigin,
  MAX_PID,
  type ProbeOptions,
  probeProcess,
  type ProcessIdentity,
  type ProcessVerdict,
  readLocalOrigin,
  readProcessIdentity,
  START_MARGIN_MS,
} from "./src/process.ts";
export { findWorkspace } from "./src/find_workspace.ts";
export {
  mayStop,
  type MayStopOptions,
  type StopDecision,
  type StopRefusal,
} from "./src/may_stop.ts";
