/**
 * The Redis engine of the loop registry, for loops on several machines:
 * {@linkcode openRedisRegistry} opens one namespace of a Redis (or Valkey)
 * server as a `Registry`. Its own entry point, so the core module keeps
 * zero dependencies; this one depends on `npm:@redis/client` (node-redis),
 * pinned.
 *
 * Requires `--allow-net=HOST:PORT` and
 * `--allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS`.
 *
 * @example Register, list and deregister on a shared server
 * ```ts ignore
 * import { openRedisRegistry } from "@loops/registry/redis";
 * import { createLoopEntry } from "@loops/registry";
 *
 * const registry = await openRedisRegistry("redis://127.0.0.1:6379", {
 *   namespace: "team-a",
 * });
 * const id = await registry.register(createLoopEntry("implement auth"));
 * console.log(await registry.list());
 * await registry.deregister(id);
 * await registry.close();
 * ```
 *
 * @module
 */
export {
  LeaseLostError,
  type LeaseLostKind,
  openRedisRegistry,
  type RedisClaim,
  type RedisClaimOptions,
  type RedisInspection,
  type RedisRegistry,
  type RedisRegistryOptions,
} from "./src/redis_registry.ts";
export { RedisUnavailableError } from "./src/redis_errors.ts";
// The interface types the Redis engine's API names, for a user of this
// entry point alone (the same types as the core module's).
export type {
  Claim,
  ClaimOptions,
  HeartbeatResult,
  LoopInspection,
  Registry,
  WatchOptions,
} from "./src/registry.ts";
export type { RegistryEnv } from "./src/registry_env.ts";
export type {
  LoopEntry,
  LoopInfo,
  LoopOrigin,
  LoopStatus,
} from "./src/loop_entry.ts";
export type {
  Liveness,
  LivenessReason,
  LocalOrigin,
  ProbeOptions,
  ProcessIdentity,
  ProcessVerdict,
} from "./src/process.ts";
