// The one cleaning policy: how each call judges entries, and which entries
// it removes. What cannot be proven dead is never removed.
//
// | call                      | judges with                 | removes                      |
// | ------------------------- | --------------------------- | ---------------------------- |
// | list, get                 | full verdict                | nothing itself; hides dead   |
// | (clean after a read)      | full verdict                | dead                         |
// | cleanStale                | full verdict                | dead and orphan              |
// | register                  | signal probe; full for the  | same pid, dead, and a dead   |
// |                           | holder of the id            | holder of the id             |
// | deregister, deregisterPid | signal probe                | the target and dead          |
// | inspect                   | full verdict with reason    | nothing                      |
//
// The full verdict reads `/proc` where it can (zombies, reused pids) and
// checks the worktree (orphans); the signal probe (`kill 0`) alone proves
// only "no such process", and is used inside changes, where every other
// entry is checked on every call. A `Judge` serves one call: each pid (with
// its recorded identity) is probed once, however many entries share it.
import { isAbsolute, join } from "./_path.ts";
import type { LoopEntry, LoopStatus } from "./loop_entry.ts";
import type {
  Liveness,
  LocalOrigin,
  ProbeOptions,
  ProcessVerdict,
} from "./process.ts";
import type { RegistryEnv } from "./registry_env.ts";

/** A listed status, or `dead` (hidden, and removed where allowed). */
export type Verdict = LoopStatus | "dead";

const REMOTE = new Set(["other-host", "other-pid-namespace"]);

// The probe key of each entry (the same process, the same question), by the
// entry object: stored entries are kept between calls (the decode memo), so
// a list of 10,000 entries builds no key strings once they are known.
const probeKeys = new WeakMap<LoopEntry, string>();

/** Entries with the same key get the same full verdict from a probe. */
function probeKey(entry: LoopEntry): string {
  let key = probeKeys.get(entry);
  if (key === undefined) {
    const { identity } = entry;
    key = identity === undefined
      ? `${entry.pid}@${entry.started}`
      : `${entry.pid}:${identity.startTime}:${identity.bootId}`;
    probeKeys.set(entry, key);
  }
  return key;
}

/** Judges the entries of one call; see the table at the top. */
export class Judge {
  #env: RegistryEnv;
  #workspace: string;
  #local: LocalOrigin | undefined;
  #full = new Map<string, Liveness>();
  #signal = new Map<string, Liveness>();

  /**
   * @param env The probes.
   * @param workspace The registry's workspace, against which relative
   * worktree paths are resolved.
   */
  constructor(env: RegistryEnv, workspace: string) {
    this.#env = env;
    this.#workspace = workspace;
  }

  /**
   * The verdict an entry gets without probing its pid: where it registered
   * on another host or pid namespace, or before this host's last boot.
   * `undefined` when its pid is to be probed here.
   */
  #placed(entry: LoopEntry): ProcessVerdict | undefined {
    const origin = entry.origin;
    if (origin === undefined) return undefined;
    this.#local ??= this.#env.origin?.() ?? {};
    const local = this.#local;
    if (local.hostId === undefined) {
      return { liveness: "unknown", reason: "no-permission" };
    }
    if (origin.hostId !== local.hostId) {
      return { liveness: "unknown", reason: "other-host" };
    }
    const bootId = entry.identity?.bootId;
    if (bootId && local.bootId && bootId !== local.bootId) {
      return { liveness: "dead", reason: "rebooted" };
    }
    if (origin.pidNamespace === undefined) return undefined;
    if (local.pidNamespace === undefined) {
      return { liveness: "unknown", reason: "no-permission" };
    }
    return origin.pidNamespace === local.pidNamespace
      ? undefined
      : { liveness: "unknown", reason: "other-pid-namespace" };
  }

  /** Probe options: without an identity, the start time must not be later. */
  #options(entry: LoopEntry, signalOnly: boolean): ProbeOptions {
    if (signalOnly) return { signalOnly };
    return entry.identity === undefined ? { registeredAt: entry.started } : {};
  }

  #probe(entry: LoopEntry, signalOnly: boolean): Liveness {
    const placed = this.#placed(entry);
    if (placed !== undefined) return placed.liveness;
    const memo = signalOnly ? this.#signal : this.#full;
    const { identity } = entry;
    const key = identity === undefined
      ? signalOnly ? String(entry.pid) : probeKey(entry)
      : probeKey(entry);
    let liveness = memo.get(key);
    if (liveness === undefined) {
      liveness = this.#env.probe(
        entry.pid,
        identity,
        this.#options(entry, signalOnly),
      );
      memo.set(key, liveness);
    }
    return liveness;
  }

  /** The full verdict: where, liveness with identity, then the worktree. */
  verdict(entry: LoopEntry): Verdict {
    const placed = this.#placed(entry);
    if (placed !== undefined && REMOTE.has(placed.reason)) return "remote";
    const liveness = this.#probe(entry, false);
    if (liveness !== "alive") return liveness;
    const worktree = entry.worktreePath;
    if (worktree === undefined) return "running";
    const path = isAbsolute(worktree)
      ? worktree
      : join(this.#workspace, worktree);
    return this.#env.isDirectory(path) === false ? "orphan" : "running";
  }

  /** Whether the entry's pid is a pid of this host and namespace. */
  here(entry: LoopEntry): boolean {
    return this.#placed(entry) === undefined;
  }

  /** Whether the full verdict proves the process dead. */
  dead(entry: LoopEntry): boolean {
    return this.#probe(entry, false) === "dead";
  }

  /**
   * The cheap proof of death for changes: no such process (signal probe),
   * or registered on this host before its last boot.
   */
  provenDead(entry: LoopEntry): boolean {
    return this.#probe(entry, true) === "dead";
  }

  /** The full verdict with its reason, for `inspect`. */
  explain(entry: LoopEntry): ProcessVerdict {
    const placed = this.#placed(entry);
    if (placed !== undefined) return placed;
    const options = this.#options(entry, false);
    const explained = this.#env.explain?.(entry.pid, entry.identity, options);
    if (explained !== undefined) return explained;
    const liveness = this.#probe(entry, false);
    const reason = liveness === "dead"
      ? "exited"
      : liveness === "unknown"
      ? "no-permission"
      : "alive";
    return { liveness, reason };
  }
}

/** What a change of the given target removes besides it: proven-dead. */
export function removedByChange(
  judge: Judge,
  target: (entry: LoopEntry) => boolean,
): (entry: LoopEntry) => boolean {
  return (entry) => target(entry) || judge.provenDead(entry);
}

/**
 * What registering `entry` removes: entries of the same pid here (a process
 * runs one loop, as in ralph; the same number in another namespace is
 * another process), proven-dead ones, and a holder of its id that the full
 * verdict finds dead (a reused pid or a zombie does not keep an id).
 */
export function removedByRegister(
  judge: Judge,
  entry: LoopEntry,
): (other: LoopEntry) => boolean {
  return (other) =>
    (other.pid === entry.pid && judge.here(other)) ||
    judge.provenDead(other) ||
    (other.id === entry.id && judge.dead(other));
}

/** What a clean removes: dead entries, and orphans when `orphans`. */
export function removedByClean(
  judge: Judge,
  options: { orphans: boolean },
): (entry: LoopEntry) => boolean {
  return (entry) => {
    const verdict = judge.verdict(entry);
    return verdict === "dead" || (options.orphans && verdict === "orphan");
  };
}
