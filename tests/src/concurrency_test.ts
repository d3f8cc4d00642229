import assert from "node:assert/strict";
import { createLoopEntry, LockTimeoutError, LoopRegistry } from "../../mod.ts";
import {
  aliveEnv,
  deadPid,
  fileIds,
  lines,
  rawEntry,
  readJson,
  tempWorkspace,
} from "../_helpers/core.ts";

const WORKER =
  new URL("../fixtures/registry_worker.ts", import.meta.url).pathname;
const CHILDREN = 4;

function spawnWorker(
  workspace: string,
  mode: "fake" | "own",
  n: number,
  count: number,
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-config",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      WORKER,
      workspace,
      mode,
      `${n}`,
      `${count}`,
    ],
    stdin: mode === "own" ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("child processes competing on one registry lose no update", async () => {
  await using ws = await tempWorkspace();
  // Each child: 100 registers (distinct fake pids, counted alive) and 50
  // deregisters, alternating the async and sync APIs.
  const count = 100;
  const children = Array.from(
    { length: CHILDREN },
    (_, n) => spawnWorker(ws.path, "fake", n, count),
  );
  const outputs = await Promise.all(children.map((c) => c.output()));
  for (const output of outputs) {
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    assert.equal(new TextDecoder().decode(output.stdout), "done\n");
  }
  const json = await readJson(ws); // the file parses
  const ids = json.loops.map((e) => e.id as string);
  const expected = [];
  for (let n = 0; n < CHILDREN; n++) {
    for (let i = 0; i < count; i += 2) expected.push(`w${n}-${i}`);
  }
  assert.equal(new Set(ids).size, ids.length, "no duplicate ids");
  assert.deepEqual(ids.toSorted(), expected.toSorted());
  const listed = await new LoopRegistry(ws.path, { env: aliveEnv }).list();
  assert.equal(listed.length, expected.length);
});

Deno.test("child processes registering their own pid keep every final entry", async () => {
  await using ws = await tempWorkspace();
  // 60 register + 60 deregister of its own pid per child (with the real
  // liveness probe, so each change also judges the others' entries), then a
  // final registration kept while the child stays alive.
  const children = Array.from(
    { length: CHILDREN },
    (_, n) => spawnWorker(ws.path, "own", n, 60),
  );
  const readers = children.map((c) => lines(c.stdout));
  const stderrs = children.map((c) => c.stderr.text());
  try {
    for (const [n, reader] of readers.entries()) {
      const line = await reader.next();
      if (line.value !== "done") assert.fail(`child ${n}: ${await stderrs[n]}`);
    }
    const listed = await new LoopRegistry(ws.path).list();
    assert.deepEqual(
      listed.map((e) => [e.id, e.pid, e.status]).toSorted(),
      children.map((c, n) => [`final-${n}`, c.pid, "running"]).toSorted(),
    );
  } finally {
    for (const child of children) await child.stdin.close();
    for (const child of children) {
      const status = await child.status;
      assert.equal(status.code, 0);
    }
    for (const reader of readers) {
      for await (const _ of reader) { /* drain */ }
    }
    await Promise.all(stderrs);
  }
  // Once they have exited, their entries are dead and cleaned.
  assert.deepEqual(await new LoopRegistry(ws.path).list(), []);
  assert.deepEqual(await fileIds(ws), []);
});

Deno.test("parallel in-process calls lose no update", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path, { env: aliveEnv });
  const n = 40;
  const entry = (i: number) =>
    createLoopEntry("p", { id: `p-${i}`, pid: 8000 + i, workspace: "/ws" });
  // Separate LoopRegistry instances and the sync API mixed in.
  await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        i % 5 === 0
          ? Promise.resolve(registry.registerSync(entry(i)))
          : new LoopRegistry(ws.path, { env: aliveEnv }).register(entry(i)),
    ),
  );
  assert.equal((await registry.list()).length, n);
  await Promise.all(
    Array.from(
      { length: n / 2 },
      (_, i) => registry.deregister(`p-${2 * i}`),
    ),
  );
  const ids = (await fileIds(ws)).toSorted();
  assert.deepEqual(
    ids,
    Array.from({ length: n / 2 }, (_, i) => `p-${2 * i + 1}`).toSorted(),
  );
});

/** Holds the registry lock with util-linux `flock` until `release()`. */
async function holdLock(file: string, shared = false) {
  const child = new Deno.Command("flock", {
    args: [shared ? "-s" : "-x", file, "sh", "-c", "echo locked; cat"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const out = lines(child.stdout);
  assert.equal((await out.next()).value, "locked");
  return {
    async release() {
      await child.stdin.close();
      for await (const _ of out) { /* drain */ }
      assert.equal((await child.status).code, 0);
    },
  };
}

Deno.test("a lock held with flock(1) makes a change wait for it", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path, { env: aliveEnv });
  await registry.register(
    createLoopEntry("first", { id: "first", pid: 9001, workspace: "/ws" }),
  );
  const holder = await holdLock(ws.file);
  let settled = false;
  const pending = registry.register(
    createLoopEntry("second", { id: "second", pid: 9002, workspace: "/ws" }),
  ).finally(() => settled = true);
  const reading = registry.list().finally(() => settled = true);
  try {
    // While the lock is held, neither call can complete.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(settled, false);
    assert.deepEqual(await fileIds(ws), ["first"]);
  } finally {
    await holder.release();
  }
  assert.equal(await pending, "second");
  await reading;
  assert.deepEqual(await fileIds(ws), ["first", "second"]);
});

Deno.test("a file replaced by rename while waiting for the lock is reopened", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path, { env: aliveEnv });
  await registry.register(
    createLoopEntry("first", { id: "first", pid: 9001, workspace: "/ws" }),
  );
  const holder = await holdLock(ws.file);
  // The call opens the current inode at once, then waits for its lock.
  const pending = registry.register(
    createLoopEntry("second", { id: "second", pid: 9002, workspace: "/ws" }),
  );
  try {
    // Meanwhile an editor replaces the file by rename.
    const replacement = `${ws.dir}/loops.json.edit`;
    await Deno.writeTextFile(
      replacement,
      JSON.stringify({ loops: [rawEntry("edited", 9009)] }),
    );
    await Deno.rename(replacement, ws.file);
  } finally {
    await holder.release();
  }
  await pending;
  // The change went to the file at the path, not to the unlinked inode.
  assert.deepEqual(await fileIds(ws), ["edited", "second"]);
});

Deno.test("a short lockTimeoutMs fails with LockTimeoutError naming the file", async (t) => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path, {
    env: aliveEnv,
    lockTimeoutMs: 200,
  });
  await registry.register(
    createLoopEntry("first", { id: "first", pid: 9001, workspace: "/ws" }),
  );
  const before = await Deno.readFile(ws.file);
  const isTimeout = (error: unknown) => {
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.equal(error.name, "LockTimeoutError");
    assert.equal(error.path, ws.file);
    assert.equal(error.timeoutMs, 200);
    assert.ok(error.message.includes(`"${ws.file}"`), error.message);
    return true;
  };
  const next = () =>
    createLoopEntry("x", { id: "x", pid: 9003, workspace: "/ws" });
  await t.step("exclusive holder: changes and reads time out", async () => {
    const holder = await holdLock(ws.file);
    try {
      await assert.rejects(registry.register(next()), isTimeout);
      await assert.rejects(registry.deregister("first"), isTimeout);
      await assert.rejects(registry.list(), isTimeout);
      await assert.rejects(registry.get("first"), isTimeout);
      assert.throws(() => registry.registerSync(next()), isTimeout);
      assert.throws(() => registry.listSync(), isTimeout);
    } finally {
      await holder.release();
    }
    assert.deepEqual(await Deno.readFile(ws.file), before);
  });
  await t.step("shared holder: reads proceed, changes time out", async () => {
    const holder = await holdLock(ws.file, true);
    try {
      assert.deepEqual((await registry.list()).map((e) => e.id), ["first"]);
      assert.equal((await registry.get("first"))?.id, "first");
      await assert.rejects(registry.register(next()), isTimeout);
    } finally {
      await holder.release();
    }
    assert.deepEqual(await Deno.readFile(ws.file), before);
  });
  await t.step("after the holder left, the call succeeds", async () => {
    assert.equal(await registry.register(next()), "x");
  });
});

Deno.test("a read does not wait long to clean: a shared holder leaves dead entries in the file", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path, { lockTimeoutMs: 10_000 });
  await registry.register(
    createLoopEntry("mine", { id: "mine", workspace: "/ws" }),
  );
  await writeDeadEntry(ws);
  const holder = await holdLock(ws.file, true);
  try {
    // The read takes its shared lock beside the holder; the clean-up needs
    // the exclusive lock, gives up after 100 ms instead of 10 s, and the
    // read still succeeds with the dead entry hidden.
    const started = performance.now();
    assert.deepEqual((await registry.list()).map((e) => e.id), ["mine"]);
    assert.ok(performance.now() - started < 5_000);
    assert.deepEqual(await fileIds(ws), ["mine", "dead"]);
  } finally {
    await holder.release();
  }
  // Once the lock is free, the next read cleans.
  await registry.list();
  assert.deepEqual(await fileIds(ws), ["mine"]);
});

async function writeDeadEntry(ws: { file: string }): Promise<void> {
  const doc = JSON.parse(await Deno.readTextFile(ws.file));
  doc.loops.push(rawEntry("dead", await deadPid()));
  await Deno.writeTextFile(ws.file, JSON.stringify(doc, null, 2));
}
