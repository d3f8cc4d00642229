import assert from "node:assert/strict";
import { registryPaths } from "../../src/_files.ts";
import { acquire, heldLocks, release } from "../../src/_lock.ts";
import { runAsync, runSync, sleep, type Step } from "../../src/_step.ts";
import * as strict from "../_helpers/strict_step.ts";
import { tempWorkspace } from "../_helpers/core.ts";

function* waitsThenReturns(waits: number[], log: string[]): Step<string> {
  try {
    for (const ms of waits) {
      log.push(`wait ${ms}`);
      yield* sleep(ms, "/nonexistent/loops.json");
    }
    return "done";
  } finally {
    log.push("finally");
  }
}

Deno.test("runSync() and runAsync() drive a Step to completion through its waits", async (t) => {
  await t.step("sync: blocks for each wait", () => {
    const log: string[] = [];
    const start = performance.now();
    assert.equal(runSync(waitsThenReturns([20, 20], log)), "done");
    assert.ok(performance.now() - start >= 39, "slept for both waits");
    assert.deepEqual(log, ["wait 20", "wait 20", "finally"]);
  });
  await t.step("async: the event loop runs during a wait", async () => {
    const log: string[] = [];
    let ticked = false;
    setTimeout(() => ticked = true, 0);
    assert.equal(await runAsync(waitsThenReturns([30], log)), "done");
    assert.equal(ticked, true);
    assert.deepEqual(log, ["wait 30", "finally"]);
  });
  await t.step(
    "an error thrown by the Step propagates; finally runs",
    async () => {
      function* fails(log: string[]): Step<never> {
        try {
          yield* sleep(1, "/nonexistent/loops.json");
          throw new RangeError("boom");
        } finally {
          log.push("finally");
        }
      }
      const log: string[] = [];
      assert.throws(() => runSync(fails(log)), RangeError);
      await assert.rejects(runAsync(fails(log)), RangeError);
      assert.deepEqual(log, ["finally", "finally"]);
    },
  );
});

Deno.test("the strict driver fails a Step that yields while holding the lock", async () => {
  await using ws = await tempWorkspace();
  const paths = registryPaths(ws.path);
  function* yieldsWhileHolding(): Step<void> {
    const locked = yield* acquire(paths, { exclusive: true, timeoutMs: 1000 });
    try {
      yield* sleep(1, paths.file); // breaks rule 3
    } finally {
      if (locked) release(locked);
    }
  }
  assert.throws(
    () => strict.runSync(yieldsWhileHolding()),
    strict.StepRuleError,
  );
  await assert.rejects(
    strict.runAsync(yieldsWhileHolding()),
    strict.StepRuleError,
  );
  assert.equal(heldLocks(), 0, "the failed Steps released their locks");
});

Deno.test("the strict driver lets a Step wait behind another holder", async () => {
  await using ws = await tempWorkspace();
  const paths = registryPaths(ws.path);
  // Create the file, then hold its lock on a descriptor of the test's own.
  release(runSync(acquire(paths, { exclusive: true, timeoutMs: 0 }))!);
  const outside = await Deno.open(paths.file, { read: true });
  await outside.lock(true);
  const before = strict.checkedYields;
  setTimeout(() => outside.close(), 50);
  const locked = await strict.runAsync(
    acquire(paths, { exclusive: true, timeoutMs: 5000 }),
  );
  assert.ok(locked !== undefined);
  release(locked);
  assert.ok(strict.checkedYields > before, "the wait was checked");
});
