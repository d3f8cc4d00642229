// The CLI against Redis: LOOPS_REDIS_URL selects the engine (cli/_engine.ts),
// `loops run` claims there, and another `loops list` sees it.
import { ignoreOutsideCI } from "../_helpers/core.ts";
import assert from "node:assert/strict";
import {
  type RedisServer,
  redisSkipReason,
  startRedis,
} from "../_helpers/redis.ts";
import { sleeper, tempWorkspace } from "../_helpers/cli.ts";
import { createLoopEntry, defaultRegistryEnv } from "../../mod.ts";
import {
  openRedisRegistry,
  type RedisRegistry,
  type RedisRegistryOptions,
} from "../../redis.ts";
import { namespaceKeys } from "../../src/_redis_scripts.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const skip = redisSkipReason();

/** A test with a Redis server of its own and a temporary workspace. */
function redisTest(
  name: string,
  fn: (server: RedisServer, workspace: string) => Promise<void>,
): void {
  Deno.test({
    name: `${name}${skip ? ` (${skip})` : ""}`,
    ignore: ignoreOutsideCI(skip),
    async fn() {
      await using server = await startRedis();
      await using ws = await tempWorkspace();
      await fn(server, ws.path);
    },
  });
}

async function loops(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

redisTest(
  "LOOPS_REDIS_URL points loops run and list at Redis",
  async (server, workspace) => {
    const env = { LOOPS_REDIS_URL: server.url, LOOPS_NAMESPACE: "cli" };
    const inner = `${Deno.execPath()} run -A --quiet ${CLI} list --json`;
    const run = await loops(
      ["-w", workspace, "run", "--", "sh", "-c", inner],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    const listed = JSON.parse(run.stdout);
    assert.equal(listed.length, 1);
    assert.match(listed[0].prompt, /list --json/);
    // The workspace given with -w, not the process's directory.
    assert.equal(listed[0].workspace, workspace);
    const after = await loops(["-w", workspace, "list", "--json"], env);
    assert.deepEqual(JSON.parse(after.stdout), []);
    // Nothing was written to the workspace's file registry.
    await assert.rejects(
      Deno.stat(`${workspace}/.ralph/loops.json`),
      Deno.errors.NotFound,
    );
    const missing = await loops(["-w", workspace, "get", "loop-1-abcd"], env);
    assert.equal(missing.code, 3);
    assert.match(
      missing.stderr,
      /redis:\/\/127\.0\.0\.1:\d+ \[namespace cli\]/,
    );
  },
);

redisTest(
  "--redis and --namespace choose the server; list shows HOST",
  async (server, workspace) => {
    const flags = ["--redis", server.url, "--namespace", "flags"];
    // `run` heartbeats, so a slow machine cannot outlast the lease.
    const runner = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        CLI,
        "-w",
        workspace,
        ...flags,
        "run",
        "--id",
        "loop-flag-0001",
        "--",
        "sleep",
        "60",
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      let listed = "";
      for (let i = 0; i < 100 && !listed.includes("loop-flag-0001"); i++) {
        listed = (await loops(["-w", workspace, ...flags, "list", "-q"], {}))
          .stdout;
      }
      // Options after the command too; the table of a shared engine has HOST.
      const table = await loops(["-w", workspace, "list", ...flags], {});
      assert.equal(table.code, 0, table.stderr);
      const [header, row] = table.stdout.split("\n");
      assert.match(header!, /^ID +STATUS +HOST +PID +AGE /);
      assert.match(
        row!,
        /^loop-flag-0001 +running +\S+ +\d+ /,
      );
      // The flag wins over LOOPS_REDIS_URL; another namespace is empty.
      const other = await loops(
        ["-w", workspace, "--namespace", "other", "list", "--json"],
        { LOOPS_REDIS_URL: server.url },
      );
      assert.deepEqual(JSON.parse(other.stdout), []);
      const flagged = await loops(
        ["-w", workspace, ...flags, "list", "-q"],
        { LOOPS_REDIS_URL: "redis://127.0.0.1:1" },
      );
      assert.equal(flagged.stdout, "loop-flag-0001\n", flagged.stderr);
      await Deno.stat(workspace);
      await assert.rejects(
        Deno.stat(`${workspace}/.ralph/loops.json`),
        Deno.errors.NotFound,
      );
    } finally {
      runner.kill("SIGTERM");
      await runner.status;
      await runner.stderr.cancel();
    }
  },
);

Deno.test("--namespace without a Redis server, or an empty --redis, is a usage error", async () => {
  await using ws = await tempWorkspace();
  const ns = await loops(["-w", ws.path, "--namespace", "x", "list"], {});
  assert.equal(ns.code, 2);
  assert.match(
    ns.stderr,
    /Cannot use --namespace without a Redis server: add --redis URL or set LOOPS_REDIS_URL/,
  );
  const empty = await loops(["-w", ws.path, "list", "--redis="], {});
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /Option --redis needs a URL/);
});

redisTest(
  "--lock-timeout bounds a call to a server that does not answer",
  async (server, workspace) => {
    Deno.kill(server.pid, "SIGSTOP");
    try {
      const args = ["-w", workspace, "--redis", server.url, "list"];
      const result = await loops(["--lock-timeout", "0.3", ...args], {});
      assert.equal(result.code, 5, result.stderr);
      assert.match(
        result.stderr,
        /^loops: Cannot use Redis at "redis:\/\/127\.0\.0\.1:\d+" as it did not answer within 300 ms/,
      );
    } finally {
      Deno.kill(server.pid, "SIGCONT");
    }
  },
);

/** A Redis registry on `server`, closed on dispose. */
async function open(
  server: RedisServer,
  options: RedisRegistryOptions,
): Promise<RedisRegistry & AsyncDisposable> {
  const registry = await openRedisRegistry(server.url, options);
  return Object.assign(registry, {
    [Symbol.asyncDispose]: () => registry.close(),
  });
}

/**
 * Moves the registration of `id` `agoMs` into the past, by the server's
 * clock, as if it was made then and never renewed (`ttlMs`: its lease).
 */
async function age(
  server: RedisServer,
  registry: RedisRegistry,
  id: string,
  agoMs: number,
  ttlMs: number,
): Promise<void> {
  const [lease, , , , , , beat] = namespaceKeys("loops:", registry.namespace);
  const { leaseExpiresAt } = (await registry.inspect(id))!;
  const deadline = Date.parse(leaseExpiresAt) - agoMs;
  await server.command("ZADD", lease!, `${deadline}`, id);
  await server.command("HSET", beat!, id, `${deadline - ttlMs} ${ttlMs}`);
}

redisTest(
  "stop --all stops a stale loop of this host, not one of another",
  async (server, workspace) => {
    const options = { namespace: "stale", ttlMs: 600_000, workspace };
    await using here = await open(server, options);
    await using there = await open(server, {
      ...options,
      env: {
        ...defaultRegistryEnv,
        origin: () => ({ hostId: "another-host-id", hostname: "elsewhere" }),
      },
    });
    await using hung = await sleeper();
    await here.register(
      createLoopEntry("hung here", { id: "loop-here", pid: hung.pid }),
    );
    await there.register(
      createLoopEntry("hung there", { id: "loop-there", pid: hung.pid }),
    );
    const flags = ["-w", workspace, "--redis", server.url];
    const statuses = async () => {
      const listed = await loops(
        [...flags, "--namespace", "stale", "list", "--json"],
        {},
      );
      assert.equal(listed.code, 0, listed.stderr);
      return Object.fromEntries(
        JSON.parse(listed.stdout).map((
          loop: { id: string; status: string },
        ) => [loop.id, loop.status]),
      );
    };
    assert.deepEqual(await statuses(), {
      "loop-here": "running",
      "loop-there": "remote",
    });
    // Both as if registered 450 s earlier and never renewed: stale (⅔ of
    // 600 s have passed), with 150 s of their leases left, and no wait for
    // it that a slow machine could outlast.
    for (const id of ["loop-here", "loop-there"]) {
      await age(server, here, id, 450_000, options.ttlMs);
    }
    assert.deepEqual(await statuses(), {
      "loop-here": "stale",
      "loop-there": "stale",
    });
    const stopped = await loops(
      [...flags, "--namespace", "stale", "stop", "--all", "--yes"],
      {},
    );
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.stderr, "");
    assert.match(stopped.stdout, /loop-here/);
    assert.doesNotMatch(stopped.stdout, /loop-there/);
    assert.equal((await hung.child.status).signal, "SIGTERM");
    // The other host's entry was neither signalled nor dropped.
    assert.deepEqual(await statuses(), { "loop-there": "stale" });
  },
);

redisTest(
  "stop signals a loop of this host whose lease ended while its process runs",
  async (server, workspace) => {
    const options = { namespace: "ended", ttlMs: 600_000, workspace };
    await using registry = await open(server, options);
    await using hung = await sleeper();
    await registry.register(
      createLoopEntry("hung", { id: "loop-ended", pid: hung.pid }),
    );
    // Its lease ended a second ago: the owner hung (or lost the server)
    // long enough.
    await age(server, registry, "loop-ended", 601_000, options.ttlMs);
    assert.deepEqual(await registry.list(), []);
    // Dead as the registry has it, its process alive here.
    const inspected = await registry.inspect("loop-ended");
    assert.equal(inspected?.liveness, "dead");
    assert.equal(inspected?.outlivedLease?.liveness, "alive");
    // `verified` where this process may read /proc (-A), else `alive`.
    assert.match(
      inspected?.outlivedLease?.reason ?? "",
      /^(verified|alive)$/,
    );
    const flags = ["-w", workspace, "--redis", server.url];
    const stopped = await loops(
      [...flags, "--namespace", "ended", "stop", "loop-ended"],
      {},
    );
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /^Stopped loop "loop-ended"/);
    assert.equal((await hung.child.status).signal, "SIGTERM");
    assert.equal(await registry.inspect("loop-ended"), undefined);
  },
);
