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
} from "../../mod.ts";

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
  const judge = new Judge(env);
  for (let i = 0; i < 5; i++) judge.verdict(entry(10));
  for (let i = 0; i < 5; i++) judge.provenDead(entry(10));
  assert.deepEqual(probes, { full: 1, signal: 1 });
});

Deno.test("Judge verdicts: running, orphan, dead, unknown", () => {
  const { env } = countingEnv({
    1: { full: "alive", signal: "alive" },
    2: { full: "dead", signal: "alive" },
    3: { full: "unknown", signal: "unknown" },
  });
  const judge = new Judge(env);
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
    const drop = removedByChange(new Judge(env), (e) => e.pid === 4);
    assert.deepEqual(kept(drop), [1, 2, 1]);
  });
  await t.step("cleanStale drops the fully proven dead and orphans", () => {
    assert.deepEqual(kept(removedByClean(new Judge(env), { orphans: true })), [
      1,
      4,
    ]);
  });
  await t.step("a read's clean keeps orphans", () => {
    assert.deepEqual(kept(removedByClean(new Judge(env), { orphans: false })), [
      1,
      4,
      1,
    ]);
  });
  await t.step(
    "register drops the same pid, and a dead holder of its id",
    () => {
      const holder = entry(2, { id: "taken" });
      const judge = new Judge(env);
      const drop = removedByRegister(judge, entry(4, { id: "taken" }));
      assert.equal(drop(holder), true, "reused pid holding the id");
      assert.equal(drop(entry(2)), false, "reused pid not holding it");
      assert.equal(drop(entry(4)), true, "same pid");
      assert.equal(drop(entry(3)), true, "dead");
    },
  );
});
