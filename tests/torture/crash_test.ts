// Crash injection, bounded for CI; `LOOPS_TORTURE=long` for 300 kills.
import assert from "node:assert/strict";
import { LONG, seedFromEnv } from "./_common.ts";
import { runCrash } from "./_crash.ts";

const seed = seedFromEnv();
const size = LONG
  ? { kills: 300, entries: 200, promptBytes: 10_000 }
  : { kills: 30, entries: 200, promptBytes: 5_000 };

Deno.test(
  `crash: ${size.kills} SIGKILLs of a writer lose no completed change (seed ${seed})`,
  async () => {
    const figures = await runCrash({ ...size, seed });
    assert.equal(figures.lost, 0);
    assert.ok(figures.kills >= size.kills * 0.9, "too few kills landed");
    assert.ok(figures.completedCalls > 0, "no call completed");
  },
);
