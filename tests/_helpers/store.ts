// Helpers shared by the store tests (journal, lock, durable write, repair).
import assert from "node:assert/strict";
import {
  CorruptRegistryError,
  createLoopEntry,
  type LoopEntry,
  LoopRegistry,
} from "../../mod.ts";
import { WRITE_HOOK, type WriteHook } from "../../src/_durable_write.ts";
import { checksum } from "../../src/_journal.ts";
import { aliveEnv, type TempWorkspace } from "./core.ts";

export type WriteStep = Parameters<WriteHook>[0];
export const STEPS: WriteStep[] = [
  "journal",
  "write",
  "truncate",
  "sync",
  "done",
];
export const encoder = new TextEncoder();

export function fake(
  id: string,
  pid: number,
  prompt = `prompt ${id}`,
): LoopEntry {
  return createLoopEntry(prompt, { id, pid, workspace: "/ws" });
}

export function registry(ws: TempWorkspace, hook?: WriteHook): LoopRegistry {
  return new LoopRegistry(ws.path, {
    env: aliveEnv,
    ...(hook ? { [WRITE_HOOK]: hook } : {}),
  });
}

export async function snapshot(path: string) {
  const info = await Deno.lstat(path);
  return {
    bytes: await Deno.readFile(path),
    mtime: info.mtime?.getTime(),
    ino: info.ino,
  };
}

/** All calls on `ws` are refused with CorruptRegistryError naming the file. */
export async function assertAllRefused(
  ws: TempWorkspace,
  named: string,
  pattern?: RegExp,
): Promise<void> {
  const check = (error: unknown) => {
    assert.ok(error instanceof CorruptRegistryError, String(error));
    assert.equal(error.path, named);
    assert.ok(error.message.includes(`"${named}"`), error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
  const r = registry(ws);
  await assert.rejects(r.list(), check);
  await assert.rejects(r.get("a"), check);
  await assert.rejects(r.register(fake("new", 7001)), check);
  await assert.rejects(r.deregister("a"), check);
  await assert.rejects(r.cleanStale(), check);
  await assert.rejects(r.deregisterCurrentProcess(), check);
  assert.throws(() => r.listSync(), check);
  assert.throws(() => r.registerSync(fake("new", 7001)), check);
}

/** Every state an interrupted in-place write of `after` over `before` leaves. */
export function tornStates(
  before: Uint8Array,
  after: Uint8Array,
): Uint8Array[] {
  const states: Uint8Array[] = [];
  for (let k = 0; k <= after.length; k++) {
    const state = new Uint8Array(Math.max(k, before.length));
    state.set(before);
    state.set(after.subarray(0, k));
    states.push(state);
  }
  return states;
}

/** The new JSON (without its padding) spliced onto the old tail. */
export function spliced(before: Uint8Array, after: Uint8Array): Uint8Array {
  const k = new TextDecoder().decode(after).trimEnd().length;
  const state = before.slice();
  state.set(after.subarray(0, k));
  return state;
}

/** Whether the journal holds no record (emptied, or its header cleared). */
export async function journalCleared(path: string): Promise<boolean> {
  const bytes = await Deno.readFile(path);
  return bytes.length === 0 || bytes.subarray(0, 16).every((b) => b === 0);
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function journalBytes(
  before: Uint8Array,
  after: Uint8Array,
  sum?: number,
): Uint8Array {
  // The journal format by hand (header, old bytes, new bytes), to craft
  // damaged records.
  const header = encoder.encode(
    `loops-journal-v2 ${before.length} ${after.length} ${
      sum ?? checksum(before, after)
    }\n`,
  );
  return new Uint8Array([...header, ...before, ...after]);
}

export async function captureJournal(
  ws: TempWorkspace,
  change: (r: LoopRegistry) => Promise<unknown>,
): Promise<Uint8Array> {
  let journal: Uint8Array | undefined;
  const crash = new Error("simulated crash");
  await assert.rejects(
    change(registry(ws, (step) => {
      if (step === "journal") {
        journal = Deno.readFileSync(ws.journal);
        throw crash;
      }
    })),
    (error) => error === crash,
  );
  assert.ok(journal && journal.length > 0);
  return journal;
}
