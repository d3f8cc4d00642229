// Descriptors held on verified processes, so that probing one again costs a
// poll(2) instead of a /proc read (Linux, under `--allow-ffi`; the CLI runs
// with `-A`, and /proc can only be read with `-A` anyway).
//
// Why: `list` probes every distinct process of the registry, and where /proc
// answers each probe is an open + read + close of `/proc/<pid>/stat`, about
// 14 us in Deno, most of it the kernel formatting the line (the same read
// through FFI is still about 10 us). A pidfd (pidfd_open(2), Linux 5.3)
// polled with a zero timeout answers "has this process exited?" in about
// 2 us through FFI. It pays off only in a process that lists again (serve,
// watch, a program holding a registry): a pidfd is opened the second time
// a process is verified, never on the first, so a one-shot `loops list`
// (each process probed once) pays nothing but a map insert per process.
//
// Safety: a held descriptor answers only "the process verified then is
// still running", and process.ts then gives the verdict the /proc read
// would give, from the start time read then. That is exact because:
// 1. A pidfd refers to one process for its whole life, never to a process
//    that later gets the same pid; it polls readable once that process has
//    exited, zombie included (the whole thread group has exited).
// 2. It is opened only after the /proc read verified the process (alive,
//    not a zombie, identity as recorded or started before registration),
//    and kept only if (a) /proc/self/fdinfo/<fd> gives its pid, in the pid
//    namespace of this /proc, as the probed pid (pidfd_open takes the pid in
//    this process's namespace, /proc/<pid> in its mount's: they differ after
//    `unshare --pid` without a new /proc), and (b) /proc/<pid>/stat read
//    again gives the same start time and no zombie (the pid may have been
//    reused between the first read and pidfd_open). While the pidfd's
//    process runs, it holds that pid in that namespace: so whenever a later
//    poll finds it running, it is the process that was read, with the start
//    time that was read (by (a), (b) and 1).
// 3. Readable, or any poll error: the descriptor is closed and dropped, and
//    the /proc read decides (exited, zombie, or a reused pid).
// 4. Descriptors are close-on-exec (pidfd_open always sets O_CLOEXEC), are
//    not Deno resources (nothing keeps the event loop alive), and are closed
//    only here, once: when dropped, evicted, or by `closePidfds()`.
// 5. Bounded: at most CAPACITY descriptors. A full cache evicts its least
//    recently used entry only if that one was last probed more than
//    EVICT_IDLE_MS ago (a process no longer listed, typically exited);
//    otherwise the new process is simply not held. Evicting on every miss
//    would thrash when more than CAPACITY processes are listed in turn, each
//    miss then paying open + fdinfo + stat instead of one stat.
// The one known difference: a process whose main thread has exited while
// other threads run reads `Z` in /proc (a zombie, dead) but is running for
// its pidfd (alive). The held answer is the truer one, and errs towards
// keeping an entry.
//
// Where the FFI cannot be used (not Linux x86_64/aarch64, no `--allow-ffi`,
// dlopen fails, pidfd_open missing or forbidden by seccomp), nothing is held
// and every probe takes the plain path, for the rest of the process.
//
// Signals (`signalProcess`, for `loops stop`) go through a pidfd too, which
// closes the window between verifying a process and `kill(pid, sig)`, in
// which it could exit and its pid be given to another process. A pidfd is
// opened on the pid and confirmed exactly as one that is kept (2. above):
// its fdinfo gives the pid, and /proc/<pid>/stat read after the open gives
// the verified start time and no zombie. Then the process verified before
// held the pid from before the open until that read (a process keeps its
// pid for life), so it is the one pidfd_open found: pidfd_send_signal can
// reach it and nothing else (ESRCH once it has exited). A pidfd held on it
// (the same start time) is used as it is. Anything that does not confirm it
// (exited, a zombie, another start time, another pid in fdinfo) sends
// nothing; where the FFI or /proc cannot be used nothing is sent either, and
// the caller may fall back to `kill(2)` by pid.

import { SIGNAL_NUMBERS, type SignalName } from "./_signals.ts";

/** How many descriptors are held at most. */
export const CAPACITY = 256;
/** How long an entry must have gone unprobed before a full cache evicts it. */
export const EVICT_IDLE_MS = 5000;
/** How many processes seen once (no descriptor yet) are remembered. */
const SEEN_CAPACITY = 4 * CAPACITY;

/** `pidfd_open` on x86_64 and aarch64 (asm-generic) alike. */
const SYS_PIDFD_OPEN = 434n;
/** `pidfd_send_signal` on x86_64 and aarch64 (asm-generic) alike. */
const SYS_PIDFD_SEND_SIGNAL = 424n;
const POLLIN = 1;
const EPERM = 1;
const ESRCH = 3;
const ENOSYS = 38;

const SYMBOLS = {
  syscall: { parameters: ["i64", "i64", "i64"], result: "i64" },
  /** syscall(2) with four arguments: pidfd_send_signal(fd, sig, info, 0). */
  syscall4: {
    name: "syscall",
    parameters: ["i64", "i64", "i64", "i64", "i64"],
    result: "i64",
  },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The libc symbols; `null` once they proved unusable (for good). */
let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return null;
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
    return null;
  }
  // querySync never prompts.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return null;
  }
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    // No libc.so.6 (musl), or the FFI refused: the plain path, for good.
  }
  return libc;
}

const BIG_ONE = 1n;

/** One `struct pollfd` asking for POLLIN on `fd`: fd (i32), events (i16). */
function pollfdOf(fd: number): Uint8Array<ArrayBuffer> {
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, POLLIN, true);
  return pollfd;
}

/**
 * Whether the process of `entry` has exited (or the poll failed): poll(2)
 * returns how many descriptors have events (it sets `revents` every time).
 */
function exited(lib: Libc, entry: Held): boolean {
  return lib.poll(entry.pollfd, BIG_ONE, 0) !== 0;
}

interface Held {
  fd: number;
  pollfd: Uint8Array<ArrayBuffer>;
  startTime: number;
  bootId: string;
  usedAt: number;
}

/** Held descriptors by pid, least recently probed first. */
const held = new Map<number, Held>();
/** Start times of processes verified once, by pid, oldest first. */
const seen = new Map<number, number>();

function closeFd(lib: Libc, fd: number): void {
  lib.close(fd);
}

/**
 * The start time of the process at `pid` if a descriptor is held on it and
 * it has not exited: the process verified then, still running. `undefined`
 * otherwise (nothing held, or it exited: then the descriptor is closed).
 */
export function heldIdentity(
  pid: number,
): { startTime: number; bootId: string } | undefined {
  if (held.size === 0) return undefined;
  const entry = held.get(pid);
  if (entry === undefined || libc == null) return undefined;
  held.delete(pid);
  if (exited(libc, entry)) {
    closeFd(libc, entry.fd);
    return undefined;
  }
  entry.usedAt = performance.now();
  held.set(pid, entry);
  return entry;
}

/**
 * Records that the plain path verified the process at `pid` (alive, not a
 * zombie, started at `startTime`). The second time the same process is
 * verified, opens a pidfd on it and keeps it if `reread` (the start time
 * /proc gives now for `pid`, `undefined` for a zombie or none) and the
 * descriptor's own pid confirm it is the process that was read.
 */
export function holdVerified(
  pid: number,
  startTime: number,
  bootId: string,
  reread: (pid: number) => number | undefined,
): void {
  if (libc === null) return;
  const before = seen.get(pid);
  if (before !== startTime) {
    // First sighting (or another process now): remember it, open nothing.
    seen.delete(pid);
    seen.set(pid, startTime);
    if (seen.size > SEEN_CAPACITY) seen.delete(seen.keys().next().value!);
    return;
  }
  const lib = loadLibc();
  if (lib === null) {
    seen.clear();
    return;
  }
  if (!roomFor(lib)) return;
  const fd = openVerified(lib, pid, startTime, reread);
  // Not confirmed (it just exited, another process, EMFILE...): not held.
  if (typeof fd !== "number") return;
  seen.delete(pid);
  held.set(pid, {
    fd,
    pollfd: pollfdOf(fd),
    startTime,
    bootId,
    usedAt: performance.now(),
  });
}

function errnoOf(lib: Libc): number {
  return new Deno.UnsafePointerView(lib.__errno_location()!).getInt32();
}

/**
 * A pidfd on `pid`, confirmed to be the process verified as running since
 * `startTime` (see the header): pidfd_open, then its fdinfo `Pid:` must be
 * `pid` and `reread(pid)` (the start time /proc gives now, `undefined` for
 * a zombie or none) must be `startTime`, both read after the open (in
 * either order).
 * Otherwise the descriptor is closed, and the answer is `"gone"` (not that
 * process: exited, a zombie, another one, or another pid namespace's) or
 * `"unavailable"` (pidfd_open failed otherwise: after ENOSYS or EPERM, a
 * kernel without it or a seccomp filter, pidfds are disabled for good).
 * What `reread` throws is thrown, the descriptor closed.
 */
function openVerified(
  lib: Libc,
  pid: number,
  startTime: number,
  reread: (pid: number) => number | undefined,
): number | "gone" | "unavailable" {
  const fd = Number(lib.syscall(SYS_PIDFD_OPEN, BigInt(pid), 0n));
  if (fd < 0) {
    const errno = errnoOf(lib);
    if (errno === ESRCH) return "gone";
    // No such system call, or a seccomp filter refusing it: never again.
    if (errno === ENOSYS || errno === EPERM) disable();
    // Otherwise (EMFILE, ENOMEM...): not this time.
    return "unavailable";
  }
  let confirmed = false;
  try {
    // /proc first: where it cannot be read, what `reread` throws says so
    // (fdinfo, read with the same permission, would just not match).
    confirmed = reread(pid) === startTime && fdinfoPid(fd) === pid;
  } finally {
    if (!confirmed) closeFd(lib, fd);
  }
  return confirmed ? fd : "gone";
}

/**
 * The start time of the running process at `pid` (field 22 of
 * /proc/<pid>/stat), `undefined` when there is none or it is a zombie.
 *
 * @throws {Deno.errors.NotCapable} If /proc may not be read (no `-A`).
 * @throws {Deno.errors.PermissionDenied} If /proc hides it (`hidepid`).
 */
function runningStartTime(pid: number): number | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    // It exited between the open and the read.
    if ((error as { code?: unknown }).code === "ESRCH") return undefined;
    throw error;
  }
  // The command name (field 2) may hold spaces and parentheses: fields after
  // it start after the last ')'. Field 3 is the state, field 22 start time.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  const start = Number(fields[19]);
  return Number.isSafeInteger(start) ? start : undefined;
}

/**
 * Sends `signal` to the process at `member.pid` only if it is the process
 * that started at `member.startTime` (clock ticks since boot, field 22 of
 * /proc/<pid>/stat), through a pidfd: no other process can receive it, even
 * if that one exits and its pid is reused meanwhile (see the header). Uses
 * the descriptor held on it if there is one.
 *
 * Needs Linux (x86_64 or aarch64), `--allow-ffi` and `-A` (for /proc).
 *
 * @param member The pid and the start time verified for it.
 * @param signal The signal to send.
 * @returns `"sent"` once the kernel accepted the signal; `"gone"` when
 * nothing was sent as the process is not (or no longer) provably the one
 * that started then: exited, a zombie, or the pid names another process;
 * `"unavailable"` when nothing was sent as pidfds, the FFI or /proc cannot
 * be used here (also after EPERM from pidfd_send_signal, which a seccomp
 * filter may give as well as the kernel for another user's process): the
 * caller may then signal by pid, as it would have without pidfds.
 */
export function signalProcess(
  member: { pid: number; startTime: number },
  signal: SignalName,
): "sent" | "gone" | "unavailable" {
  const { pid, startTime } = member;
  if (!Number.isSafeInteger(pid) || pid < 1) return "gone";
  const lib = loadLibc();
  if (lib === null) return "unavailable";
  const entry = held.get(pid);
  if (entry !== undefined && entry.startTime === startTime) {
    return sendSignal(lib, entry.fd, signal);
  }
  let fd: number | "gone" | "unavailable";
  try {
    fd = openVerified(lib, pid, startTime, runningStartTime);
  } catch (error) {
    if (
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied
    ) {
      // /proc cannot confirm it: not ours to decide.
      return "unavailable";
    }
    throw error;
  }
  if (typeof fd !== "number") return fd;
  try {
    return sendSignal(lib, fd, signal);
  } finally {
    closeFd(lib, fd);
  }
}

/** pidfd_send_signal(fd, signal, NULL, 0), with what it means. */
function sendSignal(
  lib: Libc,
  fd: number,
  signal: SignalName,
): "sent" | "gone" | "unavailable" {
  const result = lib.syscall4(
    SYS_PIDFD_SEND_SIGNAL,
    BigInt(fd),
    BigInt(SIGNAL_NUMBERS[signal]),
    0n,
    0n,
  );
  if (result === 0n) return "sent";
  // ESRCH: the process has exited (it may be reaped and its pid reused).
  return errnoOf(lib) === ESRCH ? "gone" : "unavailable";
}

/** Whether a descriptor may be added, evicting an idle one if need be. */
function roomFor(lib: Libc): boolean {
  if (held.size < CAPACITY) return true;
  const [pid, oldest] = held.entries().next().value!;
  if (performance.now() - oldest.usedAt < EVICT_IDLE_MS) return false;
  held.delete(pid);
  closeFd(lib, oldest.fd);
  return true;
}

const infoBuffer = new Uint8Array(512);
const infoDecoder = new TextDecoder();

/** The `Pid:` of a pidfd's fdinfo (in this /proc's namespace), or -1. */
function fdinfoPid(fd: number): number {
  try {
    // One open, read and close: the text is far shorter than the buffer.
    const file = Deno.openSync(`/proc/self/fdinfo/${fd}`);
    let length: number | null;
    try {
      length = file.readSync(infoBuffer);
    } finally {
      file.close();
    }
    const info = infoDecoder.decode(infoBuffer.subarray(0, length ?? 0));
    const pid = Number(info.match(/^Pid:\s*(-?\d+)$/m)?.[1]);
    return Number.isSafeInteger(pid) ? pid : -1;
  } catch {
    return -1;
  }
}

function disable(): void {
  closePidfds();
  libc = null;
}

/**
 * Closes every held descriptor and forgets every process seen: the next
 * probes take the plain path (and may hold descriptors again).
 */
export function closePidfds(): void {
  const lib = libc;
  if (lib != null) { for (const { fd } of held.values()) closeFd(lib, fd); }
  held.clear();
  seen.clear();
}

/** The pids on which a descriptor is held, least recently probed first. */
export function heldPids(): number[] {
  return [...held.keys()];
}

/** The descriptor held on `pid`, if any (for tests). */
export function heldFd(pid: number): number | undefined {
  return held.get(pid)?.fd;
}
