// The chart of docs/performance.svg, rendered from a fixed run and compared
// with a committed snapshot (testdata/performance.svg.snap; the extension
// keeps `deno fmt` from reflowing it). After a deliberate change to the chart,
// rewrite the snapshot and review its diff:
//
//   UPDATE_SNAPSHOTS=1 deno test --allow-read --allow-write --allow-env tests/bench/svg_test.ts
import assert from "node:assert/strict";
import { renderChart } from "../../bench/report/svg.ts";
import { fixedResults } from "./testdata/results.ts";

const SNAPSHOT = new URL("./testdata/performance.svg.snap", import.meta.url);

Deno.test("renderChart() draws the fixed run as the snapshot", async () => {
  const svg = renderChart(fixedResults());
  if (Deno.env.get("UPDATE_SNAPSHOTS") === "1") {
    await Deno.writeTextFile(SNAPSHOT, svg);
  }
  assert.equal(svg, await Deno.readTextFile(SNAPSHOT));
});

Deno.test("renderChart() draws one bar per rate and a tick per target", () => {
  const results = fixedResults();
  const svg = renderChart(results);
  const bars = svg.match(/<rect x=/g) ?? [];
  const probes = results.single.filter((r) => r.group === "probe").length;
  assert.equal(
    bars.length,
    results.single.length - probes + results.contention.length,
  );
  assert.deepEqual(svg.match(/<title>target [\d.]+x<\/title>/g), [
    "<title>target 0.9x</title>",
    "<title>target 10x</title>",
    "<title>target 10x</title>",
  ]);
});

Deno.test("renderChart() widens its scale to the slowest rate", () => {
  const results = fixedResults();
  const axis = (svg: string) =>
    [...svg.matchAll(/text-anchor="middle">([^<]+)</g)].map((m) => m[1]);
  assert.deepEqual(axis(renderChart(results)), [
    "0.001x",
    "0.01x",
    "0.1x",
    "1x",
    "10x",
    "100x",
  ]);
  const slow = results.single.find((r) => r.key === "pair.10000")!;
  slow.rate /= 100;
  assert.equal(axis(renderChart(results))[0], "0.00001x");
});
