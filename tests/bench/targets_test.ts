import assert from "node:assert/strict";
import {
  cliMs,
  rateOf,
  type Results,
  sized,
  type TargetKey,
} from "../../bench/report/results.ts";
import { evaluate, verdict } from "../../bench/report/targets.ts";
import { fixedResults } from "./testdata/results.ts";

function verdicts(results: Results): Record<TargetKey, string> {
  return Object.fromEntries(
    evaluate(results).map((t) => [t.key, verdict(t)]),
  ) as Record<TargetKey, string>;
}

Deno.test("evaluate() judges each target of the fixed run", () => {
  assert.deepEqual(verdicts(fixedResults()), {
    pair: "**missed** (by 2.0x)",
    list: "**missed** (by 3.3x)",
    get: "**missed** (by 3.2x)",
    linear: "met",
    contention: "met",
    lost: "met",
    cli: "**missed** (by 1.05x)",
    rss: "met",
    "ralph.list.1": "**missed**",
    "ralph.list.distinct": "**missed**",
    "ralph.list.10000": "**missed**",
    "ralph.pair.1": "**missed**",
    "ralph.pair.100": "**missed**",
    "ralph.pair.10000": "**missed**",
    "lock.p99": "**missed**",
    "lock.fairness": "**missed** (by 2.6x)",
    serve: "met",
  });
  const measured = evaluate(fixedResults()).map((t) => t.measured);
  assert.deepEqual(measured, [
    "0.46x",
    "3.02x",
    "3.08x",
    "0.67x (1.15 vs 1.73 us)",
    "0.83x",
    "none",
    "1.36x (20 vs 14 ms)",
    "1.76x (95.0 vs 54.0 MiB)",
    "not measured: not in the fixed run",
    "not measured: not in the fixed run",
    "not measured: not in the fixed run",
    "not measured: not in the fixed run",
    "not measured: not in the fixed run",
    "not measured: not in the fixed run",
    "not measured: not in the fixed run",
    "0.31",
    "1.18x (2,863 vs 2,388 calls/s)",
  ]);
});

Deno.test("evaluate() turns a verdict when its measurement moves", async (t) => {
  await t.step("a faster register+deregister meets its target", () => {
    const results = fixedResults();
    results.single.find((r) => r.key === "pair.1")!.rate = 7438;
    assert.equal(verdicts(results).pair, "met");
  });
  await t.step("ralph's figures give ratios, and ahead means faster", () => {
    const results = fixedResults();
    results.ralph = { path: "seedreg" };
    results.single.push(
      { key: "ralph.list.1", label: "", group: "ralph", rate: 1000 },
      { key: "ralph.pair.100", label: "", group: "ralph", rate: 1e9 },
    );
    const judged = verdicts(results);
    assert.equal(judged["ralph.list.1"], "met");
    assert.match(judged["ralph.pair.100"], /^\*\*missed\*\* \(by /);
    assert.equal(
      evaluate(results).find((t) => t.key === "ralph.list.10000")!.measured,
      "not measured: no ralph.list.10000",
    );
  });
  await t.step("the lock targets against the C blocking flock", () => {
    const results = fixedResults();
    results.lockBaseline = {
      procs: 8,
      calls: 1,
      rate: 1,
      p50Ms: 1,
      p99Ms: 30,
      fairness: 0.95,
    };
    results.contention[3]!.fairness = 0.85;
    const judged = verdicts(results);
    assert.equal(judged["lock.p99"], "met");
    assert.equal(judged["lock.fairness"], "met");
  });
  await t.step("a lost update misses the target", () => {
    const results = fixedResults();
    results.contention[3]!.lost = "file holds []";
    const lost = evaluate(results).find((t) => t.key === "lost")!;
    assert.equal(verdict(lost), "**missed**");
    assert.equal(lost.measured, "8 procs: file holds []");
  });
  await t.step("a slow CLI misses by how much it is over", () => {
    const results = fixedResults();
    results.cli.find((c) => c.key === "list")!.medianMs = 14.48 * 1.8;
    assert.equal(verdicts(results).cli, "**missed** (by 1.38x)");
  });
  await t.step("max RSS over 2x at 10,000 entries misses", () => {
    const results = fixedResults();
    results.cli.find((c) => c.key === "json")!.maxRssKiB = 55_296 * 2.5;
    const rss = evaluate(results).find((t) => t.key === "rss")!;
    assert.equal(verdict(rss), "**missed** (by 1.25x)");
    assert.equal(rss.measured, "2.50x (135.0 vs 54.0 MiB)");
    assert.equal(rss.required, "<= 2x");
  });
  await t.step("max RSS is not measured without GNU time", () => {
    const results = fixedResults();
    for (const c of results.cli) delete c.maxRssKiB;
    results.cliRssMissing = "needs GNU time at /usr/bin/time";
    const rss = evaluate(results).find((t) => t.key === "rss")!;
    assert.equal(verdict(rss), "**missed**");
    assert.equal(
      rss.measured,
      "not measured: needs GNU time at /usr/bin/time",
    );
    // The wall-time target does not depend on it.
    assert.equal(verdicts(results).cli, "**missed** (by 1.05x)");
  });
  await t.step("list over 2x slower under the clients misses", () => {
    const results = fixedResults();
    results.serve.ratio = 2.5;
    assert.equal(verdicts(results).serve, "**missed** (by 1.25x)");
  });
  await t.step("8 processes below 0.8x of one miss", () => {
    const results = fixedResults();
    results.contention[3]!.rate = 3000;
    assert.equal(verdicts(results).contention, "**missed** (by 1.04x)");
  });
});

Deno.test("result keys are checked by the type checker", () => {
  const results = fixedResults();
  assert.equal(sized("list", 100), "list.100");
  assert.equal(rateOf(results, sized("list", 100)), 5793.6);
  // @ts-expect-error: no registry of 1,000 entries is measured
  assert.throws(() => rateOf(results, "list.1000"), RangeError);
  // @ts-expect-error: get is not measured with probes stubbed out
  assert.throws(() => rateOf(results, "get.1.noprobe"), RangeError);
  // @ts-expect-error: a misspelt command
  assert.throws(() => cliMs(results, "lsit"), RangeError);
});
