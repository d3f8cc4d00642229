// `loops serve` with the Redis engine, in Chromium (tests/cli/_dashboard_browser.ts,
// a child with -A): loops run by two other hosts (real `loops run`
// processes, each with its own LOOPS_HOST_ID and, under `unshare --uts`, its
// own host name) are listed with their hosts' names and as `remote`; the
// host filter offers both hosts and shows one host's loop alone; a stop
// through the page is refused with where the loop runs, and the loop goes
// on. A third host sharing host-a's name is told apart by its host id.
// Needs root (for unshare), chromium and redis-server; skips without them
// (not under CI=true, where they must be there).
import assert from "node:assert/strict";
import { ignoreOutsideCI, skipReason } from "../_helpers/core.ts";
import { cliArgs, exists, loops, tempWorkspace } from "../_helpers/cli.ts";
import { startRedis } from "../_helpers/redis.ts";
import { browse, serve } from "../_helpers/serve.ts";

const SKIP = skipReason({
  root: true,
  tools: ["chromium", "redis-server", "unshare", "hostname"],
});

/** A `loops run -- sleep` of another host, ended on dispose. */
interface HostLoop extends AsyncDisposable {
  id: string;
  /**
   * The `loops run` process's pid (unshare and sh exec it): the entry's
   * pid until run has moved the registration to its child.
   */
  runPid: number;
  /** Set once the `loops run` process has exited. */
  exited: () => boolean;
}

/**
 * Runs `loops run --id ID -- sleep 300` against `redis`/`namespace` as
 * host `hostId` named `hostname`: its own UTS namespace, same pid namespace.
 */
function hostLoop(
  redis: string,
  namespace: string,
  host: { id: string; hostname: string; hostId: string },
): HostLoop {
  const args = cliArgs([
    "--redis",
    redis,
    "--namespace",
    namespace,
    "run",
    "--id",
    host.id,
    "--prompt",
    `A task on ${host.hostname}`,
    "--",
    "sleep",
    "300",
  ]);
  const child = new Deno.Command("unshare", {
    args: [
      "--uts",
      "sh",
      "-c",
      'hostname "$1" && shift && exec "$@"',
      "sh",
      host.hostname,
      Deno.execPath(),
      ...args,
    ],
    env: { NO_COLOR: "1", LOOPS_HOST_ID: host.hostId },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  let done = false;
  const status = child.status.finally(() => done = true);
  return {
    id: host.id,
    runPid: child.pid,
    exited: () => done,
    async [Symbol.asyncDispose]() {
      // SIGTERM reaches `loops run` (unshare and sh exec it), which
      // forwards it to sleep and deregisters the loop.
      if (!done) child.kill("SIGTERM");
      const timer = setTimeout(() => {
        if (!done) child.kill("SIGKILL");
      }, 10_000);
      await status;
      clearTimeout(timer);
    },
  };
}

Deno.test({
  name:
    `serve's page with the Redis engine shows, filters and refuses to stop loops of two other hosts${
      SKIP ? ` (skipped: ${SKIP})` : ""
    }`,
  ignore: ignoreOutsideCI(SKIP),
  async fn() {
    await using ws = await tempWorkspace();
    await using redis = await startRedis();
    const namespace = `serve_${crypto.randomUUID().slice(0, 8)}`;
    const engine = ["--redis", redis.url, "--namespace", namespace];
    const list = async (): Promise<Record<string, unknown>[]> => {
      const result = await loops([...engine, "list", "--json"]);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout);
    };
    // Listed with the pid of `sleep`: `loops run` registers under its own
    // pid first, then moves the entry to its child.
    const listed = async (loops: HostLoop[]) => {
      for (let i = 0; i < 400; i++) {
        const all = await list();
        const moved = (loop: HostLoop) =>
          all.some((l) => l.id === loop.id && l.pid !== loop.runPid);
        if (loops.every(moved)) return all;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.fail(
        `Timed out waiting for ${loops.map((l) => l.id).join(", ")} to run`,
      );
    };
    await using a = hostLoop(redis.url, namespace, {
      id: "loop-a",
      hostname: "host-a",
      hostId: "ci-host-a-0123",
    });
    await using b = hostLoop(redis.url, namespace, {
      id: "loop-b",
      hostname: "host-b",
      hostId: "ci-host-b-0123",
    });
    const before = await listed([a, b]);
    const pidOf = (id: string) => before.find((l) => l.id === id)!.pid;
    // This machine's own host id is neither: both are another host's here.
    for (const loop of before) assert.equal(loop.status, "remote");

    await using server = await serve(ws, engine);
    await using page = browse(server);
    const cells = async (id: string) => {
      const [shown, status, host, pid, _age, worktree, prompt] = await page
        .ask(`cells ${id}`);
      return { shown, status, host, pid, worktree, prompt };
    };
    assert.deepEqual(await cells("loop-a"), {
      shown: "loop-a",
      status: "remote",
      host: "host-a",
      pid: `${pidOf("loop-a")}`,
      worktree: "",
      prompt: "A task on host-a",
    });
    assert.deepEqual(await cells("loop-b"), {
      shown: "loop-b",
      status: "remote",
      host: "host-b",
      pid: `${pidOf("loop-b")}`,
      worktree: "",
      prompt: "A task on host-b",
    });
    assert.deepEqual(await page.ask("hosts"), [
      ["", "All"],
      ["id:ci-host-a-0123", "host-a"],
      ["id:ci-host-b-0123", "host-b"],
    ]);
    assert.deepEqual(await page.ask("filter-host host-a"), ["loop-a"]);
    assert.deepEqual(await page.ask("filter-host host-b"), ["loop-b"]);
    assert.deepEqual(await page.ask("filter-host All"), ["loop-a", "loop-b"]);

    const refused = await page.ask("refuse loop-a");
    assert.equal(refused.status, 409, refused.message);
    assert.equal(refused.kind, "error");
    assert.match(
      refused.message,
      /^Refusing to signal loop "loop-a" as it runs on another host, "host-a" .*: stop it there$/,
    );
    assert.equal(refused.row, true);
    assert.ok(!a.exited() && !b.exited());
    assert.ok(exists(pidOf("loop-a") as number));
    // The Redis engine lists by lease deadline, which heartbeats reorder:
    // compare by id.
    const byId = (all: Record<string, unknown>[]) =>
      all.map((l) => [l.id, l.pid, l.status]).sort();
    assert.deepEqual(byId(await list()), byId(before));

    // A third host named host-a: each host-a label gains the shortest
    // prefix (8 characters at least) of its host id that tells them apart.
    await using c = hostLoop(redis.url, namespace, {
      id: "loop-c",
      hostname: "host-a",
      hostId: "ci-host-c-0123",
    });
    await listed([c]);
    assert.equal((await cells("loop-c")).host, "host-a (ci-host-c…)");
    assert.equal((await cells("loop-a")).host, "host-a (ci-host-a…)");
    assert.equal((await cells("loop-b")).host, "host-b");
    assert.deepEqual(await page.ask("hosts"), [
      ["", "All"],
      ["id:ci-host-a-0123", "host-a (ci-host-a…)"],
      ["id:ci-host-c-0123", "host-a (ci-host-c…)"],
      ["id:ci-host-b-0123", "host-b"],
    ]);
    assert.deepEqual(await page.ask("filter-host host-a (ci-host-c…)"), [
      "loop-c",
    ]);
    assert.deepEqual(await page.ask("alerts"), { alerts: 0 });
  },
});
