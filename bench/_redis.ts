// The Redis engine (issue 11): register, heartbeat and list at 1, 100 and
// 10,000 loops, and how soon another registry's watch sees a change, on a
// redis-server of the bench's own (loopback, no persistence), stopped at the
// end. Without redis-server the section says so and is skipped.
//
// Each size has its own namespace, filled with loops of another host (a
// process runs one loop, so one host's fixture of 10,000 needs 10,000
// distinct pids; loops of another host are judged by their lease alone, and
// their pids are never probed here), registered 64 at a time.
import { createLoopEntry, type LoopEntry } from "../mod.ts";
import { openRedisRegistry, type RedisRegistry } from "../redis.ts";
import { redisSkipReason, startRedis } from "../tests/_helpers/redis.ts";
import { type Case, measureAll, percentile } from "./_measure.ts";
import {
  type RedisKey,
  type RedisResult,
  type RedisSection,
  SIZES,
  type WatchLatency,
} from "./report/results.ts";

/** How long the Redis section runs. */
export interface RedisSettings {
  rounds: number;
  budgetMs: number;
  /** Changes timed per watch latency row (half registers, half deregisters). */
  watchSamples: number;
  onRound?: (n: number) => void;
}

/** Long enough that no fixture lease ends during a run. */
const TTL_MS = 3_600_000;
/** Registers in flight while filling a namespace. */
const IN_FLIGHT = 64;
/** Sizes the watch latency is measured at. */
const WATCH_SIZES = [1, 100] as const;

/** `redis-server --version`'s version, e.g. `7.0.15`. */
async function serverVersion(): Promise<string> {
  const output = await new Deno.Command("redis-server", {
    args: ["--version"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  return text.match(/v=(\S+)/)?.[1] ?? "unknown";
}

/** Loop `i` of the fixture: another host's, with its own pid. */
function remoteEntry(i: number): LoopEntry {
  return {
    ...createLoopEntry(`benchmark loop ${i}: implement the feature`, {
      id: `loop-1764508593-r${i.toString(16).padStart(4, "0")}`,
      pid: i + 1,
      workspace: "/srv/elsewhere/workspace",
      started: new Date(Date.UTC(2026, 10, 30, 13, 16, 33) + i),
    }),
    origin: { hostId: "bench-remote-host", hostname: "elsewhere" },
    identity: { startTime: 1000 + i, bootId: "bench-remote-boot" },
  };
}

/** Registers `count` fixture loops, `IN_FLIGHT` at a time; calls/s. */
async function fill(registry: RedisRegistry, count: number): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, count) }, async () => {
      while (next < count) await registry.register(remoteEntry(next++));
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

/** The next value of `iterator`, or an error after `ms`. */
async function nextWithin<T>(
  iterator: AsyncIterator<T>,
  ms: number,
): Promise<IteratorResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`Cannot time watch as no change came in ${ms} ms`),
            ),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Milliseconds from the start of a register (or deregister) through
 * `writer` until `watcher.watch()` yields the list with (or without) it.
 */
async function watchLatency(
  writer: RedisRegistry,
  watcher: RedisRegistry,
  entries: number,
  samples: number,
): Promise<WatchLatency> {
  const controller = new AbortController();
  const iterator = watcher.watch({
    signal: controller.signal,
    intervalMs: 60_000,
  })[Symbol.asyncIterator]();
  const latencies: number[] = [];
  try {
    await nextWithin(iterator, 5000);
    const entry = createLoopEntry("benchmark watch", {
      id: "loop-bench-watch",
      workspace: "/srv/bench",
    });
    for (let i = 0; i < samples; i++) {
      const adding = i % 2 === 0;
      const start = performance.now();
      if (adding) await writer.register(entry);
      else await writer.deregister(entry.id);
      for (;;) {
        const seen = await nextWithin(iterator, 5000);
        if (seen.done) throw new Error("Cannot time watch as it ended");
        const has = seen.value.some((loop) => loop.id === entry.id);
        if (has === adding) break;
      }
      latencies.push(performance.now() - start);
    }
    if (samples % 2 === 1) await writer.deregister(entry.id);
  } finally {
    controller.abort();
    await iterator.return?.();
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    entries,
    samples,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

/** The Redis section, or why it was not measured. */
export async function redisBench(
  settings: RedisSettings,
): Promise<RedisSection | { missing: string }> {
  const skip = redisSkipReason();
  if (skip !== undefined) return { missing: `${skip} (not on PATH)` };
  const server = await serverVersion();
  await using redis = await startRedis();
  const opened: RedisRegistry[] = [];
  const open = async (namespace: string) => {
    const registry = await openRedisRegistry(redis.url, {
      namespace,
      ttlMs: TTL_MS,
      workspace: "/srv/bench",
    });
    opened.push(registry);
    return registry;
  };
  try {
    const cases: (Case<RedisKey> & { entries?: number })[] = [];
    const registries = new Map<number, RedisRegistry>();
    let fillRate = 0;
    for (const size of SIZES) {
      const registry = await open(`bench-${size}`);
      registries.set(size, registry);
      const rate = await fill(registry, size);
      if (size === 10_000) fillRate = rate;
      const self = createLoopEntry("benchmark", {
        id: "loop-bench-self",
        workspace: "/srv/bench",
      });
      const slow = size >= 10_000;
      cases.push(
        {
          key: `redis.pair.${size}`,
          label: "register + deregister (per call)",
          entries: size,
          run: async () => {
            await registry.register(self);
            await registry.deregister(self.id);
          },
          callsPerRun: 2,
        },
        {
          key: `redis.list.${size}`,
          label: "list (loops of another host: lease only)",
          entries: size,
          run: () => registry.list(),
          minRuns: slow ? 3 : 20,
        },
      );
    }
    const claims = await open("bench-claim");
    await using claim = await claims.claim("benchmark heartbeat", {
      id: "loop-bench-claim",
      handleSignals: false,
    });
    cases.push({
      key: "redis.heartbeat",
      label: "claim().heartbeat(): renew the lease",
      run: () => claim.heartbeat(),
    });
    const rates = await measureAll(cases, {
      rounds: settings.rounds,
      budgetMs: settings.budgetMs,
      onRound: settings.onRound,
    });
    // Nothing may have been lost, nor the benchmark's own entry left.
    for (const [size, registry] of registries) {
      const listed = (await registry.list()).length;
      if (listed !== size) {
        throw new Error(
          `Cannot trust the run as the ${size}-loop namespace changed: ${listed} listed`,
        );
      }
    }
    const watch: WatchLatency[] = [];
    for (const size of WATCH_SIZES) {
      const watcher = await open(`bench-${size}`);
      watch.push(
        await watchLatency(
          registries.get(size)!,
          watcher,
          size,
          settings.watchSamples,
        ),
      );
    }
    const results: RedisResult[] = cases.map((item) => ({
      key: item.key,
      label: item.label,
      entries: item.entries,
      rate: rates.get(item.key)!,
    }));
    results.push({
      key: "redis.fill",
      label: `register, ${IN_FLIGHT} in flight (filling the namespace, once)`,
      entries: 10_000,
      rate: fillRate,
    });
    return {
      server,
      rounds: settings.rounds,
      budgetMs: settings.budgetMs,
      results,
      watch,
    };
  } finally {
    for (const registry of opened) await registry.close();
  }
}
