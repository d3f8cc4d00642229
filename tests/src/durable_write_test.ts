import assert from "node:assert/strict";
import type { LoopRegistry } from "../../mod.ts";

import { parseJournal } from "../../src/_journal.ts";
import { MAX_REGISTRY_BYTES } from "../../src/_lock.ts";
import {
  fileIds,
  lines,
  rawEntry,
  runOp,
  type TempWorkspace,
  tempWorkspace,
} from "../_helpers/core.ts";
import {
  assertAllRefused,
  captureJournal,
  equal,
  fake,
  journalCleared,
  registry,
  snapshot,
  spliced,
  STEPS,
  tornStates,
} from "../_helpers/store.ts";

Deno.test("a registration that would pass the 128 MiB bound is refused", async () => {
  await using ws = await tempWorkspace();
  await registry(ws).register(fake("a", 7001));
  const before = await snapshot(ws.file);
  await assert.rejects(
    registry(ws).register(fake("big", 7002, "p".repeat(MAX_REGISTRY_BYTES))),
    (error: unknown) =>
      error instanceof RangeError && /128 MiB bound/.test(error.message),
  );
  assert.deepEqual(await snapshot(ws.file), before);
});

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
