// Crash injection: a writer process making ~1 MB in-place rewrites is killed
// with SIGKILL at random instants; after each kill the registry must hold
// every change the writer completed, and its interrupted call fully or not
// at all.
import assert from "node:assert/strict";
import { LoopRegistry } from "../../mod.ts";
import { decodeRegistry, entryToRaw } from "../../src/_codec.ts";
import {
  effectiveContent,
  isTornWrite,
  parseJournal,
} from "../../src/_journal.ts";
import {
  crashPrompt,
  FAKE_PID_BASE,
  random,
  spawnWorker,
  tempWorkspace,
  tortureEnv,
} from "./_common.ts";

/** Sizes of a crash run. */
export interface CrashOptions {
  kills: number;
  /** Entries kept in the registry (the writer hovers around it). */
  entries: number;
  /** Bytes of each prompt: entries x promptBytes is the file size. */
  promptBytes: number;
  seed: number;
}

/** What a crash run did and found. */
export interface CrashFigures {
  kills: number;
  /** Calls the writers completed (logged) before being killed. */
  completedCalls: number;
  /** Where the kills left the files, read before any recovery. */
  states: {
    /** No journal: killed outside a write. */
    clean: number;
    /** Killed while writing the journal: the file untouched. */
    journalPartial: number;
    /** Journal complete, the file not yet written. */
    journalOnly: number;
    /** The file torn mid-write: rolled forward from the journal. */
    torn: number;
    /** The file fully written, the journal not yet emptied. */
    written: number;
  };
  /** Interrupted calls found applied / not applied. */
  interruptedApplied: number;
  interruptedNotApplied: number;
  /** Torn files left for the next writer to roll forward (it may be killed). */
  tornLeftToWriter: number;
  lost: number;
  fileBytes: number;
}

type Op =
  | { kind: "register"; id: string; pid: number }
  | { kind: "deregister"; id: string };

function apply(model: Map<string, number>, op: Op): Map<string, number> {
  const next = new Map(model);
  if (op.kind === "register") next.set(op.id, op.pid);
  else next.delete(op.id);
  return next;
}

function parseLog(lines: string[]): { done: Op[]; pending?: Op } {
  const done: Op[] = [];
  let pending: Op | undefined;
  for (const line of lines) {
    const [word, kind, id, pid] = line.split(" ");
    if (word === "begin") {
      pending = kind === "register"
        ? { kind, id: id!, pid: Number(pid) }
        : { kind: "deregister", id: id! };
    } else if (word === "done") {
      done.push(pending!);
      pending = undefined;
    }
  }
  return { done, pending };
}

function sameState(
  actual: Map<string, { pid: number; prompt: string }>,
  model: Map<string, number>,
  promptBytes: number,
): boolean {
  if (actual.size !== model.size) return false;
  for (const [id, pid] of model) {
    const entry = actual.get(id);
    if (entry?.pid !== pid) return false;
    if (entry.prompt !== crashPrompt(id, promptBytes)) return false;
  }
  return true;
}

function readState(
  bytes: Uint8Array,
  path: string,
): Map<string, { pid: number; prompt: string }> {
  const doc = decodeRegistry(bytes, path);
  const ids = doc.entries.map((e) => e.entry.id);
  assert.equal(new Set(ids).size, ids.length, "duplicate ids after a kill");
  return new Map(
    doc.entries.map((e) => [e.entry.id, {
      pid: e.entry.pid,
      prompt: e.entry.prompt,
    }]),
  );
}

function readOrEmpty(path: string): Uint8Array {
  try {
    return Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new Uint8Array();
    throw error;
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The full size of a journal being written, from its header line. */
function journalTotal(journalPath: string): number | undefined {
  let head: Uint8Array;
  try {
    using file = Deno.openSync(journalPath, { read: true });
    head = new Uint8Array(100);
    head = head.subarray(0, file.readSync(head) ?? 0);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const newline = head.indexOf(10);
  if (newline < 0) return undefined;
  // `loops-journal-v2 <lenBefore> <lenAfter> <checksum>`
  const [, before, after] = new TextDecoder().decode(head.subarray(0, newline))
    .split(" ").map(Number);
  return newline + 1 + before! + after!;
}

/**
 * Busy-polls (a timer is too coarse) until a journal has been written in
 * full: the in-place write of the file comes next. Returns its size.
 */
function waitForFullJournal(journalPath: string): number {
  const deadline = performance.now() + 3000;
  let total: number | undefined;
  while (performance.now() < deadline) {
    total ??= journalTotal(journalPath);
    if (total === undefined) continue;
    let size = 0;
    try {
      size = Deno.statSync(journalPath).size;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (size >= total) return size;
    // Emptied: that write finished before we saw it whole; wait for the next.
    if (size === 0) total = undefined;
  }
  return 0;
}

/**
 * Kills the writer. Three kinds of instant, in turn: any time in its first
 * second; while it starts up and rolls a torn file forward (first 250 ms);
 * and, to land inside the in-place write often, a random instant soon after
 * the parent sees the journal complete (before, inside or after the write).
 */
async function killAtRandom(
  child: Deno.ChildProcess,
  round: number,
  rand: () => number,
  journalPath: string,
): Promise<void> {
  const mode = round % 3;
  if (mode === 0) await delay(rand() * 1000);
  else if (mode === 1) await delay(rand() * 250);
  else {
    await delay(150 + rand() * 100);
    const journalBytes = waitForFullJournal(journalPath);
    // Then a random instant within about the time an in-place write of
    // this size takes here (~1 ms for 8 MB).
    const until = performance.now() + rand() * journalBytes / 16e6;
    while (performance.now() < until) { /* spin */ }
  }
  try {
    child.kill("SIGKILL");
  } catch (error) {
    // The writer finished its 1000 calls and exited first.
    if (!(error instanceof TypeError)) throw error;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Runs a crash-injection campaign; throws on any lost change. */
export async function runCrash(options: CrashOptions): Promise<CrashFigures> {
  await using ws = await tempWorkspace("loops_crash_");
  const rand = random(options.seed);
  const file = `${ws.path}/.ralph/loops.json`;
  const journalPath = `${file}.journal`;
  // Start from `entries` big entries, written in one go.
  let model = new Map<string, number>();
  const loops = [];
  for (let i = 0; i < options.entries; i++) {
    const id = `init-${i}`;
    const pid = FAKE_PID_BASE + 10 * (i + 1) + 5;
    model.set(id, pid);
    loops.push(entryToRaw({
      id,
      pid,
      started: new Date().toISOString(),
      prompt: crashPrompt(id, options.promptBytes),
      workspace: ws.path,
    }));
  }
  await Deno.mkdir(`${ws.path}/.ralph`);
  await Deno.writeTextFile(file, JSON.stringify({ loops }, null, 2));
  const figures: CrashFigures = {
    kills: 0,
    completedCalls: 0,
    states: {
      clean: 0,
      journalPartial: 0,
      journalOnly: 0,
      torn: 0,
      written: 0,
    },
    interruptedApplied: 0,
    interruptedNotApplied: 0,
    tornLeftToWriter: 0,
    lost: 0,
    fileBytes: (await Deno.stat(file)).size,
  };
  for (let round = 0; round < options.kills; round++) {
    const writer = spawnWorker("crash", [
      ws.path,
      String(round),
      String(options.entries),
      String(options.promptBytes),
      String(Math.floor(rand() * 2 ** 31)),
    ]);
    await writer.waitFor((line) => line === "ready");
    await killAtRandom(writer.child, round, rand, journalPath);
    const [status, , stderr] = await Promise.all([
      writer.child.status,
      writer.closed,
      writer.stderr,
    ]);
    if (status.signal !== "SIGKILL" && !status.success) {
      throw new Error(`Writer failed in round ${round}:\n${stderr}`);
    }
    if (status.signal === "SIGKILL") figures.kills++;

    // Look at the bytes before anything reads them through the library.
    const current = readOrEmpty(file);
    const journalBytes = readOrEmpty(journalPath);
    const journal = journalBytes.length > 0
      ? parseJournal(journalBytes)
      : undefined;
    const torn = journal !== undefined &&
      isTornWrite(current, journal.before, journal.after);
    const states = figures.states;
    if (journalBytes.length === 0) states.clean++;
    else if (journal === undefined) states.journalPartial++;
    else if (torn) states.torn++;
    else if (equalBytes(current, journal.before)) states.journalOnly++;
    else if (equalBytes(current, journal.after)) states.written++;
    else throw new Error(`Round ${round}: file is neither old, new nor torn`);

    const { done, pending } = parseLog(writer.lines);
    figures.completedCalls += done.length;
    for (const op of done) model = apply(model, op);
    const { bytes } = effectiveContent(
      current,
      journalBytes.length > 0 ? journalBytes : undefined,
    );
    const actual = readState(bytes, file);
    if (sameState(actual, model, options.promptBytes)) {
      if (pending) figures.interruptedNotApplied++;
    } else if (
      pending && sameState(actual, apply(model, pending), options.promptBytes)
    ) {
      figures.interruptedApplied++;
      model = apply(model, pending);
    } else {
      figures.lost++;
      const missing = [...model.keys()].filter((id) => !actual.has(id));
      const extra = [...actual.keys()].filter((id) => !model.has(id));
      throw new Error(
        `Round ${round}: registry differs from the completed calls (missing ${
          JSON.stringify(missing.slice(0, 5))
        }, extra ${JSON.stringify(extra.slice(0, 5))}, interrupted ${
          JSON.stringify(pending)
        }, torn ${torn})`,
      );
    }
    // Every other round the library reads it back here (and rolls a torn
    // file forward); otherwise the next writer does, and may be killed
    // while it does.
    if (round % 2 === 0) {
      const listed = new LoopRegistry(ws.path, { env: tortureEnv }).listSync();
      assert.deepEqual(
        listed.map((e) => e.id).sort(),
        [...model.keys()].sort(),
        `round ${round}: list() differs from the model`,
      );
      if (torn) {
        assert.ok(
          !isTornWrite(readOrEmpty(file), journal.before, journal.after),
          "list() left the file torn",
        );
      }
    } else if (torn) figures.tornLeftToWriter++;
  }
  figures.fileBytes = Math.max(figures.fileBytes, (await Deno.stat(file)).size);
  return figures;
}
