import { lstatOrUndefined, registryPaths } from "./_files.ts";
import { acquire, release, sameDir } from "./_lock.ts";
import { dirname } from "./_path.ts";
import { runSync } from "./_step.ts";
import {
  callerUid,
  checkDirectory,
  checkFile,
  describeUid,
  trustedByEnv,
} from "./_trust.ts";
import {
  CorruptRegistryError,
  LockTimeoutError,
  UntrustedRegistryError,
} from "./errors.ts";
import { isValidPid } from "./process.ts";

/**
 * Why {@linkcode mayStop} refuses, in `StopDecision.reason`:
 *
 * - `untrusted`: the registry fails the trust rule (someone other than the
 *   caller could have written it; see `LoopRegistryOptions.trusted`).
 * - `other-user`: the process belongs to another user than the caller, or,
 *   for root, than the registry file's owner (or runs set-uid).
 * - `unverifiable`: the caller's uid, the registry or the process's owner
 *   cannot be read (a missing permission, named in the message).
 * - `gone`: there is no such process (nothing to signal).
 */
export type StopRefusal = "untrusted" | "other-user" | "unverifiable" | "gone";

/** What {@linkcode mayStop} decided. */
export type StopDecision =
  | {
    /** The process may be signalled. */
    allowed: true;
    /** Its owner (real, effective and saved uid alike). */
    processUid: number;
    /** This process's uid. */
    callerUid: number;
    /** The owner of the registry file. */
    registryOwnerUid: number;
  }
  | {
    /** The process must not be signalled. */
    allowed: false;
    /** Why. */
    reason: StopRefusal;
    /** A sentence naming the users involved and what to do. */
    message: string;
  };

/** Options for {@linkcode mayStop}. */
export interface MayStopOptions {
  /**
   * Trust the registry whoever owns it and whatever its mode (the process
   * must still belong to the caller, or for root to the registry's owner).
   *
   * @default {true when `LOOPS_TRUST` names the workspace, else false}
   */
  trusted?: boolean;
  /**
   * How long to wait for a writer holding the registry lock, in
   * milliseconds.
   *
   * @default {10000}
   */
  lockTimeoutMs?: number;
}

type Refusal = Extract<StopDecision, { allowed: false }>;

function refuse(reason: StopRefusal, message: string): Refusal {
  return { allowed: false, reason, message };
}

/** The real, effective and saved uids of `pid`, from /proc. */
function processUids(pid: number): [number, number, number] | Refusal {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return refuse("gone", `There is no process ${pid} to signal`);
    }
    if (error instanceof Deno.errors.NotCapable) {
      return refuse(
        "unverifiable",
        `Cannot tell who owns pid ${pid} as Deno allows reading /proc only with all permissions: run again with -A`,
      );
    }
    throw error;
  }
  const line = text.split("\n").find((l) => l.startsWith("Uid:"));
  const uids = line?.slice(4).trim().split(/\s+/).map(Number);
  if (uids === undefined || uids.length < 3 || uids.some((u) => !(u >= 0))) {
    return refuse(
      "unverifiable",
      `Cannot tell who owns pid ${pid} as /proc/${pid}/status has no Uid line`,
    );
  }
  return [uids[0]!, uids[1]!, uids[2]!];
}

/**
 * The owner of the registry file (from the fstat of its open descriptor),
 * once the registry passes the trust rule for a signal.
 */
function registryOwner(
  registryFile: string,
  options: MayStopOptions,
): number | Refusal {
  const dir = dirname(registryFile);
  const workspace = dirname(dir);
  const base = registryPaths(workspace, {
    trusted: options.trusted ?? trustedByEnv(workspace),
  });
  const paths = {
    ...base,
    dir,
    file: registryFile,
    journal: `${registryFile}.journal`,
  };
  try {
    const locked = runSync(acquire(paths, {
      exclusive: false,
      timeoutMs: options.lockTimeoutMs ?? 10_000,
    }));
    if (locked === undefined) {
      return refuse(
        "unverifiable",
        `Cannot signal a loop of registry "${registryFile}" as it does not exist`,
      );
    }
    try {
      const act = "signal loops of";
      // The file was opened through the directory judged here.
      if (!sameDir(paths, locked.dir)) {
        return refuse(
          "unverifiable",
          `Cannot signal a loop of registry "${registryFile}" as its directory was replaced while reading it: retry`,
        );
      }
      checkDirectory(paths, locked.dir, act);
      const owner = locked.dir.uid ?? -1;
      checkFile(paths, registryFile, locked.info, owner, act);
      // A journal in use steers what a read returns: it must be trusted too.
      const journal = lstatOrUndefined(paths.journal, paths);
      if (journal?.isFile && journal.size > 0) {
        checkFile(paths, paths.journal, journal, owner, act);
      }
      return locked.info.uid ?? -1;
    } finally {
      release(locked);
    }
  } catch (error) {
    if (error instanceof UntrustedRegistryError) {
      return refuse("untrusted", error.message);
    }
    if (
      error instanceof CorruptRegistryError ||
      error instanceof LockTimeoutError ||
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied ||
      error instanceof Deno.errors.Busy
    ) {
      return refuse("unverifiable", error.message);
    }
    throw error;
  }
}

/**
 * Decides whether this process may signal `pid` because the registry
 * `registryFile` lists it: never another user's process on a registry's
 * word. The process must belong to the caller (its real, effective and
 * saved uids all the caller's); root may signal only a process owned
 * (likewise) by the registry file's owner, as found through the file's
 * descriptor. The registry must also pass the trust rule (see
 * `LoopRegistryOptions.trusted`). Writes nothing and signals nothing.
 *
 * Call it right before signalling, after checking the process's identity;
 * it does not replace that check (a pid can be reused).
 *
 * Requires `--allow-sys=uid` and, to read `/proc/<pid>/status`, all
 * permissions (`-A`): without them the answer is a refusal naming the flag.
 *
 * @param registryFile The registry file, `<workspace>/.ralph/loops.json`.
 * @param pid The process the registry names.
 * @param options Whether to trust the registry regardless of its owner.
 * @returns The decision; a refusal carries a message naming both users.
 *
 * @example Check before signalling a registered loop
 * ```ts
 * import { createLoopEntry, LoopRegistry, mayStop } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const workspace = await Deno.makeTempDir();
 * const registry = new LoopRegistry(workspace);
 * await registry.register(createLoopEntry("t", { workspace }));
 * const decision = mayStop(registry.path, Deno.pid);
 * if (decision.allowed) {
 *   // With -A: this process is the caller's own.
 *   assert.equal(decision.processUid, decision.callerUid);
 * } else {
 *   // Without --allow-sys=uid or -A the refusal names the flag.
 *   assert.match(decision.message, /--allow-sys=uid|-A/);
 * }
 * await Deno.remove(workspace, { recursive: true });
 * ```
 */
export function mayStop(
  registryFile: string,
  pid: number,
  options: MayStopOptions = {},
): StopDecision {
  if (!isValidPid(pid) || pid < 2) {
    return refuse(
      "other-user",
      `Refusing to signal pid ${pid} as it would address the init process or a process group`,
    );
  }
  const me = callerUid();
  if (me === undefined) {
    return refuse(
      "unverifiable",
      `Cannot tell whether pid ${pid} may be signalled as this process's uid cannot be read: run again with --allow-sys=uid (or -A)`,
    );
  }
  const owner = registryOwner(registryFile, options);
  if (typeof owner !== "number") return owner;
  const uids = processUids(pid);
  if (!Array.isArray(uids)) return uids;
  const [real, effective, saved] = uids;
  if (real !== effective || real !== saved) {
    return refuse(
      "other-user",
      `Refusing to signal pid ${pid} as its real, effective and saved uids differ (${real}, ${effective}, ${saved}): a set-uid process is never signalled on a registry's word`,
    );
  }
  const allowed = me === 0 ? owner : me;
  if (real !== allowed) {
    const why = me === 0
      ? `and root signals on a registry's word only processes of the registry file's owner, ${
        describeUid(owner)
      }`
      : `not to you (${describeUid(me)})`;
    return refuse(
      "other-user",
      `Refusing to signal pid ${pid} as it belongs to ${
        describeUid(real)
      }, ${why}`,
    );
  }
  return {
    allowed: true,
    processUid: real,
    callerUid: me,
    registryOwnerUid: owner,
  };
}
