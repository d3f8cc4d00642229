// The same work through ralph's own registry code (`seedreg`, built by
// ../shared/ralph-reference/build.sh), and the C blocking-flock baseline of
// the contention rounds (bench/lock_baseline.c).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { seedreg } from "../tests/_helpers/ralph.ts";

/** The `seedreg` binary, or why it is not there. */
export async function findRalph(): Promise<
  { path: string } | { missing: string }
> {
  try {
    const path = await seedreg();
    if (path === undefined) {
      return {
        missing: "../shared/ralph-reference is not beside this checkout",
      };
    }
    return { path };
  } catch (error) {
    return { missing: `it did not build: ${String(error).slice(0, 200)}` };
  }
}

/** One `seedreg bench-register N` or `bench-list N`: calls per second. */
async function seedregRate(
  bin: string,
  workspace: string,
  op: "pair" | "list",
  n: number,
): Promise<number> {
  const output = await new Deno.Command(bin, {
    args: [
      "--workspace",
      workspace,
      op === "pair" ? "bench-register" : "bench-list",
      String(n),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const rate = text.match(/= ([0-9.]+) ops\/sec/)?.[1];
  if (!output.success || rate === undefined) {
    throw new Error(
      `Cannot measure ralph's ${op} as seedreg failed: ${
        new TextDecoder().decode(output.stderr)
      }${text}`,
    );
  }
  return Number(rate);
}

/**
 * A measurer of ralph's `op` on `workspace` for the rounds of `measureAll`:
 * each call runs one `seedreg` process timed inside itself (so its start-up
 * is not counted), sized from the previous rate to last about `budgetMs`.
 */
export function ralphMeasure(
  bin: string,
  workspace: string,
  op: "pair" | "list",
  minRuns: number,
): (budgetMs: number) => Promise<number> {
  let n = minRuns;
  return async (budgetMs) => {
    const rate = await seedregRate(bin, workspace, op, n);
    const perRun = op === "pair" ? 2 : 1;
    n = Math.max(minRuns, Math.round((rate * budgetMs) / 1000 / perRun));
    return rate;
  };
}

/** Compiles bench/lock_baseline.c into `dir`; the binary, or why not. */
export async function buildLockBaseline(
  dir: string,
): Promise<{ path: string } | { missing: string }> {
  const source = fileURLToPath(new URL("./lock_baseline.c", import.meta.url));
  const path = join(dir, "lock_baseline");
  try {
    const output = await new Deno.Command("cc", {
      args: ["-O2", "-o", path, source],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!output.success) {
      return {
        missing: `cc failed: ${new TextDecoder().decode(output.stderr)}`,
      };
    }
    return { path };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { missing: "no C compiler (`cc`) on PATH" };
    }
    throw error;
  }
}

/** Latencies (ms) of each of `procs` C processes contending on `file`. */
export async function lockBaselinePhase(
  bin: string,
  file: string,
  procs: number,
  durationMs: number,
): Promise<number[][]> {
  const start = String(Date.now() + 100);
  const outputs = await Promise.all(
    Array.from({ length: procs }, () =>
      new Deno.Command(bin, {
        args: [file, start, String(durationMs)],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output()),
  );
  return outputs.map((output) => {
    if (!output.success) {
      throw new Error(
        `Cannot measure the C lock baseline: ${
          new TextDecoder().decode(output.stderr)
        }`,
      );
    }
    const text = new TextDecoder().decode(output.stdout).trim();
    return text === "" ? [] : text.split(" ").map((us) => Number(us) / 1000);
  });
}

/** Calls of the least served process over the most served. */
export function fairness(counts: number[]): number {
  const most = Math.max(...counts);
  return most === 0 ? 0 : Math.min(...counts) / most;
}
