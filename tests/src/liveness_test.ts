import assert from "node:assert/strict";
import {
  Judge,
  removedByChange,
  removedByClean,
  removedByRegister,
} from "../../src/_liveness.ts";
import {
  createLoopEntry,
  defaultRegistryEnv,
  type Liveness,
  LoopRegistry,
} from "../../mod.ts";
import {
  aliveEnv,
  rawEntry,
  runOp,
  tempWorkspace,
  writeRegistry,
} from "../_helpers/core.ts";

/** An env whose liveness comes from a table, counting probes by kind. */
function countingEnv(
  table: Record<number, { full: Liveness; signal: Liveness }>,
) {
  const probes = { full: 0, signal: 0 };
  const env = {
    ...defaultRegistryEnv,
    probe(
      pid: number,
      _identity?: unknown,
      options?: { signalOnly?: boolean },
    ) {
      const kind = options?.signalOnly ? "signal" : "full";
      probes[kind]++;
      return table[pid]![kind];
    },
    explain: undefined,
    identify: () => undefined,
    isDirectory: (path: string) => path !== "/gone",
  };
  return { env, probes };
}

const entry = (
  pid: number,
  extra: { id?: string; worktreePath?: string } = {},
) => createLoopEntry("t", { pid, workspace: "/ws", ...extra });

Deno.test("Judge probes each pid once per kind of probe in a call", () => {
  const { env, probes } = countingEnv({
    10: { full: "alive", signal: "alive" },
  });
  const judge = new Judge(env, "/ws");
  const first = entry(10);
  // Five loops of one process (say, listed after a ralph rewrite).
  const copies = [1, 2, 3, 4, 5].map((i) => ({ ...first, id: `loop-${i}` }));
  for (const copy of copies) judge.verdict(copy);
  for (const copy of copies) judge.provenDead(copy);
  assert.deepEqual(probes, { full: 1, signal: 1 });
});

Deno.test("Judge verdicts: running, orphan, dead, unknown", () => {
  const { env } = countingEnv({
    1: { full: "alive", signal: "alive" },
    2: { full: "dead", signal: "alive" },
    3: { full: "unknown", signal: "unknown" },
  });
  const judge = new Judge(env, "/ws");
  assert.equal(judge.verdict(entry(1)), "running");
  assert.equal(judge.verdict(entry(1, { worktreePath: "/gone" })), "orphan");
  assert.equal(judge.verdict(entry(2)), "dead");
  assert.equal(judge.verdict(entry(3)), "unknown");
  assert.deepEqual(judge.explain(entry(3)), {
    liveness: "unknown",
    reason: "no-permission",
  });
});

Deno.test("the cleaning policy: what each call removes", async (t) => {
  // pid 2 is a reused pid: alive to the signal probe, dead to the full one.
  const { env } = countingEnv({
    1: { full: "alive", signal: "alive" },
    2: { full: "dead", signal: "alive" },
    3: { full: "dead", signal: "dead" },
    4: { full: "unknown", signal: "unknown" },
  });
  const orphan = entry(1, { worktreePath: "/gone" });
  const all = [entry(1), entry(2), entry(3), entry(4), orphan];
  const kept = (drop: (e: ReturnType<typeof entry>) => boolean) =>
    all.filter((e) => !drop(e)).map((e) => e.pid);
  await t.step("a change drops its target and the signal-proven dead", () => {
    const drop = removedByChange(new Judge(env, "/ws"), (e) => e.pid === 4);
    assert.deepEqual(kept(drop), [1, 2, 1]);
  });
  await t.step("cleanStale drops the fully proven dead and orphans", () => {
    assert.deepEqual(
      kept(removedByClean(new Judge(env, "/ws"), { orphans: true })),
      [
        1,
        4,
      ],
    );
  });
  await t.step("a read's clean keeps orphans", () => {
    assert.deepEqual(
      kept(removedByClean(new Judge(env, "/ws"), { orphans: false })),
      [
        1,
        4,
        1,
      ],
    );
  });
  await t.step(
    "register drops the same pid, and a dead holder of its id",
    () => {
      const holder = entry(2, { id: "taken" });
      const judge = new Judge(env, "/ws");
      const drop = removedByRegister(judge, entry(4, { id: "taken" }));
      assert.equal(drop(holder), true, "reused pid holding the id");
      assert.equal(drop(entry(2)), false, "reused pid not holding it");
      assert.equal(drop(entry(4)), true, "same pid");
      assert.equal(drop(entry(3)), true, "dead");
    },
  );
});

Deno.test("an entry without identity whose pid started later is pid-reused, not alive (child -A)", async () => {
  await using ws = await tempWorkspace();
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const later = new Date(Date.now() + 60_000).toISOString();
    // As ralph writes them: no pid_start_time, no boot_id.
    await writeRegistry(
      ws,
      JSON.stringify({
        loops: [
          rawEntry("old", sleeper.pid, { started: hourAgo }),
          rawEntry("fresh", sleeper.pid, { started: later }),
        ],
      }),
    );
    const old = await runOp(ws.path, ["inspect", "old"]);
    assert.deepEqual(
      [old.ok?.liveness, old.ok?.reason],
      ["unknown", "pid-reused"],
      old.stderr,
    );
    const fresh = await runOp(ws.path, ["inspect", "fresh"]);
    assert.equal(fresh.ok?.liveness, "alive", fresh.stderr);
    // Shown as unknown, and never cleaned on that proof alone.
    const listed = await runOp(ws.path, ["list"]);
    assert.deepEqual(
      listed.ok?.map((e: { id: string; status: string }) => [e.id, e.status]),
      [["old", "unknown"], ["fresh", "running"]],
    );
    assert.equal((await runOp(ws.path, ["clean"])).ok, 0);
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper.status;
  }
});

Deno.test("a relative worktree_path is resolved against the workspace, not the cwd", async () => {
  await using ws = await tempWorkspace();
  await Deno.mkdir(`${ws.path}/wt/auth`, { recursive: true });
  await writeRegistry(
    ws,
    JSON.stringify({
      loops: [
        rawEntry("rel", Deno.pid, {
          started: new Date().toISOString(),
          worktree_path: "wt/auth",
        }),
      ],
    }),
  );
  const env = { ...aliveEnv, isDirectory: defaultRegistryEnv.isDirectory };
  const registry = new LoopRegistry(ws.path, { env });
  assert.equal((await registry.list())[0]?.status, "running");
  // From another directory (a child whose cwd is /), the same answer.
  const listed = await runOp(ws.path, ["list"], { cwd: "/" });
  assert.equal(listed.ok?.[0]?.status, "running", listed.stderr);
  await Deno.remove(`${ws.path}/wt/auth`);
  assert.equal((await registry.list())[0]?.status, "orphan");
});
