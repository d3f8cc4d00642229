// Shared pieces of the torture suite: sizes, fake liveness, child processes.
import {
  defaultRegistryEnv,
  type Liveness,
  type LoopRegistryOptions,
  type ProcessIdentity,
  type RegistryEnv,
} from "../../mod.ts";
import { WRITE_HOOK, type WriteHook } from "../../src/_durable_write.ts";

/** `LOOPS_TORTURE=long` selects the long run; anything else the CI sizes. */
export const LONG = Deno.env.get("LOOPS_TORTURE") === "long";

/**
 * Pids from here up are fake: never probed, never signalled. Linux pids stay
 * below `/proc/sys/kernel/pid_max` (32768 here, at most 4194304), and every
 * fake pid is still a valid pid for the library (1..4194304).
 */
export const FAKE_PID_BASE = 1_000_000;

/** A fake pid ending in 9 is dead, any other fake pid alive. */
export function fakeLiveness(pid: number): Liveness {
  return pid % 10 === 9 ? "dead" : "alive";
}

/**
 * The liveness the torture suite uses: fake pids follow
 * {@linkcode fakeLiveness}, every other pid (e.g. a claim's own pid) is
 * probed for real. Every process of a run uses the same rule, so they agree
 * on what is dead.
 */
export const tortureEnv: RegistryEnv = {
  ...defaultRegistryEnv,
  probe(pid: number, identity?: ProcessIdentity): Liveness {
    if (pid >= FAKE_PID_BASE) return fakeLiveness(pid);
    return defaultRegistryEnv.probe(pid, identity);
  },
  identify(pid: number): ProcessIdentity | undefined {
    if (pid >= FAKE_PID_BASE) return undefined;
    return defaultRegistryEnv.identify(pid);
  },
};

/**
 * The seed of a run: `LOOPS_TORTURE_SEED`, else a fresh one (tests put it in
 * their name, so a failure can be replayed).
 */
export function seedFromEnv(): number {
  const fixed = Number(Deno.env.get("LOOPS_TORTURE_SEED"));
  return Number.isSafeInteger(fixed) && fixed > 0
    ? fixed
    : 1 + Math.floor(Math.random() * 1_000_000);
}

/** The prompt of a crash-test entry: derived from its id, so checkable. */
export function crashPrompt(id: string, bytes: number): string {
  return `${id}:${"x".repeat(Math.max(0, bytes - id.length - 1))}`;
}

/** Registry options with the write fault seam (tests only) set to `hook`. */
export function withHook(
  hook: WriteHook,
  options: LoopRegistryOptions = {},
): LoopRegistryOptions {
  const seam = { [WRITE_HOOK]: hook };
  return { ...options, ...seam };
}

/** A small seeded PRNG (mulberry32), so a failing run can be replayed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORKER = new URL("./_worker.ts", import.meta.url).pathname;

/** A spawned `_worker.ts` whose stdout lines are collected as they come. */
export interface Worker {
  child: Deno.ChildProcess;
  lines: string[];
  /** Resolves when stdout is closed (the worker exited or was killed). */
  closed: Promise<void>;
  /** Resolves with the next line for which `match` holds. */
  waitFor(match: (line: string) => boolean): Promise<string>;
  stderr: Promise<string>;
}

/** Starts `_worker.ts <mode> ...args` in a new Deno process. */
export function spawnWorker(
  mode: string,
  args: string[],
  options: { stdin?: "piped" | "null" } = {},
): Worker {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", WORKER, mode, ...args],
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  const waiters: {
    match: (l: string) => boolean;
    done: (l: string) => void;
  }[] = [];
  const closed = (async () => {
    let rest = "";
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        for (const w of waiters.splice(0)) {
          if (w.match(line)) w.done(line);
          else waiters.push(w);
        }
      }
    }
    // A line cut by SIGKILL has no newline: it was not completely written.
  })();
  const stderr = new Response(child.stderr).text();
  return {
    child,
    lines,
    closed,
    stderr,
    waitFor(match) {
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((done, fail) => {
        waiters.push({ match, done });
        closed.then(() => fail(new Error("Worker exited before the line")));
      });
    },
  };
}

/** Waits for a worker to exit; throws with its stderr unless it succeeded. */
export async function finish(worker: Worker): Promise<void> {
  const [status, , stderr] = await Promise.all([
    worker.child.status,
    worker.closed,
    worker.stderr,
  ]);
  if (!status.success) {
    throw new Error(
      `Worker failed with code ${status.code} (signal ${status.signal}):\n${stderr}`,
    );
  }
}

/** A temporary workspace, removed when disposed. */
export async function tempWorkspace(
  prefix: string,
): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}
