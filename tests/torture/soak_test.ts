// Concurrency soak, bounded for CI; `LOOPS_TORTURE=long` for 8 x 500.
import assert from "node:assert/strict";
import { LONG, seedFromEnv } from "./_common.ts";
import { runSoak } from "./_soak.ts";

const seed = seedFromEnv();
const size = LONG ? { workers: 8, calls: 500 } : { workers: 4, calls: 60 };

Deno.test(
  `soak: ${size.workers} processes x ${size.calls} mixed calls lose and duplicate nothing (seed ${seed})`,
  async () => {
    const figures = await runSoak({ ...size, seed });
    assert.equal(figures.lost, 0);
    assert.equal(figures.duplicated, 0);
    assert.ok(figures.readerChanges > 0, "the reader saw no change");
  },
);
