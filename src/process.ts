import { heldIdentity, holdVerified } from "./_pidfd.ts";

/** The largest pid Linux can hand out (`/proc/sys/kernel/pid_max` limit). */
export const MAX_PID = 4_194_304;

/**
 * What is known of a process's liveness.
 *
 * - `alive`: the process exists (also when it belongs to another user).
 * - `dead`: proven gone: no such process, a zombie, an invalid pid, or a pid
 *   now held by another process (its identity differs).
 * - `unknown`: liveness cannot be checked (no `--allow-run`).
 */
export type Liveness = "alive" | "dead" | "unknown";

/**
 * Identity of a process beyond its pid, to tell a reused pid apart. On Linux
 * it is the raw start time (field 22 of `/proc/<pid>/stat`, in clock ticks
 * since boot) and the boot id (`/proc/sys/kernel/random/boot_id`).
 */
export interface ProcessIdentity {
  /** Start time in clock ticks since boot. */
  startTime: number;
  /** The kernel's boot id. */
  bootId: string;
}

/**
 * A process's identity as read from `/proc`, with its scheduler state.
 */
export interface LiveProcessIdentity extends ProcessIdentity {
  /** State letter from `/proc/<pid>/stat`, e.g. `R`, `S`, `Z` (zombie). */
  state: string;
}

/**
 * Whether `pid` is a pid that may be probed or signalled: an integer from 1
 * to 4194304. Pid 0 and negative pids address process groups, so they are
 * never passed to `Deno.kill`.
 *
 * @param pid The value to check.
 * @returns `true` when `pid` is a valid pid.
 *
 * @example Check pids
 * ```ts
 * import { isValidPid } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isValidPid(1234), true);
 * assert.equal(isValidPid(0), false);
 * assert.equal(isValidPid(-1), false);
 * assert.equal(isValidPid(1.5), false);
 * ```
 */
export function isValidPid(pid: unknown): pid is number {
  return typeof pid === "number" && Number.isInteger(pid) && pid >= 1 &&
    pid <= MAX_PID;
}

let procReadable: boolean | undefined;
let bootIdCache: string | undefined;

function readProcText(path: string): string | undefined {
  if (procReadable === false) return undefined;
  try {
    const text = Deno.readTextFileSync(path);
    procReadable = true;
    return text;
  } catch (error) {
    return unreadable(error);
  }
}

/**
 * What a failed `/proc` read means: nothing is known (`undefined`), or a
 * real error (rethrown). Reading /proc needs all permissions (-A); without
 * them identity is unknown, never "reused", and it is remembered so later
 * probes stay cheap.
 */
function unreadable(error: unknown): undefined {
  if (error instanceof Deno.errors.NotCapable) {
    procReadable = false;
    return undefined;
  }
  if (error instanceof Deno.errors.NotFound) return undefined;
  if (error instanceof Deno.errors.PermissionDenied) return undefined;
  // The process exited between the open and the read.
  if ((error as { code?: unknown }).code === "ESRCH") return undefined;
  throw error;
}

const statBuffer = new Uint8Array(1024);
const statDecoder = new TextDecoder();

/**
 * `/proc/<pid>/stat` in one open, read and close (`readTextFileSync` also
 * fstats and reads again for the end of file: twice the system calls); the
 * same answers as {@linkcode readProcText}.
 */
function readProcStat(pid: number): string | undefined {
  if (procReadable === false) return undefined;
  try {
    // try/finally rather than `using`: the latter costs more than the read.
    const file = Deno.openSync(`/proc/${pid}/stat`);
    let length = 0;
    let buffer = statBuffer;
    try {
      for (;;) {
        if (length === buffer.length) {
          const grown = new Uint8Array(buffer.length * 2);
          grown.set(buffer);
          buffer = grown;
        }
        const n = file.readSync(buffer.subarray(length));
        if (n === null || n === 0) break;
        length += n;
        // The kernel writes the whole line in one read when it fits.
        if (length < buffer.length) break;
      }
    } finally {
      file.close();
    }
    procReadable = true;
    return statDecoder.decode(buffer.subarray(0, length));
  } catch (error) {
    return unreadable(error);
  }
}

let bootTimeMs: number | undefined;

/**
 * The wall-clock time a process started, from its start time in clock ticks
 * since boot: boot time + ticks / 100 (USER_HZ, the unit of `/proc` on
 * Linux). The boot time is now minus `/proc/uptime` (to 10 ms; the `btime`
 * of `/proc/stat` has whole seconds), read once. `undefined` where `/proc`
 * cannot be read.
 */
function startedAtMs(ticks: number): number | undefined {
  if (bootTimeMs === undefined) {
    const uptime = Number(readProcText("/proc/uptime")?.split(" ")[0]);
    if (!Number.isFinite(uptime)) return undefined;
    bootTimeMs = Date.now() - uptime * 1000;
  }
  return bootTimeMs + ticks * 10;
}

/**
 * Where this process runs, as far as it can be read: see
 * {@linkcode readLocalOrigin}.
 */
export interface LocalOrigin {
  /**
   * `LOOPS_HOST_ID`, or a hash of `/etc/machine-id` (of the boot id where
   * there is none).
   */
  hostId?: string;
  /** The host name, for display. */
  hostname?: string;
  /** The kernel's boot id. */
  bootId?: string;
  /** The inode of this process's pid namespace (`/proc/self/ns/pid`). */
  pidNamespace?: number;
}

/** 64-bit FNV-1a of `text`, as 16 hex digits (a stable, short host id). */
function hash64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    h = ((h ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

function readTextOrUndefined(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim() || undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return undefined;
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.PermissionDenied) return undefined;
    throw error;
  }
}

let localOrigin: LocalOrigin | undefined;

/** What `LOOPS_HOST_ID` may hold: a name, not a path or a sentence. */
const HOST_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * `LOOPS_HOST_ID`, when set and readable (`--allow-env=LOOPS_HOST_ID`):
 * the host id of containers that share one `/etc/machine-id` but not their
 * processes. `undefined` when unset, empty or not granted.
 *
 * @throws {TypeError} If it is set to something that is not a host id.
 */
function readHostIdVariable(): string | undefined {
  const { state } = Deno.permissions.querySync({
    name: "env",
    variable: "LOOPS_HOST_ID",
  });
  if (state !== "granted") return undefined;
  const value = Deno.env.get("LOOPS_HOST_ID");
  if (value === undefined || value === "") return undefined;
  if (!HOST_ID.test(value)) {
    throw new TypeError(
      `LOOPS_HOST_ID must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit): got ${
        JSON.stringify(value.slice(0, 80))
      }; set it to a name unique to this host, or unset it`,
    );
  }
  return value;
}

/**
 * Reads where this process runs: the host (`LOOPS_HOST_ID` when it is set
 * and `--allow-env=LOOPS_HOST_ID` granted, else a hash of
 * `/etc/machine-id`, or of the boot id where a container has no machine id;
 * and the host name),
 * the boot id, and the pid namespace. A pid number means a process only in
 * the pid namespace it was read in: entries registered on another host or in
 * another namespace are never judged by a local pid. Fields that cannot be
 * read are left out: the namespace and boot id need `-A` (Deno guards
 * `/proc`), the host name `--allow-sys=hostname`. Read once per process.
 *
 * @returns What could be read of this process's origin.
 *
 * @example Read this process's origin
 * ```ts
 * import { readLocalOrigin } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * // Under -A every field is there; with less, what could be read. The host
 * // id is LOOPS_HOST_ID when set, else 16 hex digits.
 * const { hostId } = readLocalOrigin();
 * if (hostId !== undefined) assert.match(hostId, /^[A-Za-z0-9][\w.-]*$/);
 * ```
 */
export function readLocalOrigin(): LocalOrigin {
  if (localOrigin !== undefined) return localOrigin;
  const origin: LocalOrigin = {};
  bootIdCache ??= readProcText("/proc/sys/kernel/random/boot_id")?.trim();
  if (bootIdCache !== undefined) origin.bootId = bootIdCache;
  const machine = readTextOrUndefined("/etc/machine-id") ??
    readTextOrUndefined("/var/lib/dbus/machine-id");
  const named = readHostIdVariable();
  if (named !== undefined) origin.hostId = named;
  else if (machine !== undefined) origin.hostId = hash64(`machine:${machine}`);
  else if (origin.bootId !== undefined) {
    origin.hostId = hash64(`boot:${origin.bootId}`);
  }
  try {
    origin.hostname = Deno.hostname();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
  if (procReadable !== false) {
    try {
      const link = Deno.readLinkSync("/proc/self/ns/pid");
      const inode = Number(link.match(/^pid:\[(\d+)\]$/)?.[1]);
      if (Number.isSafeInteger(inode)) origin.pidNamespace = inode;
    } catch (error) {
      if (
        !(error instanceof Deno.errors.NotCapable) &&
        !(error instanceof Deno.errors.NotFound) &&
        !(error instanceof Deno.errors.PermissionDenied)
      ) {
        throw error;
      }
    }
  }
  localOrigin = origin;
  return origin;
}

/**
 * Reads the identity of a live process from `/proc`.
 *
 * Returns `undefined` where it cannot be read: not Linux, the process is gone,
 * or Deno lacks permission. Requires all permissions (`-A`): Deno refuses any
 * `/proc` read otherwise, and then identity is simply unknown.
 *
 * @param pid The process id.
 * @returns The identity, or `undefined` when it cannot be read.
 *
 * @example Read this process's identity (needs `-A`)
 * ```ts ignore
 * import { readProcessIdentity } from "@loops/registry";
 *
 * const identity = readProcessIdentity(Deno.pid);
 * console.log(identity?.startTime, identity?.bootId);
 * ```
 */
export function readProcessIdentity(
  pid: number,
): LiveProcessIdentity | undefined {
  if (!isValidPid(pid) || Deno.build.os !== "linux") return undefined;
  const stat = readProcStat(pid);
  if (stat === undefined) return undefined;
  bootIdCache ??= readProcText("/proc/sys/kernel/random/boot_id")?.trim();
  if (bootIdCache === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: fields after
  // it start after the last ')'. Field 3 is the state, field 22 start time.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const startTime = Number(fields[19]);
  if (!Number.isSafeInteger(startTime) || fields[0] === undefined) {
    return undefined;
  }
  return { startTime, bootId: bootIdCache, state: fields[0] };
}

/** Options for {@linkcode probeProcess} and {@linkcode explainProcess}. */
export interface ProbeOptions {
  /**
   * Use the signal probe alone (`kill(pid, 0)`, about 4 us): skip the `/proc`
   * read that detects zombies and reused pids (about 10 us).
   *
   * @default {false}
   */
  signalOnly?: boolean;
  /**
   * When the loop registered (an RFC 3339 time, e.g. the entry's `started`),
   * for an entry without a recorded identity: a live process that started
   * more than {@linkcode START_MARGIN_MS} later is not the loop (`unknown`,
   * reason `pid-reused`). Needs `-A`, like every `/proc` read.
   *
   * @default {undefined}
   */
  registeredAt?: string;
}

/**
 * How much later than a loop's registration its process may seem to have
 * started (start times have 10 ms steps, and the boot time is derived from
 * the clock) before the pid counts as reused.
 */
export const START_MARGIN_MS = 2000;

/**
 * Why a process has the liveness it has, from {@linkcode explainProcess}.
 *
 * - `invalid-pid`: not an integer from 1 to 4194304 (dead).
 * - `exited`: no such process (dead).
 * - `zombie`: exited, not yet reaped by its parent (dead).
 * - `pid-reused`: the pid now names another process (dead).
 * - `pid-reused`: the pid now names another process: dead when the recorded
 *   identity differs; `unknown` when only the start time shows it (the
 *   process started after the loop registered, which a clock step could fake:
 *   such a process is never signalled, and never cleaned either).
 * - `rebooted`: registered on this host before its last boot (dead).
 * - `other-host`: registered on another host: not probed here (unknown).
 * - `other-pid-namespace`: registered in another pid namespace (a container)
 *   of this host, where its pid means another process: not probed (unknown).
 * - `no-permission`: no `--allow-run` to probe it, or (for an entry that
 *   records where it runs) no `-A` to tell where this process runs (unknown).
 * - `verified`: alive, and its identity matches the recorded one.
 * - `alive`: alive; identity not recorded or not readable.
 */
export type LivenessReason =
  | "invalid-pid"
  | "exited"
  | "zombie"
  | "pid-reused"
  | "rebooted"
  | "other-host"
  | "other-pid-namespace"
  | "no-permission"
  | "verified"
  | "alive";

/** The liveness of a process and the reason for it. */
export interface ProcessVerdict {
  /** Alive, dead or unknown. */
  liveness: Liveness;
  /** Why. */
  reason: LivenessReason;
}

/**
 * Tells whether a process is alive, dead or unknown, and why. See
 * {@linkcode probeProcess}, which returns the liveness alone.
 *
 * Requires `--allow-run` (unscoped) for any pid but this process's own, and
 * `-A` to read identities from `/proc`.
 *
 * @param pid The process id.
 * @param identity The identity recorded when the loop registered, if any.
 * @param options Whether to use the signal probe alone.
 * @returns The liveness and its reason.
 *
 * @example Explain an invalid pid
 * ```ts
 * import { explainProcess } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(explainProcess(-1), {
 *   liveness: "dead",
 *   reason: "invalid-pid",
 * });
 * ```
 */
export function explainProcess(
  pid: number,
  identity?: ProcessIdentity,
  options: ProbeOptions = {},
): ProcessVerdict {
  if (!isValidPid(pid)) return { liveness: "dead", reason: "invalid-pid" };
  // A process verified before and still running (see _pidfd.ts): the verdict
  // of the /proc read, from the identity read then, without reading again.
  const held = options.signalOnly ? undefined : heldIdentity(pid);
  if (held !== undefined) {
    return identityVerdict(held.startTime, held.bootId, identity, options);
  }
  // Where /proc answers, the process exists and the signal probe would add
  // nothing (a /proc read needs -A, which grants the probe). Where it does
  // not (exited, hidden by a `hidepid` mount, no -A), the signal decides, and
  // /proc is read once more after it (the pid may have been taken meanwhile).
  let live = options.signalOnly ? undefined : readProcessIdentity(pid);
  if (live === undefined) {
    try {
      Deno.kill(pid, 0 as unknown as Deno.Signal);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return { liveness: "dead", reason: "exited" };
      }
      if (error instanceof Deno.errors.NotCapable) {
        return { liveness: "unknown", reason: "no-permission" };
      }
      // EPERM: the process exists but belongs to another user.
      if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
    }
    live = options.signalOnly ? undefined : readProcessIdentity(pid);
  }
  if (live === undefined) return { liveness: "alive", reason: "alive" };
  if (live.state === "Z" || live.state === "X") {
    return { liveness: "dead", reason: "zombie" };
  }
  const verdict = identityVerdict(
    live.startTime,
    live.bootId,
    identity,
    options,
  );
  if (verdict.liveness === "alive") {
    holdVerified(pid, live.startTime, live.bootId, runningStartTime);
  }
  return verdict;
}

/**
 * The verdict on a running process (not a zombie) that started at
 * `startTime` in boot `bootId`, for the entry's recorded `identity`.
 */
function identityVerdict(
  startTime: number,
  bootId: string,
  identity: ProcessIdentity | undefined,
  options: ProbeOptions,
): ProcessVerdict {
  if (identity === undefined) {
    const registered = options.registeredAt === undefined
      ? NaN
      : Date.parse(options.registeredAt);
    const started = startedAtMs(startTime);
    if (started !== undefined && started > registered + START_MARGIN_MS) {
      return { liveness: "unknown", reason: "pid-reused" };
    }
    return { liveness: "alive", reason: "alive" };
  }
  if (identity.bootId !== bootId || identity.startTime !== startTime) {
    return { liveness: "dead", reason: "pid-reused" };
  }
  return { liveness: "alive", reason: "verified" };
}

/** The start time of the process at `pid`, unless gone or a zombie. */
function runningStartTime(pid: number): number | undefined {
  const live = readProcessIdentity(pid);
  if (live === undefined || live.state === "Z" || live.state === "X") {
    return undefined;
  }
  return live.startTime;
}

/**
 * Tells whether a process is alive, dead or unknown.
 *
 * Probes with `Deno.kill(pid, 0)`, which sends no signal: no such process
 * means `dead`, another user's process (EPERM) means `alive`, and a missing
 * `--allow-run` means `unknown`. Where `/proc` can be read (`-A`), a zombie is
 * `dead`, and so is a process whose identity differs from `identity` (the pid
 * was reused). An invalid pid (see {@linkcode isValidPid}) is `dead` and is
 * never signalled.
 *
 * Requires `--allow-run` (unscoped) for any pid but this process's own.
 *
 * @param pid The process id.
 * @param identity The identity recorded when the loop registered, if any.
 * @param options Whether to use the signal probe alone.
 * @returns The liveness of the process.
 *
 * @example Probe this process
 * ```ts
 * import { probeProcess } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * assert.equal(probeProcess(Deno.pid), "alive");
 * assert.equal(probeProcess(0), "dead");
 * ```
 */
export function probeProcess(
  pid: number,
  identity?: ProcessIdentity,
  options: ProbeOptions = {},
): Liveness {
  return explainProcess(pid, identity, options).liveness;
}
