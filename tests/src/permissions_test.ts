import assert from "node:assert/strict";
import {
  createLoopEntry,
  LoopNotFoundError,
  LoopRegistry,
  probeProcess,
  readProcessIdentity,
} from "../../mod.ts";
import { WRITE_HOOK, type WriteHook } from "../../src/_durable_write.ts";
import { parseJournal } from "../../src/_journal.ts";
import { aliveEnv, deadPid, rawEntry, runOp } from "../_helpers/core.ts";

// Tests with narrowed `permissions` cannot create their own temp dirs, so the
// fixtures are made here, with the full permissions of the test run, and
// removed by the last test of this file.
const root = await Deno.makeTempDir({ prefix: "loops_permissions_test_" });
const DEAD = await deadPid();

/** A workspace whose registry holds live, dead and unprobeable entries. */
const full = `${root}/full`;
const FULL_FILE = `${full}/.ralph/loops.json`;
await Deno.mkdir(`${full}/.ralph`, { recursive: true });
await Deno.writeTextFile(
  FULL_FILE,
  JSON.stringify(
    {
      loops: [
        rawEntry("mine", Deno.pid),
        rawEntry("init", 1),
        rawEntry("dead", DEAD),
        rawEntry("zero", 0),
      ],
    },
    null,
    2,
  ),
);
/** A workspace with `.ralph/` but no registry file. */
const bare = `${root}/bare`;
await Deno.mkdir(`${bare}/.ralph`, { recursive: true });
/** A workspace with nothing in it. */
const empty = `${root}/empty`;
await Deno.mkdir(empty);
/** A workspace left with a torn write and its journal. */
const torn = `${root}/torn`;
const TORN_FILE = `${torn}/.ralph/loops.json`;
{
  const registry = new LoopRegistry(torn, { env: aliveEnv });
  await registry.register(
    createLoopEntry("a", { id: "a", pid: 7001, workspace: "/ws" }),
  );
  await registry.register(
    createLoopEntry("b", { id: "b", pid: 7002, workspace: "/ws" }),
  );
  const crash = new Error("simulated crash");
  const crashing = {
    env: aliveEnv,
    [WRITE_HOOK]: (step: WriteStep) => {
      if (step === "journal") throw crash; // journal written, file untouched
    },
  };
  await assert.rejects(
    new LoopRegistry(torn, crashing).deregister("a"),
    (error) => error === crash,
  );
  // Tear the write by hand: the new JSON spliced onto the old tail.
  const record = parseJournal(await Deno.readFile(`${TORN_FILE}.journal`))!;
  const cut = new TextDecoder().decode(record.after).trimEnd().length;
  const tornBytes = record.before.slice();
  tornBytes.set(record.after.subarray(0, cut));
  await Deno.writeFile(TORN_FILE, tornBytes);
}

type WriteStep = Parameters<WriteHook>[0];

async function snapshot(path: string) {
  const info = await Deno.stat(path);
  return { bytes: await Deno.readFile(path), mtime: info.mtime?.getTime() };
}

function namesFlag(kind: "read" | "write", dir: string) {
  return (error: unknown) => {
    assert.ok(error instanceof Deno.errors.NotCapable, String(error));
    assert.ok(
      error.message.includes(`--allow-${kind}=${dir}`),
      error.message,
    );
    assert.ok(error.cause instanceof Deno.errors.NotCapable);
    assert.notEqual(error.cause, error);
    return true;
  };
}

Deno.test({
  name: "changes without write permission name --allow-write=<.ralph>",
  permissions: { read: true },
  async fn() {
    const check = namesFlag("write", `${bare}/.ralph`);
    const registry = new LoopRegistry(bare);
    const entry = createLoopEntry("p", { workspace: bare });
    await assert.rejects(registry.register(entry), check);
    assert.throws(() => registry.registerSync(entry), check);
    await assert.rejects(registry.claim("p", { handleSignals: false }), check);
    // Removals from a registry that does not exist need no write at all.
    await assert.rejects(registry.deregister("x"), LoopNotFoundError);
    assert.equal(await registry.deregisterCurrentProcess(), false);
    assert.equal(await registry.cleanStale(), 0);
    // Nothing was created.
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${bare}/.ralph`)), []);
  },
});

Deno.test({
  name: "creating .ralph without write permission names --allow-write",
  permissions: { read: true },
  async fn() {
    const registry = new LoopRegistry(empty);
    await assert.rejects(
      registry.register(createLoopEntry("p", { workspace: empty })),
      namesFlag("write", `${empty}/.ralph`),
    );
    await assert.rejects(Deno.lstat(`${empty}/.ralph`), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "changes on an existing registry without write permission fail",
  permissions: { read: true },
  async fn() {
    const before = await snapshot(FULL_FILE);
    const registry = new LoopRegistry(full);
    await assert.rejects(
      registry.deregister("mine"),
      namesFlag("write", `${full}/.ralph`),
    );
    await assert.rejects(
      registry.repair(),
      namesFlag("write", `${full}/.ralph`),
    );
    assert.deepEqual(await snapshot(FULL_FILE), before);
  },
});

Deno.test({
  name: "reads without read permission name --allow-read=<.ralph>",
  permissions: "none",
  async fn() {
    const registry = new LoopRegistry(full);
    const check = namesFlag("read", `${full}/.ralph`);
    await assert.rejects(registry.list(), check);
    await assert.rejects(registry.get("mine"), check);
    assert.throws(() => registry.listSync(), check);
  },
});

Deno.test({
  name: "list() and get() work with read permission alone and write nothing",
  permissions: { read: true },
  async fn() {
    const before = await snapshot(FULL_FILE);
    const registry = new LoopRegistry(full);
    // No --allow-run: other pids are unknown (kept); this process is probed
    // without permission; pid 0 is invalid, hence dead, and hidden.
    assert.deepEqual(
      (await registry.list()).map((e) => [e.id, e.status]),
      [["mine", "running"], ["init", "unknown"], ["dead", "unknown"]],
    );
    assert.equal((await registry.get("mine"))?.status, "running");
    assert.equal(await registry.get("zero"), undefined);
    assert.equal(registry.listSync().length, 3);
    assert.deepEqual(await snapshot(FULL_FILE), before);
    assert.deepEqual(await new LoopRegistry(bare).list(), []);
    assert.deepEqual(await new LoopRegistry(empty).list(), []);
  },
});

Deno.test({
  name:
    "list() with read and run permission hides dead entries, writes nothing",
  permissions: { read: true, run: true },
  async fn() {
    const before = await snapshot(FULL_FILE);
    const registry = new LoopRegistry(full);
    assert.deepEqual(
      (await registry.list()).map((e) => [e.id, e.status]),
      [["mine", "running"], ["init", "running"]],
    );
    assert.equal(await registry.get("dead"), undefined);
    assert.equal(
      await registry.cleanStale().catch((e) => e.name),
      "NotCapable",
    );
    assert.deepEqual(await snapshot(FULL_FILE), before);
  },
});

Deno.test({
  name: "a torn registry reads rolled forward without write permission",
  permissions: { read: true },
  async fn() {
    const journal = `${TORN_FILE}.journal`;
    const before = await snapshot(TORN_FILE);
    const journalBefore = await Deno.readFile(journal);
    assert.ok(journalBefore.length > 0);
    // The file itself is not JSON (new content + old tail).
    assert.throws(() => JSON.parse(new TextDecoder().decode(before.bytes)));
    const registry = new LoopRegistry(torn, { env: aliveEnv });
    assert.deepEqual((await registry.list()).map((e) => e.id), ["b"]);
    assert.equal(await registry.get("a"), undefined);
    assert.deepEqual(await snapshot(TORN_FILE), before);
    assert.deepEqual(await Deno.readFile(journal), journalBefore);
  },
});

Deno.test({
  name: "probeProcess() without --allow-run is unknown for other pids",
  permissions: { read: true },
  fn() {
    assert.equal(probeProcess(1), "unknown");
    assert.equal(probeProcess(DEAD), "unknown");
    assert.equal(probeProcess(Deno.pid), "alive");
    assert.equal(probeProcess(0), "dead");
    assert.equal(readProcessIdentity(Deno.pid), undefined);
  },
});

Deno.test("scoped flags for .ralph are enough, and a missing one is named", async (t) => {
  const ws = `${root}/scoped`;
  const dir = `${ws}/.ralph`;
  const rw = [`--allow-read=${dir}`, `--allow-write=${dir}`];
  await t.step("--allow-read/--allow-write=<ws>/.ralph", async () => {
    const reg = await runOp(ws, ["register", "scoped"], { flags: rw });
    assert.equal(reg.ok, "scoped", reg.stdout + reg.stderr);
    const listed = await runOp(ws, ["list"], { flags: rw });
    // The registering child has exited, but without --allow-run that cannot
    // be proven: unknown, and kept.
    assert.deepEqual(
      listed.ok?.map((e: { id: string; status: string }) => [e.id, e.status]),
      [["scoped", "unknown"]],
      listed.stdout + listed.stderr,
    );
  });
  await t.step("read only: register names --allow-write", async () => {
    const reg = await runOp(ws, ["register", "x"], {
      flags: [`--allow-read=${dir}`],
    });
    assert.equal(reg.error?.className, "NotCapable", reg.stdout + reg.stderr);
    assert.ok(reg.error.message.includes(`--allow-write=${dir}`));
    assert.equal(reg.error.cause?.className, "NotCapable");
  });
  await t.step("write only: list names --allow-read", async () => {
    const listed = await runOp(ws, ["list"], {
      flags: [`--allow-write=${dir}`],
    });
    assert.equal(listed.error?.className, "NotCapable", listed.stdout);
    assert.ok(listed.error.message.includes(`--allow-read=${dir}`));
  });
});

Deno.test("list() with write permission for the file only writes nothing", async () => {
  // Writing also needs the journal beside the file: a write flag scoped to
  // loops.json alone must not make list() fail half-way through a clean.
  const ws = `${root}/file_only`;
  const file = `${ws}/.ralph/loops.json`;
  await Deno.mkdir(`${ws}/.ralph`, { recursive: true });
  await Deno.writeTextFile(
    file,
    JSON.stringify({ loops: [rawEntry("zero", 0), rawEntry("me", 1)] }),
  );
  const before = await snapshot(file);
  const listed = await runOp(ws, ["list"], {
    flags: [`--allow-read=${ws}/.ralph`, `--allow-write=${file}`],
  });
  assert.deepEqual(
    listed.ok?.map((e: { id: string; status: string }) => [e.id, e.status]),
    [["me", "unknown"]],
    listed.stdout + listed.stderr,
  );
  assert.deepEqual(await snapshot(file), before);
});

Deno.test("list() by a user the OS does not let write hides dead entries", async () => {
  // ralph creates loops.json 0644: another user may read it but not write
  // it. Their list() and get() must succeed and write nothing.
  const ws = `${root}/other_user`;
  const file = `${ws}/.ralph/loops.json`;
  await Deno.mkdir(`${ws}/.ralph`, { recursive: true });
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      loops: [
        rawEntry("dead", DEAD),
        // Registered after init started: its start time does not disprove it.
        rawEntry("init", 1, { started: new Date().toISOString() }),
      ],
    }),
  );
  const denoDir = `${root}/deno_dir`;
  await Deno.mkdir(denoDir, { recursive: true });
  // Others may traverse and read, not write: the registry passes the trust
  // rule, so the refusal below is the OS's.
  for (const path of [root, ws, `${ws}/.ralph`]) await Deno.chmod(path, 0o755);
  await Deno.chmod(denoDir, 0o777);
  await Deno.chmod(file, 0o644);
  const before = await snapshot(file);
  const as65533 = { uid: 65533, denoDir, cwd: ws };
  const listed = await runOp(ws, ["list"], as65533);
  assert.deepEqual(
    listed.ok?.map((e: { id: string; status: string }) => [e.id, e.status]),
    [["init", "running"]],
    listed.stdout + listed.stderr,
  );
  const got = await runOp(ws, ["get", "dead"], as65533);
  assert.equal(got.ok, null, got.stdout + got.stderr);
  assert.deepEqual(await snapshot(file), before);
  // A change is still refused, with the OS error.
  const reg = await runOp(ws, ["deregister", "init"], as65533);
  assert.equal(reg.error?.className, "PermissionDenied", reg.stdout);
  assert.deepEqual(await snapshot(file), before);
});

Deno.test("permissions fixtures are removed", async () => {
  await Deno.remove(root, { recursive: true });
});
