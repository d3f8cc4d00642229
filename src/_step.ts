// The Step seam: one body for every operation, driven sync or async.
//
// A Step is a generator that does the operation's file work and yields only
// to wait. Its rules, which keep the lock protocol correct:
//
// 1. `yield` means wait: a Step yields a `Wait` (how long, and whose lock it
//    waits for) and nothing else; the driver sleeps (sync) or awaits a timer
//    (async), then resumes it.
// 2. File work inside a Step is synchronous. A Step is a plain generator: it
//    cannot await, so it cannot interleave with other work of this process
//    except at a yield.
// 3. A Step never yields while it holds the registry lock. An async call
//    that yielded holding it would let a sync call of the same process (an
//    exit or signal handler, which cannot wait for the event loop) run into
//    that lock and time out behind a call that can only go on once the
//    handler returns. Waiting is therefore done only before the lock is
//    taken, in `acquire`, whose file is not locked while it waits.
// 4. Drivers run every Step to completion (or until it throws): a Step is
//    never abandoned half-way, so its `finally` blocks always run.
//
// The test suite runs once under a checking driver (tests/_helpers/
// strict_step.ts, mapped over this module) that enforces rule 3 at every
// yield.

/** What a Step waits for: another holder of the lock on `lockPath`. */
export interface Wait {
  /** How long to wait before trying again, in milliseconds. */
  readonly ms: number;
  /** The file whose lock is awaited. */
  readonly lockPath: string;
}

/** An operation's body: yields `Wait`s, returns its result. */
export type Step<T> = Generator<Wait, T, void>;

/** The sleep step: waits `ms` for the lock on `lockPath`, once. */
export function* sleep(ms: number, lockPath: string): Step<void> {
  yield { ms, lockPath };
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Runs a Step to completion, sleeping synchronously at each wait. */
export function runSync<T>(step: Step<T>): T {
  for (let next = step.next();; next = step.next()) {
    if (next.done) return next.value;
    Atomics.wait(sleeper, 0, 0, next.value.ms);
  }
}

/** Runs a Step to completion, awaiting a timer at each wait. */
export async function runAsync<T>(step: Step<T>): Promise<T> {
  for (let next = step.next();; next = step.next()) {
    if (next.done) return next.value;
    const { ms } = next.value;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}
