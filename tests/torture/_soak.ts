// Concurrency soak: N worker processes x M mixed calls on one registry, and
// a reader process that checks every state of the file it sees.
import assert from "node:assert/strict";
import { LoopRegistry } from "../../mod.ts";
import { decodeRegistry } from "../../src/_codec.ts";
import {
  FAKE_PID_BASE,
  fakeLiveness,
  finish,
  spawnWorker,
  tempWorkspace,
} from "./_common.ts";

/** Sizes of a soak run. */
export interface SoakOptions {
  workers: number;
  calls: number;
  seed: number;
}

/** What a soak run did and found. */
export interface SoakFigures {
  workers: number;
  calls: number;
  changes: number;
  readerReads: number;
  readerChanges: number;
  finalEntries: number;
  lost: number;
  duplicated: number;
}

/** Runs a soak; throws on any broken check. */
export async function runSoak(options: SoakOptions): Promise<SoakFigures> {
  await using ws = await tempWorkspace("loops_soak_");
  // Create the file first so the reader sees every state from the start.
  await new LoopRegistry(ws.path).cleanStale();
  const reader = spawnWorker("reader", [ws.path], { stdin: "piped" });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const workers = Array.from(
    { length: options.workers },
    (_, index) =>
      spawnWorker("soak", [
        ws.path,
        String(index),
        String(options.calls),
        String(options.seed * 1000 + index),
      ]),
  );
  try {
    await Promise.all(workers.map(finish));
  } finally {
    await reader.child.stdin.close();
  }
  await finish(reader);

  const expected = new Set<string>();
  let changes = 0;
  for (const worker of workers) {
    const final = worker.lines.find((line) => line.startsWith("final "));
    assert.ok(final, "a worker did not report its final state");
    for (const id of JSON.parse(final.slice(6)) as string[]) expected.add(id);
    changes += worker.lines.filter((line) =>
      /^(register|deregister|claim) /.test(line)
    ).length;
  }
  const [, reads, seen] = reader.lines.at(-1)!.split(" ").map(Number);

  // The file as it is: no id twice, and every live entry is one a worker
  // left registered (dead fake pids may linger until the next write).
  const path = `${ws.path}/.ralph/loops.json`;
  const doc = decodeRegistry(await Deno.readFile(path), path);
  const ids = doc.entries.map((e) => e.entry.id);
  const duplicated = ids.length - new Set(ids).size;
  const live = doc.entries
    .filter((e) =>
      e.entry.pid < FAKE_PID_BASE || fakeLiveness(e.entry.pid) === "alive"
    )
    .map((e) => e.entry.id);
  const lost = [...expected].filter((id) => !live.includes(id));
  const extra = live.filter((id) => !expected.has(id));
  assert.deepEqual(lost, [], "entries lost");
  assert.deepEqual(extra, [], "entries that no worker left registered");
  assert.equal(duplicated, 0, "duplicated entries");
  // And the library agrees, in a process with the workers' permissions (-A):
  // this one cannot read its own pid namespace, so a dead entry that no
  // later write cleaned is `unknown` here, and listed (a CI failure).
  const lister = spawnWorker("list", [ws.path]);
  await finish(lister);
  const listed = lister.lines.find((line) => line.startsWith("ids "));
  assert.ok(listed, "the lister did not report");
  assert.deepEqual(
    (JSON.parse(listed.slice(4)) as string[]).sort(),
    [...expected].sort(),
  );
  return {
    workers: options.workers,
    calls: options.workers * options.calls,
    changes,
    readerReads: reads!,
    readerChanges: seen!,
    finalEntries: expected.size,
    lost: lost.length,
    duplicated,
  };
}
