// Timing helpers: rates from repeated rounds, medians and percentiles.

/** One measured operation, named by a key of type `K`. */
export interface Case<K extends string = string> {
  /** Stable key, e.g. `list.100`. */
  key: K;
  /** What is measured, for the table. */
  label: string;
  /** Registry size, when it applies. */
  entries?: number;
  /** Runs the operation once (sync or async). */
  run: () => unknown;
  /** Library calls per `run` (a register+deregister pair is 2). */
  callsPerRun?: number;
  /** Least runs per round, for slow cases. */
  minRuns?: number;
  /**
   * Measures a round itself and returns its calls per second (another
   * program timing its own calls); `run` is then not called.
   */
  measure?: (budgetMs: number) => Promise<number>;
}

/** Calls per second of one round of `item`, for about `budgetMs`. */
export async function rate(item: Case, budgetMs: number): Promise<number> {
  if (item.measure !== undefined) return await item.measure(budgetMs);
  const minRuns = item.minRuns ?? 20;
  const start = performance.now();
  let runs = 0;
  let now = start;
  while (runs < minRuns || now - start < budgetMs) {
    const result = item.run();
    if (result instanceof Promise) await result;
    runs++;
    now = performance.now();
  }
  return (runs * (item.callsPerRun ?? 1)) / ((now - start) / 1000);
}

/**
 * Measures every case in `rounds` interleaved rounds (so that a change of
 * load on the machine hits every case alike) and returns each case's median
 * rate in calls per second.
 */
export async function measureAll<K extends string>(
  cases: Case<K>[],
  options: { rounds: number; budgetMs: number; onRound?: (n: number) => void },
): Promise<Map<K, number>> {
  const samples = new Map<K, number[]>(cases.map((c) => [c.key, []]));
  for (const item of cases) {
    if (item.measure !== undefined) {
      await item.measure(options.budgetMs / 4); // also sizes its first round
      continue;
    }
    // Warm up: JIT, page cache, and the first write of journals.
    for (let i = 0; i < Math.min(item.minRuns ?? 20, 20); i++) {
      const result = item.run();
      if (result instanceof Promise) await result;
    }
  }
  for (let round = 0; round < options.rounds; round++) {
    for (const item of cases) {
      samples.get(item.key)!.push(await rate(item, options.budgetMs));
    }
    options.onRound?.(round + 1);
  }
  return new Map([...samples].map(([key, values]) => [key, median(values)]));
}

/** The median of `values` (which it sorts). */
export function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2
    ? values[mid]!
    : (values[mid - 1]! + values[mid]!) / 2;
}

/** The `p`-th percentile (0..100) of sorted `values`, nearest rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}
