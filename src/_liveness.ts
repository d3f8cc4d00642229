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
import type { LoopEntry, LoopStatus } from "./loop_entry.ts";
import type { Liveness, ProcessVerdict } from "./process.ts";
import type { RegistryEnv } from "./registry_env.ts";

/** A listed status, or `dead` (hidden, and removed where allowed). */
export type Verdict = LoopStatus | "dead";

/** Judges the entries of one call; see the table at the top. */
export class Judge {
  #env: RegistryEnv;
  #full = new Map<string, Liveness>();
  #signal = new Map<string, Liveness>();

  constructor(env: RegistryEnv) {
    this.#env = env;
  }

  #probe(entry: LoopEntry, signalOnly: boolean): Liveness {
    const memo = signalOnly ? this.#signal : this.#full;
    const key =
      `${entry.pid}:${entry.identity?.startTime}:${entry.identity?.bootId}`;
    let liveness = memo.get(key);
    if (liveness === undefined) {
      liveness = signalOnly
        ? this.#env.probe(entry.pid, entry.identity, { signalOnly })
        : this.#env.probe(entry.pid, entry.identity);
      memo.set(key, liveness);
    }
    return liveness;
  }

  /** The full verdict: liveness with identity, then the worktree. */
  verdict(entry: LoopEntry): Verdict {
    const liveness = this.#probe(entry, false);
    if (liveness !== "alive") return liveness;
    return entry.worktreePath !== undefined &&
        this.#env.isDirectory(entry.worktreePath) === false
      ? "orphan"
      : "running";
  }

  /** Whether the full verdict proves the process dead. */
  dead(entry: LoopEntry): boolean {
    return this.#probe(entry, false) === "dead";
  }

  /** The cheap proof of death (no such process), for changes. */
  provenDead(entry: LoopEntry): boolean {
    return this.#probe(entry, true) === "dead";
  }

  /** The full verdict with its reason, for `inspect`. */
  explain(entry: LoopEntry): ProcessVerdict {
    const explained = this.#env.explain?.(entry.pid, entry.identity);
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
 * What registering `entry` removes: entries of the same pid (a process runs
 * one loop, as in ralph), proven-dead ones, and a holder of its id that the
 * full verdict finds dead (a reused pid or a zombie does not keep an id).
 */
export function removedByRegister(
  judge: Judge,
  entry: LoopEntry,
): (other: LoopEntry) => boolean {
  return (other) =>
    other.pid === entry.pid || judge.provenDead(other) ||
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
