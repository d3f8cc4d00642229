// Child process of the torture suite. Modes:
//   soak <workspace> <index> <calls> <seed>   mixed calls, checks what it owns
//   reader <workspace>                        checks every change it sees
//   crash <workspace> <round> <target> <promptBytes> <seed>
//                                             writes big entries until killed
//   hostile <workspace> list|register         one call, its result as JSON
//   list <workspace>                          list() with the soak's liveness
// Every line goes to stdout with a synchronous write before the next call, so
// a line that arrived describes a call that completed.
import assert from "node:assert/strict";
import { createLoopEntry, LoopNotFoundError, LoopRegistry } from "../../mod.ts";
import { decodeRegistry } from "../../src/_codec.ts";
import {
  crashPrompt,
  FAKE_PID_BASE,
  fakeLiveness,
  random,
  tortureEnv,
} from "./_common.ts";

const encoder = new TextEncoder();

function out(line: string): void {
  const bytes = encoder.encode(`${line}\n`);
  let offset = 0;
  while (offset < bytes.length) {
    offset += Deno.stdout.writeSync(bytes.subarray(offset));
  }
}

function pick<T>(items: T[], rand: () => number): T | undefined {
  return items[Math.floor(rand() * items.length)];
}

async function soak(
  workspace: string,
  index: number,
  calls: number,
  seed: number,
): Promise<void> {
  const rand = random(seed);
  const registry = new LoopRegistry(workspace, {
    env: tortureEnv,
    lockTimeoutMs: 120_000,
  });
  // Entries this worker registered and has not deregistered. Only this
  // worker deregisters them, so a live one must stay visible to it.
  const mine = new Map<string, number>();
  const isLive = (pid: number) => fakeLiveness(pid) === "alive";
  let serial = 0;
  const nextPid = () => FAKE_PID_BASE + index * 100_000 + ++serial;
  for (let call = 0; call < calls; call++) {
    const r = rand();
    const sync = rand() < 0.3;
    const owned = [...mine.keys()];
    if (r < 0.3 || owned.length === 0) {
      const id = `w${index}-${serial + 1}`;
      const pid = nextPid();
      const entry = createLoopEntry(`soak ${id}`, { id, pid, workspace });
      if (sync) registry.registerSync(entry);
      else await registry.register(entry);
      mine.set(id, pid);
      out(`register ${id} ${pid}`);
    } else if (r < 0.35) {
      const live = owned.filter((id) => isLive(mine.get(id)!));
      const id = pick(live, rand);
      if (id === undefined) continue;
      const entry = createLoopEntry("dup", { id, pid: nextPid(), workspace });
      await assert.rejects(registry.register(entry), Deno.errors.AlreadyExists);
      out(`refused ${id}`);
    } else if (r < 0.55) {
      const id = pick(owned, rand)!;
      const pid = mine.get(id)!;
      mine.delete(id);
      try {
        if (sync) registry.deregisterSync(id);
        else await registry.deregister(id);
        out(`deregister ${id}`);
      } catch (error) {
        // Only a dead entry may have been cleaned by someone else.
        if (!(error instanceof LoopNotFoundError) || isLive(pid)) throw error;
        out(`cleaned ${id}`);
      }
    } else if (r < 0.7) {
      const listed = sync ? registry.listSync() : await registry.list();
      const ids = listed.map((e) => e.id);
      assert.equal(new Set(ids).size, ids.length, "duplicate ids listed");
      for (const e of listed) {
        assert.ok(e.pid < FAKE_PID_BASE || isLive(e.pid), `dead ${e.id}`);
      }
      const byId = new Map(listed.map((e) => [e.id, e.pid]));
      for (const [id, pid] of mine) {
        if (isLive(pid)) assert.equal(byId.get(id), pid, `lost ${id}`);
      }
      out(`list ${listed.length}`);
    } else if (r < 0.82) {
      const id = pick(owned, rand)!;
      const pid = mine.get(id)!;
      const got = sync ? registry.getSync(id) : await registry.get(id);
      if (isLive(pid)) assert.equal(got?.pid, pid, `lost ${id}`);
      else assert.equal(got, undefined, `dead ${id} returned`);
      out(`get ${id}`);
    } else if (r < 0.9) {
      const removed = sync
        ? registry.cleanStaleSync()
        : await registry.cleanStale();
      assert.ok(removed >= 0);
      out(`clean ${removed}`);
    } else {
      const id = `c${index}-${++serial}`;
      {
        await using claim = await registry.claim(`claim ${id}`, {
          id,
          handleSignals: false,
        });
        const got = await registry.get(claim.id);
        assert.equal(got?.status, "running", `claim ${id} not running`);
      }
      assert.equal(await registry.get(id), undefined, `claim ${id} kept`);
      out(`claim ${id}`);
    }
  }
  const live = [...mine].filter(([, pid]) => isLive(pid)).map(([id]) => id);
  out(`final ${JSON.stringify(live)}`);
}

const decoder = new TextDecoder();

/**
 * Reads the registry under a shared lock, with the journal's size; undefined
 * while a writer holds the lock. Under a shared lock no change is in
 * progress: the file must be whole and the journal empty (nothing crashes in
 * a soak): its header cleared.
 */
function readLocked(
  file: string,
): { text: string; journalSize: number } | undefined {
  try {
    using f = Deno.openSync(file, { read: true });
    if (!f.tryLockSync(false)) return undefined;
    const text = decoder.decode(Deno.readFileSync(file));
    // Count the bytes of a journal record still standing (0 when the
    // journal is empty, or its header zeroed).
    let journalSize = 0;
    try {
      const journal = Deno.readFileSync(`${file}.journal`);
      const cleared = journal.subarray(0, 16).every((b) => b === 0);
      journalSize = cleared ? 0 : journal.length;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    f.unlockSync();
    return { text, journalSize };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function reader(workspace: string): Promise<void> {
  const file = `${workspace}/.ralph/loops.json`;
  let stopped = false;
  const stdin = (async () => {
    for await (const _ of Deno.stdin.readable) { /* until EOF */ }
    stopped = true;
  })();
  let last = "";
  let reads = 0;
  let changes = 0;
  // At least one read, however late this process started.
  while (!stopped || reads === 0) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const read = readLocked(file);
    if (read === undefined) continue;
    reads++;
    if (read.text === last) continue;
    last = read.text;
    changes++;
    assert.equal(read.journalSize, 0, "journal not empty under a shared lock");
    const doc = decodeRegistry(encoder.encode(read.text), file);
    const ids = doc.entries.map((e) => e.entry.id);
    assert.equal(new Set(ids).size, ids.length, `duplicate ids: ${read.text}`);
  }
  await stdin;
  out(`reader ${reads} ${changes}`);
}

async function crash(
  workspace: string,
  round: number,
  target: number,
  promptBytes: number,
  seed: number,
): Promise<void> {
  const rand = random(seed);
  const registry = new LoopRegistry(workspace, {
    env: tortureEnv,
    lockTimeoutMs: 120_000,
  });
  out("ready");
  // The first call may roll a torn write forward: it may be killed too.
  const ids = registry.listSync().map((e) => e.id);
  out("listed");
  for (let k = 0; k < 1000; k++) {
    const sync = rand() < 0.5;
    const register = ids.length < target * 0.9 ||
      (ids.length <= target * 1.1 && rand() < 0.5);
    if (register) {
      const id = `r${round}-${k}`;
      // Alive (ending in 0), and unique across 300 rounds: no two entries
      // may share a pid, since register() replaces an entry with its pid.
      const pid = FAKE_PID_BASE + 10 * ((round * 1000 + k) % 300_000);
      const entry = createLoopEntry(crashPrompt(id, promptBytes), {
        id,
        pid,
        workspace,
      });
      out(`begin register ${id} ${pid}`);
      if (sync) registry.registerSync(entry);
      else await registry.register(entry);
      out("done");
      ids.push(id);
    } else {
      const index = Math.floor(rand() * ids.length);
      const id = ids[index]!;
      out(`begin deregister ${id}`);
      if (sync) registry.deregisterSync(id);
      else await registry.deregister(id);
      out("done");
      ids.splice(index, 1);
    }
  }
  out("end");
}

if (import.meta.main) {
  const [mode, workspace, ...rest] = Deno.args;
  const n = rest.map(Number);
  if (workspace === undefined) throw new Error("Missing workspace");
  if (mode === "soak") await soak(workspace, n[0]!, n[1]!, n[2]!);
  else if (mode === "reader") await reader(workspace);
  else if (mode === "crash") {
    await crash(workspace, n[0]!, n[1]!, n[2]!, n[3]!);
  } else if (mode === "list") {
    const registry = new LoopRegistry(workspace, { env: tortureEnv });
    out(`ids ${JSON.stringify((await registry.list()).map((e) => e.id))}`);
  } else if (mode === "hostile") {
    const { perform } = await import("./_hostile.ts");
    const call = rest[0] === "register" ? "register" : "list";
    out(JSON.stringify(await perform(workspace, call)));
  } else throw new Error(`Unknown mode ${JSON.stringify(mode)}`);
}
