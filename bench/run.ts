/**
 * The performance benchmark of `@loops/registry` (issue 4): every operation
 * measured against this machine's floor, in one run. Prints the tables;
 * `--write-docs` also regenerates the marked blocks of `docs/performance.md`
 * (its prose is left as it is; see `report/doc.ts`) and rewrites
 * `docs/performance.svg`.
 *
 * Usage: `deno task bench [--quick] [--write-docs]`, that is
 * `deno run -A bench/run.ts`. `-A` as the CLI runs, so that identity probing
 * (`/proc`) is on.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  createLoopEntry,
  LoopRegistry,
  type LoopRegistryOptions,
  probeProcess,
} from "../mod.ts";
import { WRITE_HOOK } from "../src/_durable_write.ts";
import { closePidfds } from "../src/_pidfd.ts";
import {
  prepareFloorFile,
  readFloor,
  writeFloor,
  writeFloorFsync,
  writeFloorJournaled,
  writeFloorResizing,
} from "./_floor.ts";
import {
  fixtureId,
  type Holders,
  readFixture,
  spawnHolders,
  writeFixture,
} from "./_fixture.ts";
import { type Case, measureAll, median, percentile, rate } from "./_measure.ts";
import {
  buildLockBaseline,
  fairness,
  findRalph,
  lockBaselinePhase,
  ralphMeasure,
} from "./_ralph.ts";
import { redisBench } from "./_redis.ts";
import { serveBench } from "./_serve.ts";
import { aliveEnv as alive, lineReader } from "../tests/_helpers/core.ts";
import { checkMarkers, MarkerError, updateDoc } from "./report/doc.ts";
import {
  type CliKey,
  type CliResult,
  type ContentionResult,
  DISTINCT,
  KEYS,
  type LockBaseline,
  type Machine,
  NOPROBE_SIZES,
  type PhaseKey,
  type PhaseResult,
  PROCESSES,
  type Procs,
  ralphKey,
  type Results,
  type SingleKey,
  type SingleResult,
  sized,
  SIZES,
} from "./report/results.ts";
import { renderChart } from "./report/svg.ts";
import { renderTables } from "./report/tables.ts";
import { evaluate } from "./report/targets.ts";

const HOLDERS = 4;
/** The distinct-process fixture: one live process per entry. */
const DISTINCT_HOLDERS = 100;
const root = fileURLToPath(new URL("..", import.meta.url));

interface Settings {
  quick: boolean;
  rounds: number;
  budgetMs: number;
  contentionMs: number;
  contentionRounds: number;
  cliRuns: number;
  /** Changes timed per watch latency row of the Redis section. */
  watchSamples: number;
  serveRounds: number;
  servePhaseMs: number;
}

function log(text: string): void {
  // deno-lint-ignore no-console
  console.error(text);
}

const PHASES: Record<PhaseKey, string> = {
  journal:
    "checks, identity, lock, read, decode, change, encode, journal written",
  write: "write in place",
  truncate: "truncate (when shorter)",
  sync: "fdatasync",
  done: "journal truncated to 0",
  end: "unlock, close, return",
};

/** Everything single-process: the floors and the library at each size. */
async function single(
  tmp: string,
  holders: Holders,
  distinct: Holders,
  ralph: string | undefined,
  settings: Settings,
): Promise<{
  results: SingleResult[];
  breakdown: PhaseResult[];
  workspaces: Map<number, string>;
}> {
  const floorFile = join(tmp, "floor.json");
  prepareFloorFile(floorFile);
  const diagFile = join(tmp, "floor_resizing.json");
  prepareFloorFile(diagFile);
  const cases: (Case<SingleKey> & { group: SingleResult["group"] })[] = [
    {
      key: KEYS.writeFloor,
      label: "write floor: open, flock, read, write 300 B, fdatasync, close",
      run: () => writeFloor(floorFile),
      group: "floor",
    },
    {
      key: KEYS.readFloor,
      label: "read floor: open, shared flock, read, close",
      run: () => readFloor(floorFile),
      group: "floor",
    },
    {
      key: KEYS.fsyncFloor,
      label: "write floor with fsync instead of fdatasync",
      run: () => writeFloorFsync(floorFile),
      group: "diag",
    },
    {
      key: KEYS.resizingFloor,
      label: "write floor, file size alternating 300/600 B",
      run: () => writeFloorResizing(diagFile),
      group: "diag",
    },
    {
      key: KEYS.journaledFloor,
      label: "write floor, alternating size, plus the journal file",
      run: () => writeFloorJournaled(diagFile),
      group: "diag",
    },
    {
      key: KEYS.probe,
      label:
        "probeProcess(pid, identity) again: a poll of the pidfd held since its second verification",
      run: () => probeProcess(holders.pids[0]!, holders.identities[0]),
      group: "probe",
    },
  ];
  const workspaces = new Map<number, string>();
  const ralphWorkspaces = new Map<number, string>();
  // 100 entries of 100 distinct live processes: each loop is its own process.
  const distinctWorkspace = await Deno.makeTempDir({
    dir: tmp,
    prefix: "distinct_",
  });
  writeFixture(distinctWorkspace, DISTINCT_HOLDERS, distinct);
  const distinctRegistry = new LoopRegistry(distinctWorkspace);
  cases.push(
    {
      key: `list.${DISTINCT}`,
      label: "list, 100 entries of 100 distinct processes",
      entries: DISTINCT_HOLDERS,
      run: () => distinctRegistry.list(),
      group: "read",
    },
    {
      key: `get.${DISTINCT}`,
      label: "get, 100 entries of 100 distinct processes",
      entries: DISTINCT_HOLDERS,
      run: () => distinctRegistry.get(fixtureId(50)),
      group: "read",
    },
    {
      // What a one-shot process pays: no pidfd held (src/_pidfd.ts), every
      // process read from /proc.
      key: `list.${DISTINCT}.plain`,
      label:
        "list, 100 distinct processes, no pidfd held (each read from /proc)",
      entries: DISTINCT_HOLDERS,
      run: () => {
        closePidfds();
        return distinctRegistry.list();
      },
      group: "diag",
    },
  );
  if (ralph !== undefined) {
    const theirs = await Deno.makeTempDir({ dir: tmp, prefix: "ralphd_" });
    writeFixture(theirs, DISTINCT_HOLDERS, distinct);
    ralphWorkspaces.set(-DISTINCT_HOLDERS, theirs);
    cases.push({
      key: ralphKey("list", DISTINCT),
      label: "ralph's list, 100 entries of 100 distinct processes (seedreg)",
      entries: DISTINCT_HOLDERS,
      run: () => {},
      measure: ralphMeasure(ralph, theirs, "list", 20),
      group: "ralph",
    });
  }
  for (const size of SIZES) {
    const workspace = await Deno.makeTempDir({
      dir: tmp,
      prefix: `size${size}_`,
    });
    writeFixture(workspace, size, holders);
    workspaces.set(size, workspace);
    const registry = new LoopRegistry(workspace);
    const self = createLoopEntry("benchmark", {
      id: "loop-bench-self",
      workspace,
    });
    const slow = size >= 10_000;
    const middle = fixtureId(size >> 1);
    cases.push(
      {
        key: sized("pair", size),
        label: "register + deregister (per call)",
        entries: size,
        run: async () => {
          await registry.register(self);
          await registry.deregister(self.id);
        },
        callsPerRun: 2,
        minRuns: slow ? 2 : 20,
        group: "write",
      },
      {
        key: sized("list", size),
        label: "list",
        entries: size,
        run: () => registry.list(),
        minRuns: slow ? 3 : 20,
        group: "read",
      },
      {
        key: sized("get", size),
        label: "get",
        entries: size,
        run: () => registry.get(middle),
        minRuns: slow ? 3 : 20,
        group: "read",
      },
    );
    if (ralph !== undefined) {
      // ralph rewrites the file on every call: its own copy of the fixture.
      const theirs = await Deno.makeTempDir({
        dir: tmp,
        prefix: `ralph${size}_`,
      });
      writeFixture(theirs, size, holders);
      ralphWorkspaces.set(size, theirs);
      cases.push(
        {
          key: ralphKey("pair", size),
          label: "ralph's register + deregister (seedreg, per call)",
          entries: size,
          run: () => {},
          measure: ralphMeasure(ralph, theirs, "pair", slow ? 2 : 20),
          group: "ralph",
        },
        {
          key: ralphKey("list", size),
          label: "ralph's list (seedreg)",
          entries: size,
          run: () => {},
          measure: ralphMeasure(ralph, theirs, "list", slow ? 3 : 20),
          group: "ralph",
        },
      );
    }
    const noprobe = NOPROBE_SIZES.find((s) => s === size);
    if (noprobe !== undefined) {
      const stubbed = new LoopRegistry(workspace, { env: alive });
      cases.push({
        key: `list.${noprobe}.noprobe`,
        label: "list, liveness probes stubbed out",
        entries: size,
        run: () => stubbed.list(),
        minRuns: slow ? 3 : 20,
        group: "diag",
      });
    }
  }
  // The same calls at 1 entry, timed step by step through the library's
  // write hook (a test seam), in the same rounds.
  const steps: Record<string, number> = {};
  let stepCalls = 0;
  let last = 0;
  const mark = (step: string) => {
    const now = performance.now();
    steps[step] = (steps[step] ?? 0) + now - last;
    last = now;
  };
  const stepped = await Deno.makeTempDir({ dir: tmp, prefix: "steps_" });
  writeFixture(stepped, 1, holders);
  const hooked = new LoopRegistry(stepped, {
    [WRITE_HOOK]: mark,
  } as LoopRegistryOptions);
  const self = createLoopEntry("benchmark", {
    id: "loop-bench-self",
    workspace: stepped,
  });
  const all: Case<SingleKey | "steps">[] = [...cases, {
    key: "steps",
    label: "register + deregister, timed by steps",
    run: async () => {
      last = performance.now();
      await hooked.register(self);
      mark("end");
      last = performance.now();
      await hooked.deregister(self.id);
      mark("end");
      stepCalls += 2;
    },
    callsPerRun: 2,
  }];
  const rates = await measureAll(all, {
    rounds: settings.rounds,
    budgetMs: settings.budgetMs,
    onRound: (n) => log(`  round ${n}/${settings.rounds}`),
  });
  // Nothing may have been cleaned, and the benchmark's own entry is gone.
  for (const [size, workspace] of ralphWorkspaces) {
    const left = readFixture(join(workspace, ".ralph", "loops.json")).length;
    if (left !== Math.abs(size)) {
      throw new Error(
        `Cannot trust the run as ralph's ${size}-entry registry changed: ${left} entries`,
      );
    }
  }
  for (
    const [size, workspace] of [
      ...workspaces,
      [DISTINCT_HOLDERS, distinctWorkspace] as const,
    ]
  ) {
    const left = readFixture(join(workspace, ".ralph", "loops.json")).length;
    const listed = (await new LoopRegistry(workspace).list()).length;
    if (left !== size || listed !== size) {
      throw new Error(
        `Cannot trust the run as the ${size}-entry registry changed: ${left} entries in the file, ${listed} listed`,
      );
    }
  }
  return {
    breakdown: (Object.keys(PHASES) as PhaseKey[]).map((key) => ({
      key,
      phase: PHASES[key],
      us: ((steps[key] ?? 0) / stepCalls) * 1000,
    })),
    results: cases.map((item) => ({
      key: item.key,
      label: item.label,
      entries: item.entries,
      group: item.group,
      rate: rates.get(item.key)!,
    })),
    workspaces,
  };
}

/** A line reader over a worker's stdout that fails when the worker exits. */
function lines(stream: ReadableStream<Uint8Array>): () => Promise<string> {
  const next = lineReader(stream);
  return async () => {
    const line = await next();
    if (line === undefined) {
      throw new Error("Cannot read from worker as it exited");
    }
    return line;
  };
}

interface WorkerReport {
  n: number;
  elapsedMs: number;
  latencies: number[];
  errors: number;
  firstError?: string;
}

interface Worker {
  child: Deno.ChildProcess;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  read: () => Promise<string>;
}

/** Starts `count` contention workers and waits until each is ready. */
async function startWorkers(count: number): Promise<Worker[]> {
  const script = fileURLToPath(new URL("./_worker.ts", import.meta.url));
  const workers = Array.from({ length: count }, (_, n) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, String(n)],
      cwd: root,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return {
      child,
      writer: child.stdin.getWriter(),
      read: lines(child.stdout),
    };
  });
  for (const worker of workers) {
    const line = await worker.read();
    if (line !== "ready") throw new Error(`Unexpected worker line ${line}`);
  }
  return workers;
}

async function stopWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.writer.close().catch(() => {})));
  await Promise.all(workers.map((w) => w.child.status));
}

interface PhaseConfig {
  procs: Procs;
  /** Workers run with liveness probes stubbed out (diagnostic). */
  stubbed: boolean;
}

const PHASE_CONFIGS: PhaseConfig[] = [
  ...PROCESSES.map((procs) => ({ procs, stubbed: false })),
  { procs: 1, stubbed: true },
  { procs: 8, stubbed: true },
];

interface Phase {
  rate: number;
  latencies: number[];
  /** Calls of the least served worker over the most served. */
  fairness: number;
  problems: string[];
}

/**
 * One phase: the first `procs` workers do register/deregister pairs on a
 * fresh registry for `durationMs`, then each leaves `final-<n>`; all of
 * those, and nothing else, must be in the file.
 */
async function contentionPhase(
  tmp: string,
  workers: Worker[],
  config: PhaseConfig,
  durationMs: number,
): Promise<Phase> {
  const { procs, stubbed } = config;
  const workspace = await Deno.makeTempDir({
    dir: tmp,
    prefix: `contention${procs}_`,
  });
  const active = workers.slice(0, procs);
  const go = new TextEncoder().encode(
    `go ${durationMs} ${workspace}${stubbed ? " stubbed" : ""}\n`,
  );
  await Promise.all(active.map((w) => w.writer.write(go)));
  const reports: WorkerReport[] = await Promise.all(
    active.map(async (w) => JSON.parse(await w.read())),
  );
  const file = join(workspace, ".ralph", "loops.json");
  const ids = readFixture(file).map((entry) => entry.id).sort();
  const expected = active.map((_, n) => `final-${n}`).sort();
  const listed = (await new LoopRegistry(workspace).list()).length;
  const errors = reports.reduce((sum, r) => sum + r.errors, 0);
  const problems: string[] = [];
  if (JSON.stringify(ids) !== JSON.stringify(expected)) {
    problems.push(`file holds ${JSON.stringify(ids)}`);
  }
  if (listed !== procs) problems.push(`list() gave ${listed} entries`);
  if (errors > 0) {
    const first = reports.find((r) => r.errors > 0)?.firstError;
    problems.push(`${errors} failed calls (${first})`);
  }
  const latencies = reports.flatMap((r) => r.latencies);
  const elapsed = Math.max(...reports.map((r) => r.elapsedMs));
  return {
    rate: latencies.length / (elapsed / 1000),
    latencies,
    fairness: fairness(reports.map((r) => r.latencies.length)),
    problems,
  };
}

/**
 * Contention at 1, 2, 4 and 8 processes, in interleaved rounds (so that a
 * change of load hits every process count alike), with the same worker
 * processes throughout.
 */
async function contention(
  tmp: string,
  settings: Settings,
  lockBaseline: string | undefined,
): Promise<
  { results: ContentionResult[]; floor: number; baseline?: LockBaseline }
> {
  const workers = await startWorkers(Math.max(...PROCESSES));
  const floorFile = join(tmp, "contention_floor.json");
  prepareFloorFile(floorFile);
  const floor: Case = {
    key: KEYS.writeFloor,
    label: "write floor",
    run: () => writeFloor(floorFile),
  };
  try {
    const phases = new Map<PhaseConfig, Phase[]>(
      PHASE_CONFIGS.map((config) => [config, []]),
    );
    const floors: number[] = [];
    const baselineProcs = 8;
    const baseline: { latencies: number[]; rate: number; fairness: number }[] =
      [];
    for (let round = 0; round < settings.contentionRounds; round++) {
      floors.push(await rate(floor, settings.budgetMs));
      if (lockBaseline !== undefined) {
        const runs = await lockBaselinePhase(
          lockBaseline,
          floorFile,
          baselineProcs,
          settings.contentionMs,
        );
        const all = runs.flat();
        baseline.push({
          latencies: all,
          rate: all.length / (settings.contentionMs / 1000),
          fairness: fairness(runs.map((r) => r.length)),
        });
      }
      for (const config of PHASE_CONFIGS) {
        phases.get(config)!.push(
          await contentionPhase(tmp, workers, config, settings.contentionMs),
        );
      }
      log(`  round ${round + 1}/${settings.contentionRounds}`);
    }
    const results = PHASE_CONFIGS.map((config) => {
      const runs = phases.get(config)!;
      const latencies = Float64Array.from(runs.flatMap((r) => r.latencies))
        .sort();
      const problems = runs.flatMap((r) => r.problems);
      return {
        procs: config.procs,
        stubbed: config.stubbed,
        calls: latencies.length,
        rate: median(runs.map((r) => r.rate)),
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        fairness: median(runs.map((r) => r.fairness)),
        lost: problems.length > 0 ? problems.join("; ") : undefined,
      };
    });
    const sorted = Float64Array.from(baseline.flatMap((b) => b.latencies))
      .sort();
    return {
      results,
      floor: median(floors),
      baseline: lockBaseline === undefined ? undefined : {
        procs: baselineProcs,
        calls: sorted.length,
        rate: median(baseline.map((b) => b.rate)),
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        fairness: median(baseline.map((b) => b.fairness)),
      },
    };
  } finally {
    await stopWorkers(workers);
  }
}

/** GNU time, which reports a command's max resident set size (`%M`, KiB). */
const GNU_TIME = "/usr/bin/time";

/** `GNU_TIME` when it runs and reports `%M`, or why it cannot be used. */
async function findGnuTime(): Promise<{ path: string } | { missing: string }> {
  const missing = {
    missing: `needs GNU time at ${GNU_TIME} (Debian package \`time\`)`,
  };
  try {
    const output = await new Deno.Command(GNU_TIME, {
      args: ["-f", "%M", "true"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    return output.success && parseRss(output.stderr) !== undefined
      ? { path: GNU_TIME }
      : missing;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return missing;
    throw error;
  }
}

/** The `%M` figure GNU time wrote as the last line of stderr. */
function parseRss(stderr: Uint8Array): number | undefined {
  const last = new TextDecoder().decode(stderr).trimEnd().split("\n").at(-1);
  return last !== undefined && /^\d+$/.test(last) ? Number(last) : undefined;
}

/**
 * The wall time of `deno <args>`, and its max RSS in KiB when `time` (GNU
 * time) is given: the same process then runs under `time -f %M`, whose own
 * fork and wait fall in the wall time of every command alike.
 */
async function wallMs(
  args: string[],
  time: string | undefined,
): Promise<{ ms: number; rssKiB?: number }> {
  const [program, programArgs] = time === undefined
    ? [Deno.execPath(), args]
    : [time, ["-f", "%M", Deno.execPath(), ...args]];
  const start = performance.now();
  const output = await new Deno.Command(program, {
    args: programArgs,
    cwd: root,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const elapsed = performance.now() - start;
  if (!output.success) {
    throw new Error(
      `Cannot time "deno ${args.join(" ")}" as it failed: ${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
  if (time === undefined) return { ms: elapsed };
  const rssKiB = parseRss(output.stderr);
  if (rssKiB === undefined) {
    throw new Error(
      `Cannot read the max RSS of "deno ${args.join(" ")}" from ${time}: ${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
  return { ms: elapsed, rssKiB };
}

/**
 * Wall times (and, with GNU time, max RSS) of the CLI against `deno run` of
 * an empty file, in interleaved runs.
 */
async function cli(
  tmp: string,
  workspaces: Map<number, string>,
  runs: number,
  time: string | undefined,
): Promise<CliResult[]> {
  const empty = join(tmp, "empty.ts");
  await Deno.writeTextFile(empty, "");
  const nodeUtil = join(tmp, "node_util.ts");
  await Deno.writeTextFile(nodeUtil, 'import "node:util";\n');
  const emptyWorkspace = await Deno.makeTempDir({ dir: tmp, prefix: "cli_" });
  const commands: { key: CliKey; label: string; args: string[] }[] = [
    { key: "empty", label: "an empty file", args: [empty] },
    {
      key: "node",
      label: 'a file holding only `import "node:util"`',
      args: [nodeUtil],
    },
    {
      key: "version",
      label: "`loops --version` (imports, no registry work)",
      args: ["cli.ts", "--version"],
    },
    {
      key: "list",
      label: "`loops list`, empty workspace",
      args: ["cli.ts", "--workspace", emptyWorkspace, "list"],
    },
    {
      key: "json100",
      label: "`loops list --json`, 100 entries",
      args: ["cli.ts", "--workspace", workspaces.get(100)!, "list", "--json"],
    },
    {
      key: "json",
      label: "`loops list --json`, 10,000 entries",
      args: [
        "cli.ts",
        "--workspace",
        workspaces.get(10_000)!,
        "list",
        "--json",
      ],
    },
  ];
  const samples = commands.map(() => [] as number[]);
  const rss = commands.map(() => [] as number[]);
  for (let run = -1; run < runs; run++) {
    for (const [i, command] of commands.entries()) {
      const timed = await wallMs(["run", "-A", ...command.args], time);
      if (run < 0) continue; // run -1 warms the module cache
      samples[i]!.push(timed.ms);
      if (timed.rssKiB !== undefined) rss[i]!.push(timed.rssKiB);
    }
  }
  return commands.map((command, i) => ({
    key: command.key,
    label: command.label,
    command: `deno run -A ${command.args.join(" ")}`.replaceAll(tmp, "$TMP"),
    medianMs: median(samples[i]!),
    maxRssKiB: rss[i]!.length === 0 ? undefined : median(rss[i]!),
    runs,
  }));
}

async function describeMachine(): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const model = cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown";
  const df = await new Deno.Command("df", { args: ["-T", "/tmp"] }).output();
  const fs =
    new TextDecoder().decode(df.stdout).split("\n")[1]?.split(/\s+/)[1] ??
      "unknown";
  return {
    nproc: navigator.hardwareConcurrency,
    cpu: model.trim(),
    kernel: Deno.osRelease(),
    fs,
    deno: Deno.version.deno,
    loadavg: Deno.loadavg(),
  };
}

async function main(args: string[]): Promise<number> {
  try {
    return await bench(args);
  } catch (error) {
    if (!(error instanceof MarkerError)) throw error;
    log(`bench: ${error.message}`);
    return 1;
  }
}

async function bench(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      "write-docs": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    log(
      "USAGE:\n  deno task bench [--quick] [--write-docs]\n\nOPTIONS:\n  --quick       Short rounds (under a minute); numbers are rougher\n  --write-docs  Regenerate the tables in docs/performance.md, and docs/performance.svg",
    );
    return 0;
  }
  const settings: Settings = values.quick
    ? {
      quick: true,
      rounds: 3,
      budgetMs: 100,
      contentionMs: 500,
      contentionRounds: 2,
      cliRuns: 7,
      watchSamples: 40,
      serveRounds: 2,
      servePhaseMs: 1000,
    }
    : {
      quick: false,
      rounds: 7,
      budgetMs: 300,
      contentionMs: 1500,
      contentionRounds: 5,
      cliRuns: 21,
      watchSamples: 200,
      serveRounds: 5,
      servePhaseMs: 2000,
    };
  const command = `deno task bench${values.quick ? " --quick" : ""}${
    values["write-docs"] ? " --write-docs" : ""
  }`;
  const docPath = join(root, "docs", "performance.md");
  // Fail before the run, not after it, when a block's marker is missing.
  if (values["write-docs"]) checkMarkers(await Deno.readTextFile(docPath));
  const started = performance.now();
  const machine = await describeMachine();
  const tmp = await Deno.makeTempDir({ prefix: "loops_bench_" });
  try {
    await using holders = spawnHolders(HOLDERS);
    await using distinct = spawnHolders(DISTINCT_HOLDERS);
    const ralph = await findRalph();
    log(
      "path" in ralph
        ? `ralph's code: ${ralph.path}`
        : `ralph's code not measured: ${ralph.missing}`,
    );
    const lockC = await buildLockBaseline(tmp);
    if ("missing" in lockC) {
      log(`C lock baseline not measured: ${lockC.missing}`);
    }
    log("single process: floors and library calls");
    const { results: singleResults, breakdown, workspaces } = await single(
      tmp,
      holders,
      distinct,
      "path" in ralph ? ralph.path : undefined,
      settings,
    );
    log("contention");
    const {
      results: contentionResults,
      floor: contentionFloor,
      baseline: lockBaseline,
    } = await contention(
      tmp,
      settings,
      "path" in lockC ? lockC.path : undefined,
    );
    const gnuTime = await findGnuTime();
    log(
      "path" in gnuTime
        ? "CLI wall time and max RSS"
        : `CLI wall time; max RSS not measured: ${gnuTime.missing}`,
    );
    const cliResults = await cli(
      tmp,
      workspaces,
      settings.cliRuns,
      "path" in gnuTime ? gnuTime.path : undefined,
    );
    log("Redis engine");
    const redis = await redisBench({
      rounds: settings.rounds,
      budgetMs: settings.budgetMs,
      watchSamples: settings.watchSamples,
      onRound: (n) => log(`  round ${n}/${settings.rounds}`),
    });
    if ("missing" in redis) log(`Redis engine not measured: ${redis.missing}`);
    log("dashboard under load");
    const serve = await serveBench(tmp, holders, {
      rounds: settings.serveRounds,
      phaseMs: settings.servePhaseMs,
      onRound: (n) => log(`  round ${n}/${settings.serveRounds}`),
    });
    const results: Results = {
      command,
      quick: settings.quick,
      settings: {
        rounds: settings.rounds,
        budgetMs: settings.budgetMs,
        contentionRounds: settings.contentionRounds,
        contentionMs: settings.contentionMs,
        cliRuns: settings.cliRuns,
      },
      date: new Date().toISOString(),
      seconds: (performance.now() - started) / 1000,
      machine,
      single: singleResults,
      breakdown,
      contention: contentionResults,
      contentionFloor,
      lockBaseline,
      lockBaselineMissing: "missing" in lockC ? lockC.missing : undefined,
      ralph,
      cli: cliResults,
      cliRssMissing: "missing" in gnuTime ? gnuTime.missing : undefined,
      redis,
      serve,
      targets: [],
    };
    results.targets = evaluate(results);
    const text = renderTables(results);
    // deno-lint-ignore no-console
    console.log(text);
    const out = join(root, "bench", ".results");
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeTextFile(
      join(out, "latest.json"),
      JSON.stringify(results, null, 2),
    );
    if (values["write-docs"]) {
      await Deno.writeTextFile(
        join(root, "docs", "performance.svg"),
        renderChart(results),
      );
      // Read again: the prose may have been edited during the run.
      const doc = await Deno.readTextFile(docPath);
      await Deno.writeTextFile(docPath, updateDoc(doc, results));
      // Leave them as `deno fmt` would, so that `deno fmt --check` passes.
      const fmt = await new Deno.Command(Deno.execPath(), {
        args: ["fmt", "--quiet", "docs/performance.md", "docs/performance.svg"],
        cwd: root,
      }).output();
      if (!fmt.success) {
        throw new Error("Cannot format the docs: deno fmt failed");
      }
      log("wrote docs/performance.md and docs/performance.svg");
    }
    log(`done in ${results.seconds.toFixed(1)} s`);
    return 0;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) Deno.exitCode = await main(Deno.args);
