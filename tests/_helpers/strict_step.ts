// A checking Step driver, mapped over src/_step.ts by strict_steps.json:
//
//     deno task test:strict-steps
//
// It drives every Step with the real drivers and, at every yield, enforces
// Step rule 3 (a Step never yields while it holds the registry lock). It
// takes the awaited file's lock on a separate descriptor with
// `tryLockSync(true)`:
// - taken: nobody holds the lock, so neither does this process; but then a
//   Step of this process must not believe it holds one either;
// - refused: someone holds it. That is allowed only when no Step of this
//   process holds a registry lock (another process, or a test holding the
//   lock on purpose); the lock module counts the locks its Steps hold.
// A violation throws at once, failing the call and the test.
import * as real from "../../src/_step.ts";
import { heldLocks } from "../../src/_lock.ts";

export type { Step, Wait } from "../../src/_step.ts";
export const sleep = real.sleep;

/** How many yields the checker has checked in this process. */
export let checkedYields = 0;

/** A broken rule of the Step seam. */
export class StepRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StepRuleError";
  }
}

function checkYield(wait: real.Wait): void {
  checkedYields++;
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(wait.lockPath, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  try {
    const free = file.tryLockSync(true);
    if (free) file.unlockSync();
    const held = heldLocks();
    if (held > 0) {
      throw new StepRuleError(
        `A Step yielded while this process holds ${held} registry lock(s) (lock ${
          free ? "free" : "held"
        } on "${wait.lockPath}"): Step rule 3`,
      );
    }
  } finally {
    file.close();
  }
}

function* checked<T>(step: real.Step<T>): real.Step<T> {
  for (let next = step.next();; next = step.next()) {
    if (next.done) return next.value;
    try {
      checkYield(next.value);
    } catch (error) {
      // Rule 4 holds for the checker too: resume the Step with the error so
      // that its finally blocks run (and release its lock).
      step.throw(error);
      throw error;
    }
    yield next.value;
  }
}

/** {@linkcode real.runSync}, checking every yield. */
export function runSync<T>(step: real.Step<T>): T {
  return real.runSync(checked(step));
}

/** {@linkcode real.runAsync}, checking every yield. */
export function runAsync<T>(step: real.Step<T>): Promise<T> {
  return real.runAsync(checked(step));
}
