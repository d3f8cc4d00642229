// The Redis engine against a real server, with real processes: leases that
// outlive their owner only until the TTL, one winner of a race, claims that
// report `lost` when the server stops answering, a watch that resumes after
// a restart, and errors that name the cause. Deadlines below are upper
// bounds for "does not hang", never timings to meet.
import { ignoreOutsideCI } from "../_helpers/core.ts";
import assert from "node:assert/strict";
import {
  createLoopEntry,
  defaultRegistryEnv,
  type LoopEntry,
  type LoopInfo,
} from "../../mod.ts";
import {
  LeaseLostError,
  openRedisRegistry,
  type RedisRegistry,
  RedisUnavailableError,
} from "../../redis.ts";
import { namespaceKeys } from "../../src/_redis_scripts.ts";
import { lineReader } from "../_helpers/lines.ts";
import {
  type RedisServer,
  redisSkipReason,
  startRedis,
} from "../_helpers/redis.ts";

const CHILD = new URL("./_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const ENV_FLAG = "--allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS";

const skip = redisSkipReason();
function test(name: string, fn: (server: RedisServer) => Promise<void>) {
  if (ignoreOutsideCI(skip)) {
    Deno.test({
      name: `${name} (${skip})`,
      ignore: ignoreOutsideCI(skip),
      fn() {},
    });
    return;
  }
  Deno.test(name, async () => {
    await using server = await startRedis();
    await fn(server);
  });
}

async function until(
  what: string,
  check: () => Promise<boolean>,
  ms: number,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) {
      throw new Error(`Timed out after ${ms} ms waiting until ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Registers `entry` once the registry has reconnected to a restarted server. */
async function registerOnceBack(
  registry: RedisRegistry,
  entry: LoopEntry,
): Promise<void> {
  await until("the registry reconnects", async () => {
    try {
      await registry.register(entry);
      return true;
    } catch (error) {
      if (error instanceof RedisUnavailableError) return false;
      throw error;
    }
  }, 10_000);
}

function child(server: RedisServer, args: string[], read = false) {
  const flags = [`--allow-net=127.0.0.1:${server.port}`, ENV_FLAG];
  if (read) flags.push("--allow-read=/etc/machine-id");
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", `--config=${CONFIG}`, ...flags, CHILD, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  return { process, next: lineReader(process.stdout) };
}

function ids(loops: LoopInfo[]): string[] {
  return loops.map((loop) => loop.id).sort();
}

// Fake pids judged alive, with no origin: only leases decide.
const ALIVE = {
  ...defaultRegistryEnv,
  probe: () => "alive" as const,
  origin: () => ({}),
};

function open(
  server: RedisServer,
  namespace: string,
  ttlMs = 1500,
  env = defaultRegistryEnv,
): Promise<RedisRegistry> {
  return openRedisRegistry(server.url, {
    namespace,
    ttlMs,
    timeoutMs: 1000,
    workspace: "/ws",
    env,
  });
}

test("a kill -9 of a heartbeating loop on another host ends it after its lease, seen by watch", async (server) => {
  // Long enough that a loaded machine (tests run in parallel) does not
  // starve the child's renewals (every ttl / 3) past the lease.
  const ttl = 2500;
  const registry = await open(server, "kill9", ttl);
  try {
    const holder = child(server, [
      "claim",
      server.url,
      "kill9",
      "loop-kill-9",
      String(ttl),
      "another-host",
    ]);
    assert.equal(await holder.next(), "ready");
    // Renewals keep it listed past its first lease (as a remote loop: its
    // pid means nothing here).
    await new Promise((resolve) => setTimeout(resolve, 1.2 * ttl));
    const alive = await registry.get("loop-kill-9");
    assert.equal(alive?.status, "remote");

    const controller = new AbortController();
    const seen: string[][] = [];
    const watching = (async () => {
      for await (const loops of registry.watch({ signal: controller.signal })) {
        seen.push(ids(loops));
        if (loops.length === 0) controller.abort();
      }
    })();
    holder.process.kill("SIGKILL");
    await holder.process.status;
    while (await holder.next() !== undefined);
    const killed = performance.now();
    await until("the watch sees the expiry", async () => {
      await Promise.race([
        watching,
        new Promise((resolve) => setTimeout(resolve, 50)),
      ]);
      return controller.signal.aborted;
    }, ttl + 1000 + 2000);
    await watching;
    assert.ok(performance.now() - killed <= ttl + 3000);
    assert.deepEqual(seen[0], ["loop-kill-9"]);
    assert.deepEqual(seen.at(-1), []);
    assert.equal(await registry.get("loop-kill-9"), undefined);
    assert.equal((await registry.inspect("loop-kill-9"))?.liveness, "dead");
    assert.equal(await registry.cleanStale(), 1);
    assert.equal(await registry.inspect("loop-kill-9"), undefined);
  } finally {
    await registry.close();
  }
});

test("a kill -9 of a heartbeating loop on this host hides it at once", async (server) => {
  // A long lease: only the pid probe can hide the loop within this test.
  const registry = await openRedisRegistry(server.url, {
    namespace: "local",
    ttlMs: 60_000,
    timeoutMs: 1000,
  });
  try {
    const holder = child(server, [
      "claim",
      server.url,
      "local",
      "loop-local",
      "60000",
    ], true);
    assert.equal(await holder.next(), "ready");
    const listed = await registry.get("loop-local");
    assert.equal(listed?.pid, holder.process.pid);
    assert.equal(listed?.status, "running");
    holder.process.kill("SIGKILL");
    await holder.process.status;
    while (await holder.next() !== undefined);
    assert.equal(await registry.get("loop-local"), undefined);
    assert.deepEqual(await registry.list(), []);
    assert.equal(await registry.cleanStale(), 1);
  } finally {
    await registry.close();
  }
});

test("a SIGTERM of a claiming process deregisters its loop before it exits", async (server) => {
  // A long lease and another host: only the deregistration can remove it.
  const registry = await open(server, "term", 60_000);
  try {
    const holder = child(server, [
      "claim-signals",
      server.url,
      "term",
      "loop-term",
      "60000",
      "another-host",
    ]);
    assert.equal(await holder.next(), "ready");
    assert.equal((await registry.get("loop-term"))?.status, "remote");
    holder.process.kill("SIGTERM");
    assert.equal((await holder.process.status).code, 143);
    while (await holder.next() !== undefined);
    assert.equal(await registry.get("loop-term"), undefined);
    assert.equal(await registry.inspect("loop-term"), undefined);
  } finally {
    await registry.close();
  }
});

test("20 processes racing to register one id: exactly one wins", async (server) => {
  const racers = Array.from(
    { length: 20 },
    () => child(server, ["race", server.url, "race", "loop-race"]),
  );
  for (const racer of racers) assert.equal(await racer.next(), "ready");
  const go = new TextEncoder().encode("go\n");
  await Promise.all(racers.map(async (racer) => {
    const writer = racer.process.stdin.getWriter();
    await writer.write(go);
    await writer.close();
  }));
  const results = await Promise.all(racers.map((racer) => racer.next()));
  for (const racer of racers) {
    assert.equal((await racer.process.status).code, 0);
    while (await racer.next() !== undefined);
  }
  assert.equal(results.filter((r) => r === "won").length, 1, `${results}`);
  assert.equal(results.filter((r) => r === "taken").length, 19);
  const registry = await open(server, "race");
  try {
    const winner = racers[results.indexOf("won")]!;
    assert.equal(
      (await registry.inspect("loop-race"))?.pid,
      winner.process.pid,
    );
  } finally {
    await registry.close();
  }
});

test("a stopped server: every claim reports lost by its deadline, nothing hangs", async (server) => {
  const ttl = 1200;
  const registry = await open(server, "stopped", ttl, ALIVE);
  const claims = await Promise.all(
    [1, 2, 3].map((n) =>
      registry.claim(`loop ${n}`, { pid: 4_000_000 + n, handleSignals: false })
    ),
  );
  const phoenix = await registry.claim("re-registers", {
    pid: 4_000_009,
    handleSignals: false,
    onLost: "re-register",
  });
  const events: string[] = [];
  const regained = new Promise<void>((resolve) => {
    phoenix.addEventListener("lost", (event) => {
      assert.ok((event as CustomEvent).detail instanceof LeaseLostError);
      events.push("lost");
    });
    phoenix.addEventListener("regained", () => {
      events.push("regained");
      resolve();
    });
  });
  const lost = Promise.all(
    claims.map((claim) =>
      new Promise<unknown>((resolve) =>
        claim.signal.addEventListener(
          "abort",
          () => resolve(claim.signal.reason),
        )
      )
    ),
  );
  let stopped = true;
  Deno.kill(server.pid, "SIGSTOP");
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reasons = await Promise.race([
      lost,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("claims did not report lost")),
          ttl + 3000,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    for (const reason of reasons) {
      assert.ok(reason instanceof LeaseLostError);
      assert.equal(reason.kind, "unconfirmed");
    }
    await assert.rejects(registry.list(), RedisUnavailableError);
    assert.deepEqual(events, ["lost"]);
    assert.equal(phoenix.signal.aborted, false);
    Deno.kill(server.pid, "SIGCONT");
    stopped = false;
    // The server's clock went on: the leases ended; the re-registering
    // claim holds its id again, and a new claim works.
    await Promise.race([
      regained,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error("not regained")), 5000)
      ),
    ]);
    assert.deepEqual(events, ["lost", "regained"]);
    const again = await registry.claim("again", {
      pid: 4_000_010,
      handleSignals: false,
    });
    assert.deepEqual(ids(await registry.list()), [again.id, phoenix.id].sort());
    assert.equal(await phoenix.heartbeat(), "renewed");
    assert.equal(await again.release(), true);
    assert.equal(await phoenix.release(), true);
    for (const claim of claims) assert.equal(await claim.release(), false);
  } finally {
    if (stopped) Deno.kill(server.pid, "SIGCONT");
    await registry.close();
  }
});

test("a claim's renewals notice a take-over and abort its signal", async (server) => {
  const registry = await open(server, "taken", 600, ALIVE);
  try {
    const claim = await registry.claim("mine", {
      pid: 3_200_001,
      handleSignals: false,
    });
    const aborted = new Promise<unknown>((resolve) =>
      claim.signal.addEventListener(
        "abort",
        () => resolve(claim.signal.reason),
      )
    );
    await registry.deregister(claim.id);
    await registry.register(
      createLoopEntry("theirs", {
        id: claim.id,
        pid: 3_200_002,
        workspace: "/ws",
      }),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reason = await Promise.race([
      aborted,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("not aborted")), 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.ok(reason instanceof LeaseLostError);
    assert.equal(reason.kind, "taken-over");
    assert.equal(await claim.release(), false);
    assert.equal((await registry.get(claim.id))?.prompt, "theirs");
  } finally {
    await registry.close();
  }
});

test("watch() resumes after the server restarts", async (server) => {
  const port = server.port;
  const registry = await openRedisRegistry(server.url, {
    namespace: "restart",
    timeoutMs: 1000,
    env: ALIVE,
  });
  let restarted: RedisServer | undefined;
  try {
    const before = createLoopEntry("before", {
      pid: 4_100_001,
      workspace: "/ws",
    });
    const after = createLoopEntry("after", {
      pid: 4_100_002,
      workspace: "/ws",
    });
    await registry.register(before);
    const controller = new AbortController();
    const seen: string[][] = [];
    for await (
      const loops of registry.watch({
        signal: controller.signal,
        intervalMs: 200,
      })
    ) {
      seen.push(ids(loops));
      if (seen.length === 1) {
        // No persistence: the restarted server is empty, its stream ids
        // start again below the watch's last id.
        await server[Symbol.asyncDispose]();
        restarted = await startRedis({ port });
        await registerOnceBack(registry, after);
      } else if (loops.some((loop) => loop.id === after.id)) {
        controller.abort();
      }
    }
    assert.deepEqual(seen[0], [before.id]);
    assert.deepEqual(seen.at(-1), [after.id]);
  } finally {
    await registry.close();
    await restarted?.[Symbol.asyncDispose]();
  }
});

test("watch() resumes when the server goes away under its blocking read", async (server) => {
  const port = server.port;
  const registry = await open(server, "underneath", 60_000, ALIVE);
  let restarted: RedisServer | undefined;
  const controller = new AbortController();
  const guard = setTimeout(() => controller.abort(), 30_000);
  try {
    const after = createLoopEntry("after", {
      pid: 4_100_003,
      workspace: "/ws",
    });
    const seen: string[][] = [];
    const watching = (async () => {
      // A long refresh and no lease near its end: between changes the
      // watch sits in one XREAD BLOCK, which the restart cuts.
      for await (
        const loops of registry.watch({
          signal: controller.signal,
          intervalMs: 60_000,
        })
      ) {
        seen.push(ids(loops));
        if (loops.some((loop) => loop.id === after.id)) controller.abort();
      }
    })();
    await until(
      "the watch lists",
      () => Promise.resolve(seen.length > 0),
      5000,
    );
    // Let the watch's XREAD reach the server, then take the server away.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server[Symbol.asyncDispose]();
    restarted = await startRedis({ port });
    await registerOnceBack(registry, after);
    await watching;
    assert.deepEqual(seen[0], []);
    assert.deepEqual(seen.at(-1), [after.id], "the watch never saw it");
  } finally {
    clearTimeout(guard);
    await registry.close();
    await restarted?.[Symbol.asyncDispose]();
  }
});

test("a restarted server with AOF keeps the loops; claims and watch carry on", async (server) => {
  const dir = await Deno.makeTempDir({ prefix: "loops_redis_aof_" });
  await server[Symbol.asyncDispose]();
  const aof = ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir];
  let current = await startRedis({ port: server.port, args: aof });
  const registry = await open(current, "aof", 4000, ALIVE);
  try {
    const claim = await registry.claim("survives", {
      pid: 3_400_001,
      handleSignals: false,
    });
    const controller = new AbortController();
    const seen: string[][] = [];
    const other = createLoopEntry("after", {
      pid: 3_400_002,
      workspace: "/ws",
    });
    for await (
      const loops of registry.watch({
        signal: controller.signal,
        intervalMs: 200,
      })
    ) {
      seen.push(loops.map((loop) => loop.id));
      if (seen.length === 1) {
        await current[Symbol.asyncDispose]();
        current = await startRedis({ port: server.port, args: aof });
        await registerOnceBack(registry, other);
      } else if (loops.some((loop) => loop.id === other.id)) {
        controller.abort();
      }
    }
    assert.deepEqual(seen[0], [claim.id]);
    // Listed once each: the claim's registration outlived the restart.
    assert.deepEqual(seen.at(-1)?.sort(), [claim.id, other.id].sort());
    assert.equal(await claim.heartbeat(), "renewed");
    assert.equal(claim.signal.aborted, false);
    assert.equal(await claim.release(), true);
  } finally {
    await registry.close();
    await current[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

test("an ACL user limited to its namespace's keys works there only", async (server) => {
  assert.equal(
    await server.command(
      "ACL",
      "SETUSER",
      "team",
      "on",
      ">pw",
      "~loops:{team}:*",
      "+@all",
    ),
    "+OK",
  );
  const url = server.url.replace("redis://", "redis://team:pw@");
  const mine = await openRedisRegistry(url, { namespace: "team", env: ALIVE });
  const other = await openRedisRegistry(url, { namespace: "other" });
  try {
    const entry = createLoopEntry("t", { pid: 3_300_001, workspace: "/ws" });
    await mine.register(entry);
    assert.deepEqual(ids(await mine.list()), [entry.id]);
    assert.ok(!mine.location.includes("pw"));
    await assert.rejects(other.list(), /NOPERM|can't access/);
  } finally {
    await mine.close();
    await other.close();
  }
});

test("an entry the engine did not write is never listed", async (server) => {
  const registry = await open(server, "foreign", 60_000, ALIVE);
  try {
    const entry = createLoopEntry("mine", { pid: 3_300_002, workspace: "/ws" });
    await registry.register(entry);
    const [lease, entries] = namespaceKeys("loops:", "foreign");
    await server.command("HSET", entries!, "bad", "{not json");
    await server.command("ZADD", lease!, "9999999999999", "bad");
    assert.deepEqual(ids(await registry.list()), [entry.id]);
    assert.equal(await registry.get("bad"), undefined);
  } finally {
    await registry.close();
  }
});

test("a wrong password is a clear error", async () => {
  if (skip !== undefined) return;
  await using server = await startRedis({ args: ["--requirepass", "secret"] });
  const wrong = server.url.replace("redis://", "redis://:wrong@");
  await assert.rejects(
    openRedisRegistry(wrong, { timeoutMs: 5000 }),
    (error: unknown) =>
      error instanceof RedisUnavailableError &&
      /refused the credentials \(WRONGPASS/.test(error.message) &&
      !error.message.includes("wrong@"),
  );
  const right = server.url.replace("redis://", "redis://:secret@");
  const registry = await openRedisRegistry(right, { timeoutMs: 5000 });
  assert.deepEqual(await registry.list(), []);
  await registry.close();
});

Deno.test({
  name: "openRedisRegistry() names the missing --allow-net flag",
  permissions: { env: true },
  async fn() {
    await assert.rejects(
      openRedisRegistry("redis://127.0.0.1:6390"),
      (error: unknown) =>
        error instanceof Deno.errors.NotCapable &&
        error.message.includes("--allow-net=127.0.0.1:6390"),
    );
  },
});

Deno.test({
  name: "openRedisRegistry() names the env variables node-redis reads",
  permissions: { net: ["127.0.0.1:6390"] },
  async fn() {
    await assert.rejects(
      openRedisRegistry("redis://127.0.0.1:6390"),
      (error: unknown) =>
        error instanceof Deno.errors.NotCapable &&
        error.message.includes(ENV_FLAG),
    );
  },
});

Deno.test("openRedisRegistry() refuses a bad URL or namespace", async () => {
  await assert.rejects(openRedisRegistry("http://127.0.0.1"), TypeError);
  await assert.rejects(openRedisRegistry("not a url"), TypeError);
  await assert.rejects(
    openRedisRegistry("redis://127.0.0.1", { namespace: "a}b" }),
    TypeError,
  );
  await assert.rejects(
    openRedisRegistry("redis://127.0.0.1", { ttlMs: 0 }),
    RangeError,
  );
});

test("a lease not renewed for two intervals is stale, then gone; watch wakes for it", async (server) => {
  // A: registered, never renewed (a third of 3 s is the renewal interval).
  // B: claimed with a 6 s lease, renewed every 2 s: never stale here.
  const a = await open(server, "stale", 3000, ALIVE);
  const b = await open(server, "stale", 6000, ALIVE);
  const controller = new AbortController();
  try {
    const claim = await b.claim("renewed", {
      pid: 3_300_002,
      handleSignals: false,
    });
    const seen: { at: number; status?: string; renewed?: string }[] = [];
    const t0 = performance.now();
    const watching = (async () => {
      // A long refresh: only the stale moment and the lease's end wake it.
      for await (
        const loops of a.watch({
          signal: controller.signal,
          intervalMs: 60_000,
        })
      ) {
        const entry = loops.find((loop) => loop.id === "loop-stale-0001");
        seen.push({
          at: performance.now() - t0,
          status: entry?.status,
          renewed: loops.find((l) => l.id === claim.id)?.status,
        });
      }
    })();
    await a.register(
      createLoopEntry("hung", {
        id: "loop-stale-0001",
        pid: 3_300_001,
        workspace: "/ws",
      }),
    );
    const inspected = await a.inspect("loop-stale-0001");
    assert.ok(inspected?.renewedAt !== undefined);
    assert.equal(
      Date.parse(inspected.leaseExpiresAt) - Date.parse(inspected.renewedAt),
      3000,
    );
    let firstStale: number | undefined;
    await until("the unrenewed lease ends", async () => {
      const loops = await a.list();
      const elapsed = performance.now() - t0;
      const status = loops.find((l) => l.id === "loop-stale-0001")?.status;
      assert.equal(loops.find((l) => l.id === claim.id)?.status, "running");
      // The server's two thirds have passed since the register was sent.
      if (status === "stale") {
        firstStale ??= elapsed;
        assert.ok(elapsed > 2000, `stale after ${elapsed} ms`);
      } else if (status === "running") {
        assert.equal(firstStale, undefined, "running again after stale");
      }
      return status === undefined;
    }, 10_000);
    assert.ok(firstStale !== undefined, "never seen stale");
    await until("the watch sees it gone", () => {
      return Promise.resolve(seen.at(-1)?.status === undefined);
    }, 5000);
    const statuses = seen.map((s) => s.status ?? "gone");
    // (Not yet, if the watch listed first,) listed, stale (without an
    // event: the watch woke for it), then gone.
    const changes = statuses.filter((s, i) => s !== statuses[i - 1]);
    if (changes[0] === "gone") changes.shift();
    assert.deepEqual(
      changes,
      ["running", "stale", "gone"],
      JSON.stringify(seen),
    );
    assert.deepEqual(new Set(seen.map((s) => s.renewed)), new Set(["running"]));
    assert.equal(claim.signal.aborted, false);
    controller.abort();
    await watching;
    await claim.release();
  } finally {
    controller.abort();
    await a.close();
    await b.close();
  }
});

test("list keeps registration order while renewals reorder the leases", async (server) => {
  const registry = await open(server, "order", 3000, ALIVE);
  try {
    const claims = [];
    for (let i = 0; i < 5; i++) {
      claims.push(
        await registry.claim(`loop ${i}`, {
          id: `loop-order-${4 - i}`,
          pid: 3_400_000 + i,
          handleSignals: false,
        }),
      );
    }
    const order = (await registry.list()).map((loop) => loop.id);
    // Renewed last first: the server's lease order is now the reverse.
    for (const claim of [...claims].reverse()) {
      assert.equal(await claim.heartbeat(), "renewed");
    }
    const again = (await registry.list()).map((loop) => loop.id);
    assert.deepEqual(again, order);
    // Registration order: by start time, then id (ids were given reversed).
    const loops = await registry.list();
    const sorted = [...loops].sort((a, b) =>
      a.started === b.started
        ? (a.id < b.id ? -1 : 1)
        : (a.started < b.started ? -1 : 1)
    );
    assert.deepEqual(again, sorted.map((loop) => loop.id));
    for (const claim of claims) await claim.release();
  } finally {
    await registry.close();
  }
});

Deno.test("a refused connection fails at once, not at the deadline", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  // Had it waited for the deadline, the message would say "did not answer".
  await assert.rejects(
    openRedisRegistry(`redis://127.0.0.1:${port}`, { timeoutMs: 60_000 }),
    (error: unknown) =>
      error instanceof RedisUnavailableError &&
      new RegExp(
        `^Cannot use Redis at "redis://127\\.0\\.0\\.1:${port}" as it could not be reached \\(.*ECONNREFUSED.*\\): check the host and port, and that redis-server runs there$`,
      ).test(error.message),
  );
});

test("malformed fields of a stored entry count as none; a foreign renewal is never stale", async (server) => {
  const registry = await open(server, "odd", 60_000, ALIVE);
  try {
    const keys = namespaceKeys("loops:", "odd");
    const [lease, entries] = keys;
    const beat = keys[6]!;
    const odd = {
      id: "loop-odd-0001",
      // A live process here: with no (valid) origin it is probed here.
      pid: Deno.pid,
      started: new Date().toISOString(),
      prompt: "odd",
      workspace: "/ws",
      worktreePath: 5,
      origin: { hostname: 7 },
      identity: { startTime: "x", bootId: 1 },
      extra: "kept out",
    };
    await server.command("HSET", entries!, odd.id, JSON.stringify(odd));
    await server.command("ZADD", lease!, "9999999999999", odd.id);
    // A renewal record that is not of the lease's last renewal (a client
    // that keeps none renewed it): the lease is never called stale.
    await server.command("HSET", beat, odd.id, "1000 3000");
    const [listed] = await registry.list();
    assert.deepEqual(listed, {
      id: odd.id,
      pid: odd.pid,
      started: odd.started,
      prompt: "odd",
      workspace: "/ws",
      status: "running",
    });
    const inspected = await registry.inspect(odd.id);
    assert.equal(inspected?.renewedAt, undefined);
    // The CLI's table of it: a HOST of "-", no crash.
    const cli = new URL("../../cli.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", cli, "--redis", server.url, "list"],
      env: { NO_COLOR: "1", LOOPS_NAMESPACE: "odd" },
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(
      text,
      new RegExp(`^loop-odd-0001 +running +- +${Deno.pid} `, "m"),
    );
  } finally {
    await registry.close();
  }
});
