// A fixed, hand-written benchmark run for the report's tests: the run that
// docs/performance.md shows, with each value chosen to round to the figures
// printed there. `targets` is left empty: tests compute it with `evaluate`.
import type {
  Results,
  SingleKey,
  SingleResult,
} from "../../../bench/report/results.ts";

function single(
  key: SingleKey,
  label: string,
  group: SingleResult["group"],
  rate: number,
  entries?: number,
): SingleResult {
  return { key, label, entries, group, rate };
}

const PAIR = "register + deregister (per call)";
const STUBBED = "list, liveness probes stubbed out";
const REMOTE = "list (loops of another host: lease only)";

/** A fresh copy of the run, so that a test may change it. */
export function fixedResults(): Results {
  return {
    command: "deno task bench --write-docs",
    quick: false,
    settings: {
      rounds: 7,
      budgetMs: 300,
      contentionRounds: 5,
      contentionMs: 1500,
      cliRuns: 21,
    },
    date: "2026-11-30T15:50:00.000Z",
    seconds: 89,
    machine: {
      nproc: 2,
      cpu: "AMD EPYC",
      kernel: "6.18.44-fc-v857",
      fs: "ext4",
      deno: "2.9.6",
      loadavg: [1.43, 1.22, 1.27],
    },
    single: [
      single(
        "floor.write",
        "write floor: open, flock, read, write 300 B, fdatasync, close",
        "floor",
        7438,
      ),
      single(
        "floor.read",
        "read floor: open, shared flock, read, close",
        "floor",
        155_996,
      ),
      single(
        "diag.fsync",
        "write floor with fsync instead of fdatasync",
        "diag",
        7584,
      ),
      single(
        "diag.resizing",
        "write floor, file size alternating 300/600 B",
        "diag",
        5367,
      ),
      single(
        "diag.journaled",
        "write floor, alternating size, plus the journal file",
        "diag",
        4323,
      ),
      single(
        "probe",
        "probeProcess(pid, identity): kill 0 + /proc/<pid>/stat",
        "probe",
        73_607,
      ),
      single("pair.1", PAIR, "write", 3430, 1),
      single(
        "list.100.distinct",
        "list, 100 entries of 100 distinct processes",
        "read",
        371,
        100,
      ),
      single(
        "get.100.distinct",
        "get, 100 entries of 100 distinct processes",
        "read",
        3_900,
        100,
      ),
      single("list.1", "list", "read", 22_432, 1),
      single("get.1", "get", "read", 22_922, 1),
      single("list.1.noprobe", STUBBED, "diag", 36_265, 1),
      single("pair.100", PAIR, "write", 2075, 100),
      single("list.100", "list", "read", 5793.6, 100),
      single("get.100", "get", "read", 9564, 100),
      single("pair.10000", PAIR, "write", 1e6 / 23_835, 10_000),
      single("list.10000", "list", "read", 1e6 / 11_484, 10_000),
      single("get.10000", "get", "read", 1e6 / 7818, 10_000),
      single("list.10000.noprobe", STUBBED, "diag", 1e6 / 11_686, 10_000),
    ],
    breakdown: [
      {
        key: "journal",
        phase:
          "checks, identity, lock, read, decode, change, encode, journal written",
        us: 100.68,
      },
      { key: "write", phase: "write in place", us: 4.58 },
      { key: "truncate", phase: "truncate (when shorter)", us: 0.22 },
      { key: "sync", phase: "fdatasync", us: 148.46 },
      { key: "done", phase: "journal truncated to 0", us: 13.37 },
      { key: "end", phase: "unlock, close, return", us: 7.78 },
    ],
    contention: [
      {
        procs: 1,
        stubbed: false,
        calls: 29_352,
        rate: 3898.4,
        p50Ms: 0.24,
        p99Ms: 0.4,
        fairness: 1,
      },
      {
        procs: 2,
        stubbed: false,
        calls: 28_606,
        rate: 4009,
        p50Ms: 0.24,
        p99Ms: 0.53,
        fairness: 0.98,
      },
      {
        procs: 4,
        stubbed: false,
        calls: 27_484,
        rate: 3630,
        p50Ms: 0.25,
        p99Ms: 6.33,
        fairness: 0.9,
      },
      {
        procs: 8,
        stubbed: false,
        calls: 25_084,
        rate: 3244,
        p50Ms: 0.27,
        p99Ms: 75.12,
        fairness: 0.31,
      },
      {
        procs: 1,
        stubbed: true,
        calls: 29_374,
        rate: 3878,
        p50Ms: 0.24,
        p99Ms: 0.36,
        fairness: 1,
      },
      {
        procs: 8,
        stubbed: true,
        calls: 26_632,
        rate: 3627.4,
        p50Ms: 0.25,
        p99Ms: 66.3,
        fairness: 0.35,
      },
    ],
    contentionFloor: 8624,
    ralph: { missing: "not in the fixed run" },
    lockBaselineMissing: "not in the fixed run",
    cli: [
      {
        key: "empty",
        label: "an empty file",
        command: "deno run -A $TMP/empty.ts",
        medianMs: 14.48,
        maxRssKiB: 39_012,
        runs: 21,
      },
      {
        key: "node",
        label: 'a file holding only `import "node:util"`',
        command: "deno run -A $TMP/node_util.ts",
        medianMs: 19.46,
        maxRssKiB: 44_580,
        runs: 21,
      },
      {
        key: "version",
        label: "`loops --version` (imports, no registry work)",
        command: "deno run -A cli.ts --version",
        medianMs: 18.7,
        maxRssKiB: 52_224,
        runs: 21,
      },
      {
        key: "list",
        label: "`loops list`, empty workspace",
        command:
          "deno run -A cli.ts --workspace $TMP/cli_6ec728d5921800a6 list",
        medianMs: 19.76,
        maxRssKiB: 54_016,
        runs: 21,
      },
      {
        key: "json100",
        label: "`loops list --json`, 100 entries",
        command:
          "deno run -A cli.ts --workspace $TMP/size100_0d1b5f7a9c3e2468 list --json",
        medianMs: 22.1,
        maxRssKiB: 55_296,
        runs: 21,
      },
      {
        key: "json",
        label: "`loops list --json`, 10,000 entries",
        command:
          "deno run -A cli.ts --workspace $TMP/size10000_fcca6718351db67e list --json",
        medianMs: 76.8,
        maxRssKiB: 97_280,
        runs: 21,
      },
    ],
    redis: {
      server: "7.0.15",
      rounds: 7,
      budgetMs: 300,
      results: [
        { key: "redis.pair.1", label: PAIR, entries: 1, rate: 9925 },
        { key: "redis.list.1", label: REMOTE, entries: 1, rate: 9155 },
        { key: "redis.pair.100", label: PAIR, entries: 100, rate: 9957 },
        { key: "redis.list.100", label: REMOTE, entries: 100, rate: 1648 },
        { key: "redis.pair.10000", label: PAIR, entries: 10_000, rate: 11_975 },
        { key: "redis.list.10000", label: REMOTE, entries: 10_000, rate: 15.8 },
        {
          key: "redis.heartbeat",
          label: "claim().heartbeat(): renew the lease",
          rate: 10_299,
        },
        {
          key: "redis.fill",
          label: "register, 64 in flight (filling the namespace, once)",
          entries: 10_000,
          rate: 33_116,
        },
      ],
      watch: [
        { entries: 1, samples: 200, p50Ms: 0.49, p99Ms: 3.69 },
        { entries: 100, samples: 200, p50Ms: 1.03, p99Ms: 5.27 },
      ],
    },
    serve: {
      clients: 200,
      entries: 100,
      rounds: 5,
      phaseMs: 2000,
      changesPerSecond: 9.83,
      idleRate: 2863,
      loadedRate: 2388,
      ratio: 1.18,
      ratios: [1.12, 1.3, 1.18, 1.25, 1.09],
      eventsPerSecond: 2166,
      bytesPerSecond: 48_398_532,
      streaming: 200,
    },
    targets: [],
  };
}
