// The result tables of one run, as Markdown: printed by the script and
// written into the generated blocks of docs/performance.md.
import { fixed, int, table, us, x } from "./format.ts";
import {
  cliMs,
  cliRssKiB,
  contentionOf,
  DISTINCT,
  KEYS,
  ralphKey,
  rateIfAny,
  rateOf,
  type Results,
  type SingleKey,
  type SingleResult,
  sized,
} from "./results.ts";
import { verdict } from "./targets.ts";

const right = { align: "right" } as const;

/** When, where and how long the run was made. */
export function runTable(results: Results): string {
  const m = results.machine;
  const s = results.settings;
  return table([{ title: "run" }, { title: "" }], [
    ["command", `\`${results.command}\` (\`deno run -A bench/run.ts\`)`],
    ["date", `${results.date.slice(0, 16).replace("T", " ")} UTC`],
    ["duration", `${fixed(results.seconds)} s`],
    ["mode", results.quick ? "**quick: rough numbers**" : "full"],
    [
      "machine",
      `${m.nproc} CPUs (\`nproc\`), ${m.cpu} (\`/proc/cpuinfo\`), Linux ${m.kernel}, /tmp on ${m.fs} (\`df -T /tmp\`), Deno ${m.deno}`,
    ],
    [
      "load average at the start",
      m.loadavg.map((l) => l.toFixed(2)).join(", "),
    ],
    [
      "single process",
      `${s.rounds} interleaved rounds of ${s.budgetMs} ms per operation`,
    ],
    [
      "contention",
      `${s.contentionRounds} interleaved rounds of ${s.contentionMs} ms per process count`,
    ],
    ["CLI", `median of ${s.cliRuns} interleaved runs after one warm-up run`],
    [
      "CLI max RSS",
      results.cliRssMissing === undefined
        ? "GNU time's `%M` (`/usr/bin/time -f %M`, the kernel's peak RSS of the `deno` process) of the same runs, median"
        : `**not measured**: ${results.cliRssMissing}`,
    ],
    [
      "ralph's code",
      "path" in results.ralph
        ? "`seedreg` (../shared/ralph-reference: ralph's loop_registry.rs), `bench-register N` / `bench-list N` timed inside it, in the same rounds"
        : `**not measured**: ${results.ralph.missing}`,
    ],
    [
      "Redis engine",
      "missing" in results.redis
        ? `**not measured**: ${results.redis.missing}`
        : `redis-server ${results.redis.server} of its own on loopback, no persistence; ${results.redis.rounds} interleaved rounds of ${results.redis.budgetMs} ms per operation`,
    ],
    [
      "dashboard under load",
      `${results.serve.rounds} rounds of one ${results.serve.phaseMs} ms phase without clients and one with, in alternating order`,
    ],
  ]);
}

const GROUP_ORDER: SingleResult["group"][] = [
  "floor",
  "write",
  "read",
  "ralph",
  "probe",
  "diag",
];

/** ralph's measurement of the same call on the same fixture, if any. */
function ralphOf(key: SingleKey): SingleKey | undefined {
  if (key === `list.${DISTINCT}` || key === `list.${DISTINCT}.plain`) {
    return ralphKey("list", DISTINCT);
  }
  const match = key.match(/^(pair|list)\.(1|100|10000)$/);
  if (match === null) return undefined;
  return ralphKey(
    match[1] as "pair" | "list",
    Number(match[2]) as 1 | 100 | 10_000,
  );
}

/** Every single-process measurement against both floors. */
export function singleTable(results: Results): string {
  const write = rateOf(results, KEYS.writeFloor);
  const read = rateOf(results, KEYS.readFloor);
  const sorted = [...results.single].sort((a, b) =>
    GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group)
  );
  return table(
    [
      { title: "operation" },
      { title: "entries", ...right },
      { title: "calls/s", ...right },
      { title: "us/call", ...right },
      { title: "x write floor", ...right },
      { title: "x read floor", ...right },
      { title: "x ralph", ...right },
    ],
    sorted.map((r) => [
      r.label,
      r.entries === undefined ? "" : int(r.entries),
      int(r.rate),
      us(r.rate),
      x(r.rate / write),
      r.group === "read" || r.key === KEYS.readFloor ||
        r.key.startsWith("list.")
        ? x(r.rate / read)
        : "",
      (() => {
        const theirs = ralphOf(r.key);
        const rate = theirs === undefined
          ? undefined
          : rateIfAny(results, theirs);
        return rate === undefined ? "" : x(r.rate / rate);
      })(),
    ]),
  );
}

/** Where the time of a register/deregister call goes. */
export function breakdownTable(results: Results): string {
  const sum = results.breakdown.reduce((total, p) => total + p.us, 0);
  return table([
    { title: "step of register/deregister, 1 entry" },
    { title: "us per call", ...right },
    { title: "share", ...right },
  ], [
    ...results.breakdown.map((p) => [
      p.phase,
      fixed(p.us, 1),
      `${fixed(p.us / sum * 100)}%`,
    ]),
    ["total", fixed(sum, 1), ""],
  ]);
}

/** Throughput, latency and lost updates at each process count. */
export function contentionTable(results: Results): string {
  return table(
    [
      { title: "processes", ...right },
      { title: "calls", ...right },
      { title: "total calls/s", ...right },
      { title: "x 1 process", ...right },
      { title: "x write floor", ...right },
      { title: "p50 ms", ...right },
      { title: "p99 ms", ...right },
      { title: "least/most served", ...right },
      { title: "lost updates" },
    ],
    [
      ...results.contention.map((c) => [
        `${c.procs}${c.stubbed ? ", probes stubbed" : ""}`,
        int(c.calls),
        int(c.rate),
        x(c.rate / contentionOf(results, 1, { stubbed: c.stubbed }).rate),
        x(c.rate / results.contentionFloor),
        fixed(c.p50Ms, 2),
        fixed(c.p99Ms, 2),
        fixed(c.fairness, 2),
        c.lost ?? "none",
      ]),
      ...(results.lockBaseline === undefined ? [] : [(() => {
        const c = results.lockBaseline;
        return [
          `${c.procs}, C blocking flock (write floor's work)`,
          int(c.calls),
          int(c.rate),
          "",
          x(c.rate / results.contentionFloor),
          fixed(c.p50Ms, 2),
          fixed(c.p99Ms, 2),
          fixed(c.fairness, 2),
          "",
        ];
      })()]),
    ],
  );
}

/**
 * CLI wall times and max RSS against `deno run` of an empty file; without
 * GNU time, the RSS columns are left out.
 */
export function cliTable(results: Results): string {
  const empty = cliMs(results, "empty");
  const emptyRss = cliRssKiB(results, "empty");
  const withRss = results.cli.some((c) => c.maxRssKiB !== undefined);
  const rssCells = (kib: number | undefined): string[] => {
    if (!withRss) return [];
    if (kib === undefined) return ["", ""];
    return [
      fixed(kib / 1024, 1),
      emptyRss === undefined ? "" : x(kib / emptyRss),
    ];
  };
  return table(
    [
      { title: "command" },
      { title: "median wall ms", ...right },
      { title: "x empty file", ...right },
      ...(withRss
        ? [
          { title: "max RSS MiB", ...right },
          { title: "x empty file RSS", ...right },
        ]
        : []),
    ],
    results.cli.map((c) => [
      `${c.label}: \`${c.command}\``,
      fixed(c.medianMs, 1),
      x(c.medianMs / empty),
      ...rssCells(c.maxRssKiB),
    ]),
  );
}

/** The file engine's measurement of the same call, for the Redis table. */
function fileOf(key: string): SingleKey | undefined {
  const match = key.match(/^redis\.(pair|list)\.(1|100|10000)$/);
  if (match === null) return undefined;
  return sized(
    match[1] as "pair" | "list",
    Number(match[2]) as 1 | 100 | 10_000,
  );
}

/**
 * The Redis engine's calls beside the file engine's at the same size (from
 * the same run), then its watch latency; or why it was not measured.
 */
export function redisTable(results: Results): string {
  const redis = results.redis;
  if ("missing" in redis) return `Not measured: ${redis.missing}.`;
  const calls = table(
    [
      { title: "Redis engine" },
      { title: "loops", ...right },
      { title: "calls/s", ...right },
      { title: "us/call", ...right },
      { title: "file engine calls/s", ...right },
      { title: "x file engine", ...right },
    ],
    redis.results.map((r) => {
      const key = fileOf(r.key);
      const file = key === undefined ? undefined : rateIfAny(results, key);
      return [
        r.label,
        r.entries === undefined ? "" : int(r.entries),
        int(r.rate),
        us(r.rate),
        file === undefined ? "" : int(file),
        file === undefined ? "" : x(r.rate / file),
      ];
    }),
  );
  const watch = table(
    [
      { title: "watch(): from a register or deregister to the yield" },
      { title: "loops", ...right },
      { title: "changes", ...right },
      { title: "p50 ms", ...right },
      { title: "p99 ms", ...right },
    ],
    redis.watch.map((w) => [
      "another registry instance of the same process",
      int(w.entries),
      int(w.samples),
      fixed(w.p50Ms, 2),
      fixed(w.p99Ms, 2),
    ]),
  );
  return `${calls}\n\n${watch}`;
}

/** list in another process with and without the event-stream clients. */
export function serveTable(results: Results): string {
  const s = results.serve;
  return table([{ title: "dashboard under load" }, { title: "value" }], [
    [
      "registry served and listed",
      `${int(s.entries)} entries over 4 live processes`,
    ],
    [
      "changes, in every phase",
      `${
        fixed(s.changesPerSecond, 1)
      }/s (register or deregister of one loop, in turn)`,
    ],
    [
      "event-stream clients, loaded phases",
      `${int(s.clients)} (${
        int(s.streaming)
      } still streaming at each phase's end)`,
    ],
    [
      "pushed to the clients",
      `${int(s.eventsPerSecond)} \`loops\` events/s, ${
        fixed(s.bytesPerSecond / 1e6, 1)
      } MB/s`,
    ],
    [
      "`list` in another process, no client",
      `${int(s.idleRate)} calls/s (${us(s.idleRate)} us/call)`,
    ],
    [
      `\`list\` in another process, ${int(s.clients)} clients`,
      `${int(s.loadedRate)} calls/s (${us(s.loadedRate)} us/call)`,
    ],
    [
      "slowdown (median of the rounds' ratios)",
      `${x(s.ratio)} (rounds: ${s.ratios.map(x).join(", ")})`,
    ],
  ]);
}

/** Each target, what was measured and the verdict. */
export function targetTable(results: Results): string {
  return table(
    [{ title: "target" }, { title: "measured" }, { title: "required" }, {
      title: "",
    }],
    results.targets.map((t) => [t.name, t.measured, t.required, verdict(t)]),
  );
}

/** The result tables as Markdown, as the script prints them. */
export function renderTables(results: Results): string {
  return [
    "### Single process",
    singleTable(results),
    breakdownTable(results),
    "### Contention: register/deregister pairs, one registry",
    contentionTable(results),
    "### CLI",
    cliTable(results),
    "### Redis engine",
    redisTable(results),
    "### Dashboard under load",
    serveTable(results),
    "### Targets",
    targetTable(results),
  ].join("\n\n");
}
