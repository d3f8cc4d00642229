import assert from "node:assert/strict";
import {
  CorruptRegistryError,
  createLoopEntry,
  type LoopEntry,
  LoopRegistry,
} from "../../mod.ts";
import { WRITE_HOOK, type WriteHook } from "../../src/_durable_write.ts";
import {
  checksum,
  effectiveContent,
  isTornWrite,
  parseJournal,
} from "../../src/_journal.ts";
import {
  aliveEnv,
  fileIds,
  lines,
  rawEntry,
  runOp,
  type TempWorkspace,
  tempWorkspace,
  writeRegistry,
} from "../_helpers/core.ts";

type Step = Parameters<WriteHook>[0];
const STEPS: Step[] = ["journal", "write", "truncate", "sync", "done"];
const encoder = new TextEncoder();

function fake(id: string, pid: number, prompt = `prompt ${id}`): LoopEntry {
  return createLoopEntry(prompt, { id, pid, workspace: "/ws" });
}

function registry(ws: TempWorkspace, hook?: WriteHook): LoopRegistry {
  return new LoopRegistry(ws.path, {
    env: aliveEnv,
    ...(hook ? { [WRITE_HOOK]: hook } : {}),
  });
}

async function snapshot(path: string) {
  const info = await Deno.lstat(path);
  return {
    bytes: await Deno.readFile(path),
    mtime: info.mtime?.getTime(),
    ino: info.ino,
  };
}

/** All calls on `ws` are refused with CorruptRegistryError naming the file. */
async function assertAllRefused(
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

// ---------------------------------------------------------------- pure parts

/** Every state an interrupted in-place write of `after` over `before` leaves. */
function tornStates(before: Uint8Array, after: Uint8Array): Uint8Array[] {
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
function spliced(before: Uint8Array, after: Uint8Array): Uint8Array {
  const k = new TextDecoder().decode(after).trimEnd().length;
  const state = before.slice();
  state.set(after.subarray(0, k));
  return state;
}

/** Whether the journal holds no record (emptied, or its header cleared). */
async function journalCleared(path: string): Promise<boolean> {
  const bytes = await Deno.readFile(path);
  return bytes.length === 0 || bytes.subarray(0, 16).every((b) => b === 0);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

Deno.test("isTornWrite() recognizes exactly the torn states", async (t) => {
  const before = encoder.encode(
    JSON.stringify({ loops: [rawEntry("a", 1)] }, null, 2),
  );
  const grown = encoder.encode(
    JSON.stringify({ loops: [rawEntry("a", 1), rawEntry("b", 2)] }, null, 2),
  );
  const shrunk = encoder.encode(JSON.stringify({ loops: [] }, null, 2));
  for (const [name, after] of [["grow", grown], ["shrink", shrunk]] as const) {
    await t.step(name, () => {
      for (const state of tornStates(before, after)) {
        const torn = !equal(state, before) && !equal(state, after);
        assert.equal(isTornWrite(state, before, after), torn);
      }
    });
  }
  await t.step("foreign content is not torn", () => {
    const foreign = encoder.encode(
      JSON.stringify({ loops: [rawEntry("z", 9)] }, null, 2),
    );
    assert.equal(isTornWrite(foreign, before, grown), false);
    assert.equal(isTornWrite(new Uint8Array(), before, grown), false);
    // Same length as before, but not after-prefix + before-suffix.
    const scrambled = before.slice().reverse();
    assert.equal(isTornWrite(scrambled, before, grown), false);
  });
});

function journalBytes(
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

Deno.test("checksum() tells apart what a torn or damaged record differs in", () => {
  const a = encoder.encode("0123456789abcdef0123");
  const sums = new Set<number>();
  sums.add(checksum(a));
  for (let i = 0; i < a.length; i++) {
    const flipped = a.slice();
    flipped[i] = flipped[i]! ^ 1;
    sums.add(checksum(flipped));
  }
  sums.add(checksum(a.subarray(0, a.length - 1)));
  sums.add(checksum(new Uint8Array([...a, 0])));
  assert.equal(sums.size, a.length + 3);
  // Unaligned views hash like the same bytes aligned.
  const wide = new Uint8Array([9, ...a]);
  assert.equal(checksum(wide.subarray(1)), checksum(a));
});

Deno.test("parseJournal() accepts a valid journal only", () => {
  const before = encoder.encode("old");
  const after = encoder.encode("new!");
  const parsed = parseJournal(journalBytes(before, after));
  assert.deepEqual(parsed && [...parsed.before], [...before]);
  assert.deepEqual(parsed && [...parsed.after], [...after]);
  assert.equal(parseJournal(journalBytes(before, after, 1)), undefined);
  const valid = journalBytes(before, after);
  assert.equal(parseJournal(valid.subarray(0, valid.length - 1)), undefined);
  assert.equal(parseJournal(encoder.encode("garbage\n")), undefined);
  assert.equal(parseJournal(new Uint8Array()), undefined);
  // effectiveContent() rolls a torn state forward with a valid journal only.
  const torn = encoder.encode("ned"); // "ne" of the new + "d" of the old
  assert.deepEqual(effectiveContent(torn, valid), { bytes: after, torn: true });
  const bad = effectiveContent(torn, journalBytes(before, after, 1));
  assert.deepEqual(bad, { bytes: torn, torn: false });
  assert.equal(effectiveContent(torn, undefined).torn, false);
  // Not a torn shape: left alone.
  assert.equal(effectiveContent(encoder.encode("nel"), valid).torn, false);
});

// ------------------------------------------------------------- bad input

Deno.test("a corrupt file is refused, named, and left untouched", async (t) => {
  for (
    const [name, content, pattern] of [
      ["not JSON", "{oops", /not valid JSON/],
      ["truncated JSON", '{"loops": [{"id": "a", "pid"', /not valid JSON/],
      ["not UTF-8", new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]), /UTF-8/],
      ["array", "[]", /top level/],
      [
        "entry of wrong shape",
        JSON.stringify({ loops: [rawEntry("e", 1, { pid: "1" })] }),
        /entry 0 \(id "e"\) has "pid"/,
      ],
      [
        "entry missing a field",
        JSON.stringify({
          loops: [rawEntry("ok", 1), rawEntry("m", 2, { prompt: undefined })],
        }),
        /entry 1 \(id "m"\) has "prompt"/,
      ],
    ] as const
  ) {
    await t.step(name, async () => {
      await using ws = await tempWorkspace();
      await writeRegistry(ws, content);
      const before = await snapshot(ws.file);
      await assertAllRefused(ws, ws.file, pattern);
      assert.deepEqual(await snapshot(ws.file), before);
      // No journal or side file was left behind.
      const names = [];
      for await (const e of Deno.readDir(ws.dir)) names.push(e.name);
      assert.deepEqual(names, ["loops.json"]);
    });
  }
});

Deno.test("a symlinked loops.json is refused and its target untouched", async () => {
  await using ws = await tempWorkspace();
  await Deno.mkdir(ws.dir);
  const target = `${ws.path}/elsewhere.json`;
  const content = JSON.stringify({ loops: [rawEntry("a", 1)] });
  await Deno.writeTextFile(target, content);
  await Deno.symlink(target, ws.file);
  await assertAllRefused(ws, ws.file, /symbolic link/);
  await assert.rejects(registry(ws).repair(), CorruptRegistryError);
  assert.equal(await Deno.readTextFile(target), content);
  assert.ok((await Deno.lstat(ws.file)).isSymlink);
});

Deno.test("a symlinked .ralph is refused and its target untouched", async () => {
  await using ws = await tempWorkspace();
  const target = `${ws.path}/real_dir`;
  await Deno.mkdir(target);
  await Deno.symlink(target, ws.dir);
  await assertAllRefused(ws, ws.dir, /symbolic link/);
  // Nothing was created through the link.
  assert.deepEqual(await Array.fromAsync(Deno.readDir(target)), []);
});

Deno.test("a directory in place of loops.json is refused", async () => {
  await using ws = await tempWorkspace();
  await Deno.mkdir(ws.file, { recursive: true });
  await assertAllRefused(ws, ws.file, /not a regular file/);
  const aside = await registry(ws).repair();
  assert.ok(aside && (await Deno.lstat(aside)).isDirectory);
  assert.deepEqual(await registry(ws).list(), []);
});

Deno.test("a registry over 16 MiB is refused with its bytes untouched", async () => {
  await using ws = await tempWorkspace();
  const pad = "x".repeat(16 * 1024 * 1024);
  const content = JSON.stringify({ loops: [rawEntry("a", 1)], pad });
  await writeRegistry(ws, content);
  const before = await snapshot(ws.file);
  assert.ok(before.bytes.length > 16 * 1024 * 1024);
  await assertAllRefused(ws, ws.file, /16 MiB/);
  assert.deepEqual(await snapshot(ws.file), before);
  // repair() moves it aside whole.
  const aside = await registry(ws).repair();
  assert.ok(aside);
  assert.equal((await Deno.stat(aside)).size, before.bytes.length);
  assert.deepEqual(await registry(ws).list(), []);
});

Deno.test("a registration that would pass 16 MiB is refused", async () => {
  await using ws = await tempWorkspace();
  const pad = "x".repeat(16 * 1024 * 1024 - 400);
  await writeRegistry(ws, JSON.stringify({ loops: [], pad }));
  const before = await snapshot(ws.file);
  await assert.rejects(
    registry(ws).register(fake("big", 7001, "p".repeat(1000))),
    RangeError,
  );
  assert.deepEqual(await snapshot(ws.file), before);
});

Deno.test("repair() moves bad bytes aside and starts empty", async (t) => {
  await t.step("corrupt", async () => {
    await using ws = await tempWorkspace();
    await writeRegistry(ws, "{oops, not json");
    const aside = await registry(ws).repair();
    assert.ok(aside);
    assert.match(
      aside,
      /\/\.ralph\/loops\.json\.corrupt-\d{4}-\d\d-\d\dT\d{6}(\.\d+)?Z$/,
    );
    assert.equal(await Deno.readTextFile(aside), "{oops, not json");
    assert.equal((await Deno.stat(aside)).mode! & 0o777, 0o600);
    assert.equal(
      (await Deno.readTextFile(ws.file)).trimEnd(),
      '{\n  "loops": []\n}',
    );
    const id = await registry(ws).register(fake("after", 7001));
    assert.deepEqual(await fileIds(ws), [id]);
  });
  await t.step("healthy registry is left as it is", async () => {
    await using ws = await tempWorkspace();
    await registry(ws).register(fake("a", 7001));
    const before = await snapshot(ws.file);
    assert.equal(await registry(ws).repair(), undefined);
    assert.equal(registry(ws).repairSync(), undefined);
    assert.deepEqual(await snapshot(ws.file), before);
  });
  await t.step("missing registry", async () => {
    await using ws = await tempWorkspace();
    assert.equal(await registry(ws).repair(), undefined);
  });
});

// --------------------------------------------------------- torn and journal

/** Runs `change` with a hook that copies the journal, then aborts it. */
async function captureJournal(
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

Deno.test("a torn write is rolled forward from the journal", async (t) => {
  for (
    const [name, change, expected] of [
      ["grow", (r: LoopRegistry) => r.register(fake("c", 7003)), [
        "a",
        "b",
        "c",
      ]],
      ["shrink", (r: LoopRegistry) => r.deregister("a"), ["b"]],
    ] as const
  ) {
    await t.step(name, async () => {
      await using ws = await tempWorkspace();
      await registry(ws).register(fake("a", 7001));
      await registry(ws).register(fake("b", 7002));
      const journal = await captureJournal(ws, change);
      const parsed = parseJournal(journal)!;
      assert.ok(parsed, "journal parses");
      assert.deepEqual([...parsed.before], [...await Deno.readFile(ws.file)]);
      const states = tornStates(parsed.before, parsed.after).filter((s) =>
        !equal(s, parsed.before) && !equal(s, parsed.after)
      );
      // Through the real registry for a spread of cut points.
      const picks = states.filter((_, i) =>
        i % 13 === 0 || i === states.length - 1
      );
      for (const state of picks) {
        await Deno.writeFile(ws.file, state);
        await Deno.writeFile(ws.journal, journal);
        // A reader with write permission rolls forward and empties the
        // journal.
        const listed = await registry(ws).list();
        assert.deepEqual(listed.map((e) => e.id), expected);
        assert.deepEqual([...await Deno.readFile(ws.file)], [...parsed.after]);
        assert.equal(await journalCleared(ws.journal), true);
      }
      // A change on a torn file applies to the rolled-forward content.
      await Deno.writeFile(ws.file, states[0]!);
      await Deno.writeFile(ws.journal, journal);
      await registry(ws).register(fake("d", 7004));
      assert.deepEqual(await fileIds(ws), [...expected, "d"]);
    });
  }
});

Deno.test("a foreign rewrite after a left journal is not rolled back", async () => {
  await using ws = await tempWorkspace();
  await registry(ws).register(fake("a", 7001));
  const journal = await captureJournal(ws, (r) => r.register(fake("b", 7002)));
  // ralph (or an editor) rewrites the file, knowing nothing of the journal.
  const foreign = JSON.stringify(
    { loops: [rawEntry("a", 7001), rawEntry("ralph", 7009)] },
    null,
    2,
  );
  await Deno.writeTextFile(ws.file, foreign);
  assert.ok((await Deno.stat(ws.journal)).size > 0);
  assert.equal((await Deno.readFile(ws.journal)).length, journal.length);
  assert.deepEqual((await registry(ws).list()).map((e) => e.id), [
    "a",
    "ralph",
  ]);
  assert.equal(await Deno.readTextFile(ws.file), foreign);
  await registry(ws).register(fake("c", 7003));
  assert.deepEqual(await fileIds(ws), ["a", "ralph", "c"]);
});

Deno.test("a torn file with a bad journal is refused and untouched", async () => {
  await using ws = await tempWorkspace();
  await registry(ws).register(fake("a", 7001));
  const journal = await captureJournal(ws, (r) => r.deregister("a"));
  const parsed = parseJournal(journal)!;
  // The new content followed by the old tail: not JSON.
  const torn = spliced(parsed.before, parsed.after);
  await Deno.writeFile(ws.file, torn);
  const bad = journal.slice();
  bad[bad.length - 1] = bad.at(-1)! ^ 0xff; // checksum no longer matches
  await Deno.writeFile(ws.journal, bad);
  const before = await snapshot(ws.file);
  await assertAllRefused(ws, ws.file, /not valid JSON/);
  assert.deepEqual(await snapshot(ws.file), before);
  assert.deepEqual(await Deno.readFile(ws.journal), bad);
});

Deno.test("an editor replacing loops.json by rename is followed", async () => {
  await using ws = await tempWorkspace();
  await registry(ws).register(fake("a", 7001));
  const replacement = `${ws.dir}/loops.json.tmp`;
  await Deno.writeTextFile(
    replacement,
    JSON.stringify({ loops: [rawEntry("edited", 7005)] }),
  );
  await Deno.rename(replacement, ws.file);
  await registry(ws).register(fake("b", 7002));
  assert.deepEqual(await fileIds(ws), ["edited", "b"]);
});

// ----------------------------------------------------------- crash safety

async function seeded(ws: TempWorkspace): Promise<void> {
  await registry(ws).register(fake("a", 7001));
  await registry(ws).register(fake("b", 7002));
}

const CHANGES = [
  ["register (grow)", (r: LoopRegistry) => r.register(fake("c", 7003)), [
    "register",
    "c",
    "7003",
  ], ["a", "b", "c"]],
  ["deregister (shrink)", (r: LoopRegistry) => r.deregister("a"), [
    "deregister",
    "a",
  ], ["b"]],
] as const;

Deno.test("a crash at any write step leaves old or new content (hook throws)", async (t) => {
  for (const [name, change, , after] of CHANGES) {
    for (const at of STEPS) {
      await t.step(`${name} at ${at}`, async () => {
        await using ws = await tempWorkspace();
        await seeded(ws);
        const crash = new Error(`crash at ${at}`);
        await assert.rejects(
          change(registry(ws, (step) => {
            if (step === at) throw crash;
          })),
          (error) => error === crash,
        );
        // Before the in-place write the old content stands; from the write
        // on, the new one (rolled forward when the file is torn).
        const expected = at === "journal" ? ["a", "b"] : after;
        const r = registry(ws);
        assert.deepEqual((await r.list()).map((e) => e.id), expected);
        assert.deepEqual(r.listSync().map((e) => e.id), expected);
        assert.deepEqual(await fileIds(ws), expected);
        // The registry stays usable.
        await r.register(fake("z", 7026));
        assert.deepEqual(await fileIds(ws), [...expected, "z"]);
      });
    }
  }
});

Deno.test("a SIGKILL at any write step leaves old or new content (child)", async (t) => {
  for (const [name, , op, after] of CHANGES) {
    for (const at of STEPS) {
      await t.step(`${name} at ${at}`, async () => {
        await using ws = await tempWorkspace();
        await seeded(ws);
        const result = await runOp(ws.path, ["crash-at", at, ...op], {
          env: "alive",
          flags: ["--allow-read", "--allow-write"],
        });
        assert.equal(result.code, 137, result.stdout + result.stderr);
        assert.equal(result.stdout, "");
        const expected = at === "journal" ? ["a", "b"] : after;
        const r = registry(ws);
        assert.deepEqual((await r.get(expected[0]!))?.id, expected[0]);
        assert.deepEqual((await r.list()).map((e) => e.id), expected);
        assert.deepEqual(await fileIds(ws), expected);
      });
    }
  }
});

Deno.test("kill -9 at random instants loses no acknowledged change", async () => {
  await using ws = await tempWorkspace();
  const present = new Set<string>();
  const absent = new Set<string>();
  const maybe = new Set<string>();
  for (let run = 0; run < 6; run++) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-config",
        "--allow-read",
        "--allow-write",
        new URL("../fixtures/registry_worker.ts", import.meta.url).pathname,
        ws.path,
        "crash",
        `${run}`,
        "0",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const out = lines(child.stdout);
    const logged: string[] = [];
    try {
      // Once the child is working, kill it after a short random delay.
      const first = await out.next();
      if (!first.done) logged.push(first.value);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 60));
    } finally {
      child.kill("SIGKILL");
      for await (const line of out) logged.push(line);
      await child.status;
    }
    assert.ok(logged.length > 0);
    for (const line of logged) {
      const [sign, id] = line.split(" ") as [string, string];
      if (sign === "+") present.add(id);
      else {
        present.delete(id);
        absent.add(id);
      }
    }
    // The operation in flight when killed may or may not have landed.
    const last = logged.at(-1)!.split(" ");
    const i = Number(last[1]!.split("-")[1]);
    if (last[0] === "+" && i % 2 === 1) {
      present.delete(last[1]!);
      maybe.add(last[1]!);
    } else maybe.add(`k${run}-${i + 1}`);

    // The registry reads back, and holds every acknowledged change.
    const ids = new Set((await registry(ws).list()).map((e) => e.id));
    for (const id of present) assert.ok(ids.has(id), `lost ${id}`);
    for (const id of absent) assert.ok(!ids.has(id), `resurrected ${id}`);
    for (const id of ids) {
      assert.ok(present.has(id) || maybe.has(id), `unexpected ${id}`);
    }
    // Settle the in-flight entry for the next round.
    for (const id of maybe) {
      if (ids.has(id)) present.add(id);
      else absent.add(id);
    }
    maybe.clear();
  }
});

Deno.test("a hostile journal header is no record at all", async (t) => {
  for (
    const header of [
      "loops-journal-v2 -100 150 0",
      "loops-journal-v2 -500 100 0",
      "loops-journal-v2 1.5 2 0",
      "loops-journal-v2 99999999999 2 0",
      "loops-journal-v2 1 2",
      "loops-journal-v2 1 2 3 4",
    ]
  ) {
    await t.step(header, async () => {
      await using ws = await tempWorkspace();
      await registry(ws).register(fake("a", 7001));
      const before = await Deno.readFile(ws.file);
      await Deno.writeTextFile(ws.journal, `${header}\n${"x".repeat(300)}`);
      assert.deepEqual((await registry(ws).list()).map((e) => e.id), ["a"]);
      assert.deepEqual(await Deno.readFile(ws.file), before);
      assert.equal(
        parseJournal(new TextEncoder().encode(`${header}\n`)),
        undefined,
      );
    });
  }
});
