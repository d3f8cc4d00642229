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

/** How many descriptors are held at most. */
export const CAPACITY = 256;
/** How long an entry must have gone unprobed before a full cache evicts it. */
export const EVICT_IDLE_MS = 5000;
/** How many processes seen once (no descriptor yet) are remembered. */
const SEEN_CAPACITY = 4 * CAPACITY;

/** `pidfd_open` on x86_64 and aarch64 (asm-generic) alike. */
const SYS_PIDFD_OPEN = 434n;
const POLLIN = 1;
const EPERM = 1;
const ENOSYS = 38;

const SYMBOLS = {
  syscall: { parameters: ["i64", "i64", "i64"], result: "i64" },
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
  const fd = Number(lib.syscall(SYS_PIDFD_OPEN, BigInt(pid), 0n));
  if (fd < 0) {
    const errno = new Deno.UnsafePointerView(lib.__errno_location()!)
      .getInt32();
    // No such system call, or a seccomp filter refusing it: never again.
    if (errno === ENOSYS || errno === EPERM) disable();
    // Otherwise (ESRCH: it just exited; EMFILE): not held this time.
    return;
  }
  if (fdinfoPid(fd) !== pid || reread(pid) !== startTime) {
    closeFd(lib, fd);
    return;
  }
  seen.delete(pid);
  held.set(pid, {
    fd,
    pollfd: pollfdOf(fd),
    startTime,
    bootId,
    usedAt: performance.now(),
  });
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
