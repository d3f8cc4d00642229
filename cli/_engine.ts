// The one place the CLI chooses a storage engine: every command sees only
// the `Registry` interface. The engine is the file, LoopRegistry
// (`<workspace>/.ralph/loops.json`), unless --redis or LOOPS_REDIS_URL
// names a Redis server (namespace --namespace or LOOPS_NAMESPACE, default
// the workspace's name); the
// Redis engine is imported only then, so a file workspace pays nothing for
// it. Also what the CLI needs beyond the interface (a clean's preview).
import {
  type Claim,
  type ClaimOptions,
  defaultRegistryEnv,
  type LoopEntry,
  type LoopInfo,
  type LoopInspection,
  LoopRegistry,
  mayStop,
  type Registry,
  type RegistryEnv,
  type WatchOptions,
} from "../mod.ts";
import type { RedisRegistry } from "../redis.ts";
import { Judge, removedByClean } from "../src/_liveness.ts";
import { dirname } from "../src/_path.ts";
import { CliError, UsageError } from "./_errors.ts";

/** Options for {@linkcode openRegistry}. */
export interface OpenOptions {
  /**
   * How long a call waits for the lock, in milliseconds.
   *
   * @default {the engine's}
   */
  lockTimeoutMs?: number;
  /** `--redis`: the Redis server's URL. @default {LOOPS_REDIS_URL} */
  redis?: string;
  /** `--namespace`. @default {LOOPS_NAMESPACE, else the workspace's name} */
  namespace?: string;
  /**
   * The Redis engine's deadline of each call (`--lock-timeout`), in
   * milliseconds.
   *
   * @default {the engine's}
   */
  redisTimeoutMs?: number;
}

/**
 * The registry of `workspace` (an absolute path).
 *
 * @throws {UsageError} If a namespace is given without a Redis server.
 */
export function openRegistry(
  workspace: string,
  options: OpenOptions = {},
): Registry {
  const url = options.redis || readEnv("LOOPS_REDIS_URL");
  if (url !== undefined && url !== "") {
    const name = workspace.split("/").filter(Boolean).at(-1);
    return new LazyRedisRegistry(url, {
      namespace: options.namespace || readEnv("LOOPS_NAMESPACE") || name ||
        "default",
      workspace,
      timeoutMs: options.redisTimeoutMs,
    });
  }
  if (options.namespace !== undefined) {
    throw new UsageError(
      "Cannot use --namespace without a Redis server: add --redis URL or set LOOPS_REDIS_URL",
    );
  }
  return new LoopRegistry(workspace, { lockTimeoutMs: options.lockTimeoutMs });
}

/** An environment variable, or `undefined` when unset or not readable. */
function readEnv(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/** What `redis.ts` exports. */
type RedisModule = typeof import("../redis.ts");

/** How the CLI opens a Redis registry. */
interface RedisOptions {
  namespace: string;
  /** Recorded in the entries it registers (`-w`, or the one found). */
  workspace: string;
  timeoutMs?: number;
}

// The Redis engine's module, by a specifier Deno cannot follow before run
// time: with a literal `import("../redis.ts")` every start loads that graph
// (npm:@redis/client and the lockfile), a few ms of each `loops list`. `deno task
// compile` includes it by name (--include).
const REDIS_MODULE = new URL("../redis.ts", import.meta.url).href;

/**
 * The Redis engine, connected (and imported) on first use, so that opening
 * stays synchronous and costs nothing until a command reads or writes.
 */
class LazyRedisRegistry implements Registry {
  readonly location: string;
  #url: string;
  #options: RedisOptions;
  #opened: Promise<RedisRegistry> | undefined;

  constructor(url: string, options: RedisOptions) {
    this.#url = url;
    this.#options = options;
    const { namespace } = options;
    let where = "Redis";
    try {
      const parsed = new URL(url);
      where = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
    } catch {
      // openRedisRegistry reports the bad URL on first use.
    }
    this.location = `${where} [namespace ${namespace}]`;
  }

  #open(): Promise<RedisRegistry> {
    this.#opened ??= (import(REDIS_MODULE) as Promise<RedisModule>).then((
      { openRedisRegistry },
    ) => openRedisRegistry(this.#url, this.#options));
    return this.#opened;
  }

  async register(entry: LoopEntry): Promise<string> {
    return await (await this.#open()).register(entry);
  }
  async deregister(id: string): Promise<void> {
    await (await this.#open()).deregister(id);
  }
  async deregisterPid(pid: number): Promise<boolean> {
    return await (await this.#open()).deregisterPid(pid);
  }
  async get(id: string): Promise<LoopInfo | undefined> {
    return await (await this.#open()).get(id);
  }
  async list(): Promise<LoopInfo[]> {
    return await (await this.#open()).list();
  }
  async inspect(id: string): Promise<LoopInspection | undefined> {
    return await (await this.#open()).inspect(id);
  }
  async cleanStale(): Promise<number> {
    return await (await this.#open()).cleanStale();
  }
  /** A claim that registers again after losing its lease (`loops run`). */
  async claim(prompt: string, options?: ClaimOptions): Promise<Claim> {
    return await (await this.#open()).claim(prompt, {
      onLost: "re-register",
      ...options,
    });
  }
  async *watch(options?: WatchOptions): AsyncGenerator<LoopInfo[]> {
    yield* (await this.#open()).watch(options);
  }
  async close(): Promise<void> {
    const opened = this.#opened;
    this.#opened = undefined;
    if (opened !== undefined) {
      await (await opened.catch(() => undefined))?.close();
    }
  }
}

/** Whether the engine is shared by several machines (Redis). */
export function isShared(registry: Registry): boolean {
  return !(registry instanceof LoopRegistry);
}

/**
 * Throws when the engine would refuse changes for want of a permission, so
 * that `run` fails before it starts a command rather than kill it at once.
 *
 * @throws {Deno.errors.NotCapable} If the file engine lacks `--allow-write`.
 */
export function assertWritable(registry: Registry): void {
  if (!(registry instanceof LoopRegistry)) return;
  const dir = dirname(registry.path);
  if (
    Deno.permissions.querySync({ name: "write", path: dir }).state !==
      "granted"
  ) {
    throw new Deno.errors.NotCapable(
      `Cannot register the loop as write access is not granted: run again with --allow-write=${dir}`,
    );
  }
}

/**
 * Why this process must not signal `pid` on the registry's word, or
 * `undefined` when it may. For the file engine, `mayStop`: the process must
 * be the caller's (for root: the registry file owner's) and the registry
 * trusted. Other engines' entries come from a server whose access control
 * decides who may write them; their loops are signalled only when local and
 * verified, like every loop.
 */
export function stopRefusal(
  registry: Registry,
  pid: number,
): string | undefined {
  if (!(registry instanceof LoopRegistry)) return undefined;
  const decision = mayStop(registry.path, pid);
  return decision.allowed ? undefined : decision.message;
}

/** An entry `cleanStale` would remove, and why. */
export interface Stale extends LoopEntry {
  /** `dead`: its process is gone; `orphan`: alive, its worktree gone. */
  status: "dead" | "orphan";
}

// Probes that prove nothing: read with them, every entry is `unknown`, so
// the read lists them all and removes none.
const NO_PROBES: RegistryEnv = {
  probe: () => "unknown",
  identify: () => undefined,
  isDirectory: () => undefined,
};

/**
 * What `registry.cleanStale()` would remove now, judged by the engine's own
 * cleaning policy; changes nothing.
 *
 * @throws {CliError} If the engine cannot tell.
 */
export async function previewClean(
  registry: Registry,
  options: OpenOptions = {},
): Promise<Stale[]> {
  if (!(registry instanceof LoopRegistry)) {
    throw new CliError(
      `Cannot preview a clean of "${registry.location}" as its engine does not say what it would remove`,
    );
  }
  const all = await new LoopRegistry(registry.workspace, {
    lockTimeoutMs: options.lockTimeoutMs,
    env: NO_PROBES,
  }).list();
  const judge = new Judge(defaultRegistryEnv, registry.workspace);
  const removed = removedByClean(judge, { orphans: true });
  return all.filter(removed).map(({ status: _, ...entry }) => ({
    ...entry,
    status: judge.verdict(entry) === "orphan" ? "orphan" : "dead",
  }));
}
