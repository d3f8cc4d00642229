import assert from "node:assert/strict";
import {
  createLoopEntry,
  defaultRegistryEnv,
  generateLoopId,
  LoopNotFoundError,
  LoopRegistry,
  type RegistryEnv,
} from "../../mod.ts";
import {
  aliveEnv,
  deadPid,
  fileIds,
  lines,
  rawEntry,
  readJson,
  runOp,
  tempWorkspace,
  writeRegistry,
} from "../_helpers/core.ts";

Deno.test("register() creates .ralph/ and loops.json like ralph: 0777/0666 & ~umask", async () => {
  await using ws = await tempWorkspace();
  // What this process's umask makes of 0666 and 0777.
  const probe = `${ws.path}/probe`;
  (await Deno.open(probe, { write: true, createNew: true, mode: 0o666 }))
    .close();
  await Deno.mkdir(`${probe}_dir`, { mode: 0o777 });
  const fileMode = (await Deno.stat(probe)).mode! & 0o777;
  const dirMode = (await Deno.stat(`${probe}_dir`)).mode! & 0o777;
  const registry = new LoopRegistry(ws.path, { privateFiles: false });
  assert.equal(registry.path, ws.file);
  assert.equal(registry.workspace, ws.path);
  await assert.rejects(Deno.lstat(ws.dir), Deno.errors.NotFound);
  await registry.register(createLoopEntry("p", { workspace: ws.path }));
  const dir = await Deno.lstat(ws.dir);
  assert.ok(dir.isDirectory);
  assert.equal(dir.mode! & 0o777, dirMode);
  const info = await Deno.lstat(ws.file);
  assert.ok(info.isFile);
  assert.equal(info.mode! & 0o777, fileMode);
  // The journal gets loops.json's mode.
  assert.equal((await Deno.lstat(ws.journal)).mode! & 0o777, fileMode);
});

Deno.test("privateFiles: true creates .ralph/ 0700, loops.json and its journal 0600", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path, { privateFiles: true });
  await registry.register(createLoopEntry("p", { workspace: ws.path }));
  assert.equal((await Deno.lstat(ws.dir)).mode! & 0o777, 0o700);
  assert.equal((await Deno.lstat(ws.file)).mode! & 0o777, 0o600);
  assert.equal((await Deno.lstat(ws.journal)).mode! & 0o777, 0o600);
});

Deno.test("list() and get() create nothing when .ralph/ is missing", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path);
  assert.deepEqual(await registry.list(), []);
  assert.equal(await registry.get("loop-1-abcd"), undefined);
  assert.deepEqual(registry.listSync(), []);
  assert.equal(registry.getSync("loop-1-abcd"), undefined);
  await assert.rejects(Deno.lstat(ws.dir), Deno.errors.NotFound);
});

Deno.test("register() then list(), get() and deregister()", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path);
  const entry = createLoopEntry("implement auth", {
    workspace: ws.path,
    worktreePath: ws.path,
  });
  const id = await registry.register(entry);
  assert.equal(id, entry.id);
  assert.match(id, /^loop-\d+-[0-9a-f]{4}$/);

  const listed = await registry.list();
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.id, id);
  assert.equal(listed[0]!.pid, Deno.pid);
  assert.equal(listed[0]!.prompt, "implement auth");
  assert.equal(listed[0]!.worktreePath, ws.path);
  assert.equal(listed[0]!.workspace, ws.path);
  assert.equal(listed[0]!.started, entry.started);
  assert.equal(listed[0]!.status, "running");

  const got = await registry.get(id);
  assert.equal(got?.id, id);
  assert.equal(got?.status, "running");
  assert.equal(await registry.get("loop-0-0000"), undefined);

  await registry.deregister(id);
  assert.deepEqual(await registry.list(), []);
  assert.equal(await registry.get(id), undefined);
  assert.deepEqual(await readJson(ws), { loops: [] });
});

Deno.test("deregister() of a missing id throws LoopNotFoundError", async (t) => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path);
  await t.step("on a registry that does not exist yet", async () => {
    await assert.rejects(registry.deregister("loop-1-abcd"), LoopNotFoundError);
  });
  await t.step("names the id and file", async () => {
    await registry.register(createLoopEntry("p", { workspace: ws.path }));
    await assert.rejects(
      registry.deregister("loop-9-dead"),
      (error: unknown) => {
        assert.ok(error instanceof LoopNotFoundError);
        assert.equal(error.id, "loop-9-dead");
        assert.equal(error.path, ws.file);
        assert.match(error.message, /loop-9-dead/);
        assert.ok(error.message.includes(ws.file));
        return true;
      },
    );
    assert.throws(
      () => registry.deregisterSync("loop-9-dead"),
      LoopNotFoundError,
    );
  });
});

Deno.test("register() replaces an entry with the same pid", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path);
  const first = await registry.register(
    createLoopEntry("first", { workspace: ws.path }),
  );
  const second = await registry.register(
    createLoopEntry("second", { id: "loop-2-0002", workspace: ws.path }),
  );
  assert.notEqual(first, second);
  const listed = await registry.list();
  assert.deepEqual(listed.map((e) => [e.id, e.prompt]), [[second, "second"]]);
  assert.deepEqual(await fileIds(ws), [second]);
});

Deno.test("register() refuses an id a live loop already has", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path, { env: aliveEnv });
  await registry.register(
    createLoopEntry("a", { id: "loop-1-aaaa", pid: 4242, workspace: ws.path }),
  );
  const before = await Deno.readFile(ws.file);
  await assert.rejects(
    registry.register(
      createLoopEntry("b", {
        id: "loop-1-aaaa",
        pid: 4243,
        workspace: ws.path,
      }),
    ),
    (error: unknown) => {
      assert.ok(error instanceof Deno.errors.AlreadyExists);
      assert.match(error.message, /loop-1-aaaa/);
      return true;
    },
  );
  assert.throws(
    () =>
      registry.registerSync(
        createLoopEntry("b", {
          id: "loop-1-aaaa",
          pid: 4244,
          workspace: ws.path,
        }),
      ),
    Deno.errors.AlreadyExists,
  );
  assert.deepEqual(await Deno.readFile(ws.file), before);
});

Deno.test("register() reuses the id of a loop whose process is dead", async () => {
  await using ws = await tempWorkspace();
  const dead = await deadPid();
  await writeRegistry(
    ws,
    JSON.stringify({ loops: [rawEntry("loop-1-aaaa", dead)] }),
  );
  const registry = new LoopRegistry(ws.path);
  await registry.register(
    createLoopEntry("new", { id: "loop-1-aaaa", workspace: ws.path }),
  );
  const listed = await registry.list();
  assert.deepEqual(listed.map((e) => [e.id, e.pid]), [[
    "loop-1-aaaa",
    Deno.pid,
  ]]);
});

Deno.test("register() refuses an invalid pid with RangeError", async (t) => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path, { env: aliveEnv });
  for (const pid of [0, -1, 1.5, 5_000_000, NaN, 4_194_305]) {
    await t.step(`pid ${pid}`, async () => {
      const entry = createLoopEntry("p", { pid, workspace: ws.path });
      await assert.rejects(registry.register(entry), RangeError);
      assert.throws(() => registry.registerSync(entry), RangeError);
    });
  }
  // Nothing was written (not even an empty file).
  await assert.rejects(Deno.lstat(ws.dir), Deno.errors.NotFound);
  await t.step("pid 4194304 (the maximum) is accepted", async () => {
    const entry = createLoopEntry("p", { pid: 4_194_304, workspace: ws.path });
    assert.equal(await registry.register(entry), entry.id);
  });
});

Deno.test("register() refuses a bad id", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path);
  for (const id of ["", "a\nb", "x".repeat(257)]) {
    await assert.rejects(
      registry.register(createLoopEntry("p", { id, workspace: ws.path })),
      RangeError,
    );
  }
});

Deno.test("list() cleans entries of dead processes from the file", async () => {
  await using ws = await tempWorkspace();
  const dead = await deadPid();
  await writeRegistry(
    ws,
    JSON.stringify({
      loops: [rawEntry("loop-1-dead", dead), rawEntry("loop-1-live", Deno.pid)],
    }),
  );
  const registry = new LoopRegistry(ws.path);
  assert.deepEqual((await registry.list()).map((e) => e.id), ["loop-1-live"]);
  assert.deepEqual(await fileIds(ws), ["loop-1-live"]);
});

Deno.test("register() and deregister() also clean dead entries", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path);
  // A dead pid can be registered (it is not judged on the way in) ...
  await registry.register(
    createLoopEntry("dead", { id: "loop-1-dead", pid: await deadPid() }),
  );
  assert.deepEqual(await fileIds(ws), ["loop-1-dead"]);
  // ... and the next change drops it.
  await registry.register(createLoopEntry("live", { id: "loop-1-live" }));
  assert.deepEqual(await fileIds(ws), ["loop-1-live"]);
  await writeRegistry(
    ws,
    JSON.stringify({
      loops: [
        rawEntry("loop-1-dead", await deadPid()),
        rawEntry("x", Deno.pid),
      ],
    }),
  );
  await assert.rejects(registry.deregister("missing"), LoopNotFoundError);
  assert.deepEqual(await fileIds(ws), ["x"]);
});

Deno.test("get() of a dead entry is undefined and cleans it", async () => {
  await using ws = await tempWorkspace();
  const dead = await deadPid();
  await writeRegistry(
    ws,
    JSON.stringify({ loops: [rawEntry("loop-1-dead", dead)] }),
  );
  const registry = new LoopRegistry(ws.path);
  assert.equal(await registry.get("loop-1-dead"), undefined);
  assert.deepEqual(await fileIds(ws), []);
});

Deno.test("cleanStale() removes dead entries and orphans, returns the count", async () => {
  await using ws = await tempWorkspace();
  const dead = await deadPid();
  await writeRegistry(
    ws,
    JSON.stringify({
      loops: [
        rawEntry("loop-1-dead", dead),
        rawEntry("loop-1-orph", Deno.pid, {
          worktree_path: `${ws.path}/gone`,
        }),
        rawEntry("loop-1-live", Deno.pid, { worktree_path: ws.path }),
        rawEntry("loop-1-zero", 0),
      ],
    }),
  );
  const registry = new LoopRegistry(ws.path);
  // list() hides the dead ones and keeps the orphan, marked as such.
  const listed = await registry.list();
  assert.deepEqual(listed.map((e) => [e.id, e.status]), [
    ["loop-1-orph", "orphan"],
    ["loop-1-live", "running"],
  ]);
  assert.deepEqual(await fileIds(ws), ["loop-1-orph", "loop-1-live"]);
  assert.equal(await registry.cleanStale(), 1);
  assert.deepEqual(await fileIds(ws), ["loop-1-live"]);
  assert.equal(registry.cleanStaleSync(), 0);
});

Deno.test("list() treats invalid pids in the file as dead without signalling", async () => {
  await using ws = await tempWorkspace();
  // kill(0, 0) and kill(-1, 0) would succeed (process groups): had they been
  // probed, these entries would read as running.
  await writeRegistry(
    ws,
    JSON.stringify({
      loops: [
        rawEntry("a", 0),
        rawEntry("b", -1),
        rawEntry("c", 1.5),
        rawEntry("d", 5_000_000),
      ],
    }),
  );
  assert.deepEqual(await new LoopRegistry(ws.path).list(), []);
  assert.deepEqual(await fileIds(ws), []);
});

Deno.test("registry persists across LoopRegistry instances", async () => {
  await using ws = await tempWorkspace();
  const id = await new LoopRegistry(ws.path).register(
    createLoopEntry("persist", { workspace: ws.path }),
  );
  const other = new LoopRegistry(ws.path);
  assert.equal((await other.get(id))?.prompt, "persist");
  assert.equal(other.getSync(id)?.prompt, "persist");
  // A file URL names the same registry.
  assert.equal(new LoopRegistry(new URL(`file://${ws.path}`)).path, ws.file);
});

Deno.test("file format is 2-space pretty JSON with snake_case fields", async (t) => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path, { env: aliveEnv });
  const started = new Date("2026-11-30T13:16:33.123Z");
  await registry.register(
    createLoopEntry("with worktree", {
      id: "loop-1-0001",
      pid: 4001,
      workspace: "/ws",
      worktreePath: "/ws/wt",
      started,
    }),
  );
  await registry.register(
    createLoopEntry("no worktree", {
      id: "loop-1-0002",
      pid: 4002,
      workspace: "/ws",
      started,
    }),
  );
  const text = await Deno.readTextFile(ws.file);
  await t.step("exact bytes: ralph's JSON, padded to 4 KiB pages", () => {
    assert.equal(text.length % 4096, 0);
    assert.match(text, /} *\n$/);
    assert.equal(
      text.trimEnd(),
      JSON.stringify(
        {
          loops: [
            {
              id: "loop-1-0001",
              pid: 4001,
              started: "2026-11-30T13:16:33.123Z",
              prompt: "with worktree",
              worktree_path: "/ws/wt",
              workspace: "/ws",
            },
            {
              id: "loop-1-0002",
              pid: 4002,
              started: "2026-11-30T13:16:33.123Z",
              prompt: "no worktree",
              workspace: "/ws",
            },
          ],
        },
        null,
        2,
      ),
    );
    assert.ok(text.startsWith('{\n  "loops": [\n    {\n      "id": '));
  });
  await t.step("worktree_path is left out when absent", () => {
    const parsed = JSON.parse(text);
    assert.equal("worktree_path" in parsed.loops[1], false);
    assert.equal("worktreePath" in parsed.loops[0], false);
  });
  await t.step("worktreePath absent on the listed entry", async () => {
    const second = await registry.get("loop-1-0002");
    assert.equal(second && "worktreePath" in second, false);
  });
});

Deno.test("unknown fields are kept when the file is rewritten", async () => {
  await using ws = await tempWorkspace();
  await writeRegistry(
    ws,
    JSON.stringify({
      version: 3,
      owner: { name: "ralph" },
      loops: [
        rawEntry("loop-1-keep", 4001, {
          color: "blue",
          tags: ["a", 1],
          worktree_path: null,
        }),
        rawEntry("loop-1-drop", 4002, { color: "red" }),
      ],
      trailer: true,
    }),
  );
  const registry = new LoopRegistry(ws.path, { env: aliveEnv });
  await registry.deregister("loop-1-drop");
  await registry.register(
    createLoopEntry("new", { id: "loop-1-new0", pid: 4003, workspace: "/ws" }),
  );
  const json = await readJson(ws);
  assert.deepEqual(Object.keys(json), ["version", "owner", "loops", "trailer"]);
  assert.equal(json.version, 3);
  assert.deepEqual(json.owner, { name: "ralph" });
  assert.equal(json.trailer, true);
  assert.deepEqual(json.loops[0], {
    ...rawEntry("loop-1-keep", 4001),
    color: "blue",
    tags: ["a", 1],
    worktree_path: null,
  });
  assert.deepEqual(json.loops.map((e) => e.id), ["loop-1-keep", "loop-1-new0"]);
});

Deno.test("an empty or whitespace-only file is an empty registry", async (t) => {
  for (const content of ["", "   ", "\n\t \r\n"]) {
    await t.step(JSON.stringify(content), async () => {
      await using ws = await tempWorkspace();
      await writeRegistry(ws, content);
      const registry = new LoopRegistry(ws.path);
      assert.deepEqual(await registry.list(), []);
      assert.equal(await Deno.readTextFile(ws.file), content);
      const id = await registry.register(
        createLoopEntry("p", { workspace: ws.path }),
      );
      assert.deepEqual(await fileIds(ws), [id]);
    });
  }
});

Deno.test("a file without a loops key is an empty registry", async () => {
  await using ws = await tempWorkspace();
  await writeRegistry(ws, '{"other": 1}');
  const registry = new LoopRegistry(ws.path);
  assert.deepEqual(await registry.list(), []);
  const id = await registry.register(
    createLoopEntry("p", { workspace: ws.path }),
  );
  const json = await readJson(ws);
  assert.equal(json.other, 1);
  assert.deepEqual(json.loops.map((e) => e.id), [id]);
});

Deno.test("deregisterCurrentProcess() removes this process's entries", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path, { env: aliveEnv });
  await writeRegistry(
    ws,
    JSON.stringify({
      loops: [
        rawEntry("mine-1", Deno.pid),
        rawEntry("other", 4001),
        rawEntry("mine-2", Deno.pid),
      ],
    }),
  );
  assert.equal(await registry.deregisterCurrentProcess(), true);
  assert.deepEqual(await fileIds(ws), ["other"]);
  assert.equal(await registry.deregisterCurrentProcess(), false);
  assert.equal(registry.deregisterCurrentProcessSync(), false);
});

Deno.test("sync twins read and write the same registry", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path);
  const id = registry.registerSync(
    createLoopEntry("sync", { workspace: ws.path }),
  );
  assert.equal((await registry.get(id))?.prompt, "sync");
  assert.equal(registry.listSync()[0]?.id, id);
  registry.deregisterSync(id);
  assert.equal(registry.getSync(id), undefined);
});

Deno.test("LoopRegistry() refuses a bad lockTimeoutMs", () => {
  for (const lockTimeoutMs of [-1, NaN, Infinity]) {
    assert.throws(() => new LoopRegistry("/ws", { lockTimeoutMs }), RangeError);
  }
});

Deno.test("generateLoopId() makes ralph-style ids", () => {
  const at = new Date("2026-11-30T13:16:33.999Z");
  const id = generateLoopId(at);
  assert.match(id, /^loop-1796044593-[0-9a-f]{4}$/);
  const ids = new Set(Array.from({ length: 50 }, () => generateLoopId(at)));
  assert.ok(ids.size > 1);
});

Deno.test("status follows the injected RegistryEnv", async (t) => {
  await using ws = await tempWorkspace();
  const liveness = new Map<number, "alive" | "dead" | "unknown">([
    [5001, "alive"],
    [5002, "dead"],
    [5003, "unknown"],
  ]);
  const env: RegistryEnv = {
    ...defaultRegistryEnv,
    probe: (pid) => liveness.get(pid) ?? "dead",
    identify: () => undefined,
    isDirectory: (path) => path === "/exists" ? true : undefined,
  };
  await writeRegistry(
    ws,
    JSON.stringify({
      loops: [
        rawEntry("alive", 5001, { worktree_path: "/exists" }),
        rawEntry("dead", 5002),
        rawEntry("unknown", 5003),
        rawEntry("unchecked-worktree", 5001, { worktree_path: "/no-read" }),
      ],
    }),
  );
  const registry = new LoopRegistry(ws.path, { env });
  await t.step("unknown is listed and never cleaned", async () => {
    assert.deepEqual((await registry.list()).map((e) => [e.id, e.status]), [
      ["alive", "running"],
      ["unknown", "unknown"],
      ["unchecked-worktree", "running"],
    ]);
    assert.equal(await registry.cleanStale(), 0);
    assert.deepEqual(await fileIds(ws), [
      "alive",
      "unknown",
      "unchecked-worktree",
    ]);
  });
  await t.step("a process that dies is cleaned on the next list", async () => {
    liveness.set(5001, "dead");
    assert.deepEqual((await registry.list()).map((e) => e.id), ["unknown"]);
    assert.deepEqual(await fileIds(ws), ["unknown"]);
  });
});

Deno.test("a recorded identity that differs from the live process is dead", async (t) => {
  await using ws = await tempWorkspace();
  await t.step("with an injected env (unit)", async () => {
    const calls: unknown[] = [];
    const env: RegistryEnv = {
      ...defaultRegistryEnv,
      probe: (pid, identity) => {
        calls.push([pid, identity]);
        return identity?.startTime === 111 ? "alive" : "dead";
      },
      identify: (pid) =>
        pid === 6001 ? { startTime: 111, bootId: "b" } : undefined,
    };
    const registry = new LoopRegistry(ws.path, { env });
    await registry.register(
      createLoopEntry("p", { id: "same", pid: 6001, workspace: "/ws" }),
    );
    // The identity was recorded in ralph-ignored fields.
    const [raw] = (await readJson(ws)).loops;
    assert.equal(raw?.pid_start_time, 111);
    assert.equal(raw?.boot_id, "b");
    assert.equal((await registry.get("same"))?.status, "running");
    assert.deepEqual(calls.at(-1), [6001, { startTime: 111, bootId: "b" }]);
    // Same pid, another process: recorded identity differs.
    const json = await readJson(ws);
    json.loops[0]!.pid_start_time = 222;
    await Deno.writeTextFile(ws.file, JSON.stringify(json));
    assert.deepEqual(await registry.list(), []);
    assert.deepEqual(await fileIds(ws), []);
  });

  await t.step("with real processes (child deno -A)", async () => {
    const sleeper = new Deno.Command("sleep", {
      args: ["30"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      // Registered under -A: identity recorded from /proc.
      const reg = await runOp(ws.path, ["register", "good", `${sleeper.pid}`]);
      assert.equal(reg.ok, "good", reg.stderr);
      const json = await readJson(ws);
      const good = json.loops.find((e) => e.id === "good")!;
      assert.ok(Number.isSafeInteger(good.pid_start_time), "start time");
      assert.match(good.boot_id as string, /^[0-9a-f-]{36}$/);
      json.loops.push(
        {
          ...good,
          id: "reused",
          pid_start_time: 1 + Number(good.pid_start_time),
        },
        {
          ...good,
          id: "reboot",
          boot_id: "00000000-0000-0000-0000-000000000000",
        },
        {
          ...good,
          id: "no-identity",
          pid_start_time: undefined,
          boot_id: undefined,
        },
      );
      await Deno.writeTextFile(ws.file, JSON.stringify(json, null, 2));

      // This test process has no -A: it cannot read its own pid namespace,
      // so entries that record one are unknown, never "reused" or cleaned.
      const here = await new LoopRegistry(ws.path).list();
      assert.deepEqual(here.map((e) => [e.id, e.status]), [
        ["good", "unknown"],
        ["reused", "unknown"],
        ["reboot", "unknown"],
        ["no-identity", "unknown"],
      ]);
      assert.equal(await fileIds(ws).then((ids) => ids.length), 4);

      // With -A the mismatching identities are dead and cleaned.
      const listed = await runOp(ws.path, ["list"]);
      assert.deepEqual(
        listed.ok?.map((e: { id: string; status: string }) => [e.id, e.status]),
        [["good", "running"], ["no-identity", "running"]],
        listed.stderr,
      );
      assert.deepEqual(await fileIds(ws), ["good", "no-identity"]);
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
    }
  });
});

Deno.test("claim() deregisters when disposed with await using", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path);
  let id: string;
  {
    await using loop = await registry.claim("claimed", {
      handleSignals: false,
      worktreePath: ws.path,
    });
    id = loop.id;
    assert.equal(loop.entry.pid, Deno.pid);
    assert.equal(loop.entry.worktreePath, ws.path);
    assert.equal((await registry.get(id))?.status, "running");
  }
  assert.equal(await registry.get(id), undefined);
  assert.deepEqual(await fileIds(ws), []);
});

Deno.test("claim() release is idempotent and tolerates a removed entry", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path);
  const loop = await registry.claim("t", { handleSignals: false, id: "c-1" });
  await registry.deregister("c-1");
  assert.equal(await loop.release(), false);
  assert.equal(loop.releaseSync(), false);
  {
    using sync = await registry.claim("t", { handleSignals: false });
    assert.equal(registry.listSync().length, 1);
    assert.ok(sync.id);
  }
  assert.deepEqual(registry.listSync(), []);
});

Deno.test("claim() in a child deregisters on SIGTERM and SIGINT", async (t) => {
  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    await t.step(signal, async () => {
      await using ws = await tempWorkspace();
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--no-config",
          "--allow-read",
          "--allow-write",
          new URL("../fixtures/registry_op.ts", import.meta.url).pathname,
          ws.path,
          "real",
          "claim",
          "claimed-1",
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = child.stderr.text();
      const out = lines(child.stdout);
      try {
        const first = await out.next();
        assert.deepEqual(JSON.parse(first.value ?? "null"), {
          ok: "claimed-1",
        });
        const registry = new LoopRegistry(ws.path);
        assert.equal((await registry.get("claimed-1"))?.pid, child.pid);
        child.kill(signal);
        const status = await child.status;
        assert.equal(status.code, code, await stderr);
        assert.deepEqual(await fileIds(ws), []);
      } finally {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already exited.
        }
        for await (const _ of out) { /* drain */ }
        await child.status;
        await stderr;
      }
    });
  }
});

Deno.test("claim() in a child deregisters on a normal exit (unload)", async () => {
  await using ws = await tempWorkspace();
  const result = await runOp(ws.path, ["claim-exit", "claimed-2"], {
    flags: ["--allow-read", "--allow-write"],
  });
  assert.equal(result.ok, "claimed-2", result.stderr);
  assert.equal(result.code, 0);
  // The file was written (the claim registered) and then emptied again.
  assert.deepEqual(await readJson(ws), { loops: [] });
});

Deno.test("claim() removes its signal handlers when released", async () => {
  await using ws = await tempWorkspace();
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-config",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      new URL("../fixtures/registry_op.ts", import.meta.url).pathname,
      ws.path,
      "real",
      "claim-release-term",
      "claimed-3",
    ],
    stdin: "null",
  }).output();
  // Killed by the signal itself, not exited by a leftover handler.
  assert.equal(child.signal, "SIGTERM", new TextDecoder().decode(child.stdout));
  assert.deepEqual(await readJson(ws), { loops: [] });
});

Deno.test("LoopRegistry() takes a file: URL and refuses other URLs", () => {
  const registry = new LoopRegistry(new URL("file:///tmp/some%20ws"));
  assert.equal(registry.workspace, "/tmp/some ws");
  assert.equal(registry.path, "/tmp/some ws/.ralph/loops.json");
  assert.throws(
    () => new LoopRegistry(new URL("https://example.com/ws")),
    TypeError,
  );
});

Deno.test("watch() sees a registry created after it started, without polling", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path);
  const controller = new AbortController();
  // Liveness refresh far off: only the file-system watch can report it.
  const guard = setTimeout(() => controller.abort(), 20_000);
  const seen: string[][] = [];
  try {
    for await (
      const loops of registry.watch({
        signal: controller.signal,
        intervalMs: 600_000,
      })
    ) {
      seen.push(loops.map((e) => e.id));
      if (seen.length === 1) {
        await registry.register(
          createLoopEntry("w", { id: "w", workspace: ws.path }),
        );
      } else {
        controller.abort();
      }
    }
  } finally {
    clearTimeout(guard);
  }
  assert.deepEqual(seen, [[], ["w"]]);
});

Deno.test("a re-read decodes again when one byte changed, and returns copies", async () => {
  await using ws = await tempWorkspace();
  const registry = new LoopRegistry(ws.path, { env: aliveEnv });
  const entry = (prompt: string) =>
    rawEntry("loop-1-abcd", 4242, { prompt, host_id: "h1", pid_ns: 7 });
  await writeRegistry(ws, JSON.stringify({ loops: [entry("first")] }));
  const [first] = await registry.list();
  assert.equal(first?.prompt, "first");
  // Changing what a call returned changes nothing the next call sees.
  first!.origin!.hostId = "changed";
  first!.prompt = "changed";
  const [again] = await registry.list();
  assert.equal(again?.origin?.hostId, "h1");
  assert.equal(again?.prompt, "first");
  const inspected = await registry.inspect("loop-1-abcd");
  inspected!.origin!.pidNamespace = 8;
  assert.equal((await registry.get("loop-1-abcd"))?.origin?.pidNamespace, 7);
  // Another writer changes one byte, the size unchanged: seen at once,
  // however the reads' buffers are reused (each content twice in a row).
  for (const prompt of ["firsT", "first", "firsT", "fIrst", "first"]) {
    await writeRegistry(ws, JSON.stringify({ loops: [entry(prompt)] }));
    assert.equal((await registry.list())[0]?.prompt, prompt);
    assert.equal(registry.listSync()[0]?.prompt, prompt);
    assert.equal((await registry.get("loop-1-abcd"))?.prompt, prompt);
  }
  await writeRegistry(ws, JSON.stringify({ loops: [entry("firsT")] }));
  // And a change through the registry itself.
  await registry.deregister("loop-1-abcd");
  assert.deepEqual(await registry.list(), []);
});

Deno.test("a registry that reuses what it wrote lists what a fresh one decodes", async () => {
  await using ws = await tempWorkspace();
  // Unknown fields, at the top and in an entry, are kept by every write.
  await writeRegistry(
    ws,
    JSON.stringify({
      version: 3,
      loops: [rawEntry("loop-0-keep", 4242, { extra: { deep: [1, 2] } })],
    }),
  );
  const warm = new LoopRegistry(ws.path, { env: aliveEnv });
  const cold = () => new LoopRegistry(ws.path, { env: aliveEnv });
  const entries = [
    createLoopEntry("plain", { id: "loop-1-aaaa", pid: 4301, workspace: "/w" }),
    {
      ...createLoopEntry("odd", { id: "loop-2-bbbb", pid: 4302 }),
      // Written as no origin (an empty host id), read back as none.
      origin: { hostId: "", hostname: "x" },
      identity: { startTime: 77, bootId: "b00t" },
      worktreePath: "wt/rel",
    },
    {
      ...createLoopEntry("placed", { id: "loop-3-cccc", pid: 4303 }),
      origin: { hostId: "h", pidNamespace: 1.5 },
    },
  ];
  const same = async (step: string) => {
    assert.deepEqual(await warm.list(), await cold().list(), step);
    assert.deepEqual(warm.listSync(), cold().listSync(), step);
    for (const id of ["loop-2-bbbb", "loop-3-cccc"]) {
      assert.deepEqual(await warm.inspect(id), await cold().inspect(id), step);
    }
  };
  for (const entry of entries) {
    await warm.register(entry);
    await same(`after register ${entry.id}`);
  }
  assert.equal((await warm.get("loop-2-bbbb"))?.origin, undefined);
  assert.deepEqual((await warm.get("loop-3-cccc"))?.origin, { hostId: "h" });
  await warm.deregister("loop-1-aaaa");
  await same("after deregister");
  warm.registerSync(entries[0]!);
  await same("after registerSync");
  const file = JSON.parse(await Deno.readTextFile(ws.file));
  assert.equal(file.version, 3);
  assert.deepEqual(file.loops[0].extra, { deep: [1, 2] });
});
