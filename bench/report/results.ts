// What one benchmark run measured, and the keys that name each measurement.
// Every key is a literal type built from the run's shape (registry sizes,
// process counts), so a misspelt key is a type error rather than a lookup
// that fails at the end of a two-minute run. Lookups live here, and throw
// when a result is missing.

/** Registry sizes the library is measured at. */
export const SIZES = [1, 100, 10_000] as const;
/** A registry size the library is measured at. */
export type Size = (typeof SIZES)[number];

/** Sizes at which `list` is also measured with liveness probes stubbed out. */
export const NOPROBE_SIZES = [1, 10_000] as const satisfies readonly Size[];

/** Contention worker counts. */
export const PROCESSES = [1, 2, 4, 8] as const;
/** A contention worker count. */
export type Procs = (typeof PROCESSES)[number];

/** The measurements that do not depend on a registry size. */
export const KEYS = {
  writeFloor: "floor.write",
  readFloor: "floor.read",
  fsyncFloor: "diag.fsync",
  resizingFloor: "diag.resizing",
  journaledFloor: "diag.journaled",
  probe: "probe",
} as const;

/** A size-independent measurement. */
export type FixedKey = (typeof KEYS)[keyof typeof KEYS];
/** A library call measured at each size. */
export type SizedOp = "pair" | "list" | "get";
/**
 * The fixture of 100 entries held by 100 distinct live processes (each loop
 * is its own process), beside the sizes whose entries share 4 processes.
 */
export const DISTINCT = "100.distinct" as const;
/** ralph's own registry code (`seedreg`), measured on the same fixtures. */
export type RalphKey = `ralph.${"pair" | "list"}.${Size | typeof DISTINCT}`;
/** The key of one single-process measurement. */
export type SingleKey =
  | FixedKey
  | `${SizedOp}.${Size}`
  | `${"list" | "get"}.${typeof DISTINCT}`
  | `list.${typeof DISTINCT}.plain`
  | `list.${(typeof NOPROBE_SIZES)[number]}.noprobe`
  | RalphKey;

/** The key of ralph's measurement of the same call, e.g. `ralph.list.100`. */
export function ralphKey(
  op: "pair" | "list",
  size: Size | typeof DISTINCT,
): RalphKey {
  return `ralph.${op}.${size}`;
}

/** The key of a library call at one size, e.g. `sized("list", 100)`. */
export function sized<Op extends SizedOp, S extends Size>(
  op: Op,
  size: S,
): `${Op}.${S}` {
  return `${op}.${size}`;
}

/** The steps of a register/deregister call, as the write hook names them. */
export const PHASE_KEYS = [
  "journal",
  "write",
  "truncate",
  "sync",
  "done",
  "end",
] as const;
/** A step of a register/deregister call. */
export type PhaseKey = (typeof PHASE_KEYS)[number];

/** The commands whose wall time is measured. */
export const CLI_KEYS = [
  "empty",
  "node",
  "version",
  "list",
  "json100",
  "json",
] as const;
/** A command whose wall time is measured. */
export type CliKey = (typeof CLI_KEYS)[number];

/** The targets of issues 4, 13 and 14. */
export type TargetKey =
  | "pair"
  | "list"
  | "get"
  | "linear"
  | "contention"
  | "lost"
  | "cli"
  | "rss"
  | "ralph.list.1"
  | "ralph.list.distinct"
  | "ralph.list.10000"
  | "ralph.pair.1"
  | "ralph.pair.100"
  | "ralph.pair.10000"
  | "lock.p99"
  | "lock.fairness"
  | "serve";

/** A Redis engine call measured (issue 11). */
export type RedisKey =
  | `redis.${"pair" | "list"}.${Size}`
  | "redis.heartbeat"
  | "redis.fill";

/** One Redis engine measurement. */
export interface RedisResult {
  key: RedisKey;
  label: string;
  entries?: number;
  /** Calls per second (median of the rounds). */
  rate: number;
}

/** How soon another registry's `watch()` yields a change. */
export interface WatchLatency {
  /** Entries in the namespace besides the changing one. */
  entries: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
}

/** The Redis engine's section of a run. */
export interface RedisSection {
  /** `redis-server --version`'s version. */
  server: string;
  rounds: number;
  budgetMs: number;
  results: RedisResult[];
  watch: WatchLatency[];
}

/**
 * `list` of a file registry in one process while `loops serve` of the same
 * workspace pushes to event-stream clients (issue 14).
 */
export interface ServeSection {
  /** Event-stream clients in the loaded phases. */
  clients: number;
  /** Entries of the registry listed. */
  entries: number;
  rounds: number;
  /** Length of each phase, ms. */
  phaseMs: number;
  /** Registry changes per second made during every phase (both kinds). */
  changesPerSecond: number;
  /** list calls/s in another process, no client connected (median round). */
  idleRate: number;
  /** list calls/s in another process, with the clients (median round). */
  loadedRate: number;
  /** idle over loaded rate, the median of the rounds' ratios. */
  ratio: number;
  /** Each round's idle over loaded rate, in the order run. */
  ratios: number[];
  /** `loops` events received per second over all clients, loaded phases. */
  eventsPerSecond: number;
  /** Bytes received per second over all clients, loaded phases. */
  bytesPerSecond: number;
  /** Fewest clients still streaming at the end of a loaded phase. */
  streaming: number;
}

/** The machine the run was made on. */
export interface Machine {
  nproc: number;
  cpu: string;
  kernel: string;
  fs: string;
  deno: string;
  loadavg: number[];
}

/** One single-process measurement. */
export interface SingleResult {
  key: SingleKey;
  label: string;
  entries?: number;
  group: "floor" | "diag" | "probe" | "write" | "read" | "ralph";
  /** Calls per second (median of the rounds). */
  rate: number;
}

/** The mean time of one step of a register/deregister call. */
export interface PhaseResult {
  key: PhaseKey;
  phase: string;
  us: number;
}

/** One contention measurement. */
export interface ContentionResult {
  procs: Procs;
  /** Liveness probes stubbed out in the workers (diagnostic). */
  stubbed: boolean;
  calls: number;
  /** Total calls per second over all processes. */
  rate: number;
  p50Ms: number;
  p99Ms: number;
  /** Calls of the least served process over the most served (median of rounds). */
  fairness: number;
  /** What went wrong, when an update was lost; `undefined` when none. */
  lost?: string;
}

/**
 * The same contention through a blocking `flock(LOCK_EX)` in C (open, lock,
 * read, write 300 B, fdatasync, close): the kernel's own queue.
 */
export interface LockBaseline {
  procs: Procs;
  calls: number;
  rate: number;
  p50Ms: number;
  p99Ms: number;
  fairness: number;
}

/** One CLI wall-time measurement. */
export interface CliResult {
  key: CliKey;
  label: string;
  command: string;
  medianMs: number;
  /**
   * Median over the same runs of the process's maximum resident set size,
   * KiB (GNU time's `%M`); `undefined` when GNU time was not found.
   */
  maxRssKiB?: number;
  runs: number;
}

/** A target of issue 4 and whether this run meets it. */
export interface Target {
  key: TargetKey;
  name: string;
  measured: string;
  required: string;
  met: boolean;
  /** How many times too far off the requirement, when missed and numeric. */
  missedBy?: number;
}

/** How long and how often each part ran. */
export interface RunSettings {
  rounds: number;
  budgetMs: number;
  contentionRounds: number;
  contentionMs: number;
  cliRuns: number;
}

/** Everything one run measured. */
export interface Results {
  command: string;
  quick: boolean;
  settings: RunSettings;
  date: string;
  seconds: number;
  machine: Machine;
  single: SingleResult[];
  breakdown: PhaseResult[];
  contention: ContentionResult[];
  /** The write floor measured in the contention rounds, calls per second. */
  contentionFloor: number;
  /** The C blocking-flock contention, when a C compiler was found. */
  lockBaseline?: LockBaseline;
  /** Why the C baseline was not measured, when it was not. */
  lockBaselineMissing?: string;
  /** The `seedreg` binary measured, or why ralph's code was not measured. */
  ralph: { path: string } | { missing: string };
  cli: CliResult[];
  /** Why the CLI's max RSS was not measured (no GNU time), when it was not. */
  cliRssMissing?: string;
  /** The Redis engine, or why it was not measured (no redis-server). */
  redis: RedisSection | { missing: string };
  /** The dashboard under load. */
  serve: ServeSection;
  targets: Target[];
}

function found<T>(item: T | undefined, what: string): T {
  if (item === undefined) {
    throw new RangeError(`Cannot report as a result is missing: ${what}`);
  }
  return item;
}

/** Calls per second of a single-process measurement. */
export function rateOf(results: Results, key: SingleKey): number {
  return found(results.single.find((r) => r.key === key), key).rate;
}

/** A measurement's rate, `undefined` when it was not made (ralph not built). */
export function rateIfAny(
  results: Results,
  key: SingleKey,
): number | undefined {
  return results.single.find((r) => r.key === key)?.rate;
}

/** Microseconds per call of a single-process measurement. */
export function usOf(results: Results, key: SingleKey): number {
  return 1e6 / rateOf(results, key);
}

/** A measurement's rate as a multiple of the write floor's. */
export function vsWriteFloor(results: Results, key: SingleKey): number {
  return rateOf(results, key) / rateOf(results, KEYS.writeFloor);
}

/** Mean microseconds per call spent in one step of register/deregister. */
export function stepUs(results: Results, key: PhaseKey): number {
  return found(results.breakdown.find((p) => p.key === key), key).us;
}

/** The contention measurement at `procs` workers. */
export function contentionOf(
  results: Results,
  procs: Procs,
  options: { stubbed?: boolean } = {},
): ContentionResult {
  const stubbed = options.stubbed ?? false;
  return found(
    results.contention.find((c) => c.procs === procs && c.stubbed === stubbed),
    `${procs} processes${stubbed ? ", stubbed" : ""}`,
  );
}

/** Median wall milliseconds of one CLI command. */
export function cliMs(results: Results, key: CliKey): number {
  return found(results.cli.find((r) => r.key === key), key).medianMs;
}

/** Median max RSS of one CLI command in KiB, `undefined` when not measured. */
export function cliRssKiB(results: Results, key: CliKey): number | undefined {
  return found(results.cli.find((r) => r.key === key), key).maxRssKiB;
}

/** Calls per second of a Redis measurement, `undefined` when not made. */
export function redisRate(
  results: Results,
  key: RedisKey,
): number | undefined {
  if ("missing" in results.redis) return undefined;
  return results.redis.results.find((r) => r.key === key)?.rate;
}

/** One evaluated target. */
export function targetOf(results: Results, key: TargetKey): Target {
  return found(results.targets.find((t) => t.key === key), key);
}
