import assert from "node:assert/strict";
import {
  cliTable,
  redisTable,
  renderTables,
  runTable,
  serveTable,
} from "../../bench/report/tables.ts";
import { cliFigures } from "../../bench/report/figures.ts";
import { evaluate } from "../../bench/report/targets.ts";
import { fixedResults } from "./testdata/results.ts";

function rows(markdown: string): string[] {
  return markdown.split("\n");
}

Deno.test("redisTable() puts each Redis call beside the file engine's", () => {
  const lines = rows(redisTable(fixedResults()));
  assert.equal(
    lines[0],
    "| Redis engine | loops | calls/s | us/call | file engine calls/s | x file engine |",
  );
  assert.deepEqual(lines.slice(2, 10), [
    "| register + deregister (per call) | 1 | 9,925 | 101 | 3,430 | 2.89x |",
    "| list (loops of another host: lease only) | 1 | 9,155 | 109 | 22,432 | 0.41x |",
    "| register + deregister (per call) | 100 | 9,957 | 100 | 2,075 | 4.80x |",
    "| list (loops of another host: lease only) | 100 | 1,648 | 607 | 5,794 | 0.28x |",
    "| register + deregister (per call) | 10,000 | 11,975 | 83.5 | 42 | 285x |",
    "| list (loops of another host: lease only) | 10,000 | 16 | 63,291 | 87 | 0.18x |",
    "| claim().heartbeat(): renew the lease |  | 10,299 | 97.1 |  |  |",
    "| register, 64 in flight (filling the namespace, once) | 10,000 | 33,116 | 30.2 |  |  |",
  ]);
  assert.deepEqual(lines.slice(-2), [
    "| another registry instance of the same process | 1 | 200 | 0.49 | 3.69 |",
    "| another registry instance of the same process | 100 | 200 | 1.03 | 5.27 |",
  ]);
});

Deno.test("redisTable() says why the Redis engine was not measured", () => {
  const results = fixedResults();
  results.redis = { missing: "needs redis-server (not on PATH)" };
  assert.equal(
    redisTable(results),
    "Not measured: needs redis-server (not on PATH).",
  );
  assert.ok(
    runTable(results).includes(
      "| Redis engine | **not measured**: needs redis-server (not on PATH) |",
    ),
  );
  // The other sections do not depend on it.
  assert.equal(evaluate(results).find((t) => t.key === "serve")?.met, true);
});

Deno.test("cliTable() gives each command's wall time and max RSS", () => {
  const lines = rows(cliTable(fixedResults()));
  assert.equal(
    lines[0],
    "| command | median wall ms | x empty file | max RSS MiB | x empty file RSS |",
  );
  assert.deepEqual(lines.slice(2).map((l) => l.replace(/^\| [^|]+ \| /, "")), [
    "14.5 | 1.00x | 38.1 | 1.00x |",
    "19.5 | 1.34x | 43.5 | 1.14x |",
    "18.7 | 1.29x | 51.0 | 1.34x |",
    "19.8 | 1.36x | 52.8 | 1.38x |",
    "22.1 | 1.53x | 54.0 | 1.42x |",
    "76.8 | 5.30x | 95.0 | 2.49x |",
  ]);
  assert.ok(
    lines[6]!.startsWith(
      "| `loops list --json`, 100 entries: `deno run -A cli.ts --workspace $TMP/size100_",
    ),
  );
});

Deno.test("cliTable() leaves out max RSS without GNU time", () => {
  const results = fixedResults();
  for (const c of results.cli) delete c.maxRssKiB;
  results.cliRssMissing =
    "needs GNU time at /usr/bin/time (Debian package `time`)";
  const lines = rows(cliTable(results));
  assert.equal(lines[0], "| command | median wall ms | x empty file |");
  assert.ok(lines[2]!.endsWith(" | 14.5 | 1.00x |"));
  assert.ok(
    runTable(results).includes(
      "| CLI max RSS | **not measured**: needs GNU time at /usr/bin/time (Debian package `time`) |",
    ),
  );
});

Deno.test("serveTable() gives the load and list with and without clients", () => {
  assert.deepEqual(rows(serveTable(fixedResults())).slice(2), [
    "| registry served and listed | 100 entries over 4 live processes |",
    "| changes, in every phase | 9.8/s (register or deregister of one loop, in turn) |",
    "| event-stream clients, loaded phases | 200 (200 still streaming at each phase's end) |",
    "| pushed to the clients | 2,166 `loops` events/s, 48.4 MB/s |",
    "| `list` in another process, no client | 2,863 calls/s (349 us/call) |",
    "| `list` in another process, 200 clients | 2,388 calls/s (419 us/call) |",
    "| slowdown (median of the rounds' ratios) | 1.18x (rounds: 1.12x, 1.30x, 1.18x, 1.25x, 1.09x) |",
  ]);
});

Deno.test("renderTables() prints the Redis and dashboard sections", () => {
  const results = fixedResults();
  results.targets = evaluate(results);
  const text = renderTables(results);
  const redis = text.indexOf("### Redis engine");
  const serve = text.indexOf("### Dashboard under load");
  assert.ok(0 < redis && redis < serve && serve < text.indexOf("### Targets"));
  assert.ok(
    text.includes(
      "| list in another process with 200 event-stream clients vs none | 1.18x (2,863 vs 2,388 calls/s) | <= 2x | met |",
    ),
  );
});

Deno.test("cliFigures() gives the CLI's memory beside its wall times", () => {
  const results = fixedResults();
  results.targets = evaluate(results);
  assert.deepEqual(rows(cliFigures(results)).slice(-4), [
    "| `loops list --json`, 10,000 entries | 77 ms |",
    "| max RSS: `deno run` of an empty file | 38.1 MiB |",
    "| max RSS: `loops list --json`, 10,000 vs 100 entries | 1.76x (95.0 vs 54.0 MiB) |",
    "| `list()`, 10,000 entries, in process | 11.5 ms |",
  ]);
  assert.ok(
    cliFigures(results).includes(
      "| `loops list --json`, 100 entries | 22.1 ms |",
    ),
  );
});
