import assert from "node:assert/strict";
import { CorruptRegistryError } from "../../mod.ts";

import {
  fileIds,
  rawEntry,
  readJson,
  tempWorkspace,
  writeRegistry,
} from "../_helpers/core.ts";
import { fake, registry, snapshot } from "../_helpers/store.ts";

const A = rawEntry("a", 7001);
const B = rawEntry("b", 7002);
const C = rawEntry("c", 7003);

function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

Deno.test("repair() of unreadable bytes copies them aside and starts empty", async () => {
  await using ws = await tempWorkspace();
  await writeRegistry(ws, "{oops, not json");
  const mode = (await Deno.stat(ws.file)).mode! & 0o777;
  const aside = await registry(ws).repair();
  assert.ok(aside);
  assert.match(
    aside,
    /\/\.ralph\/loops\.json\.corrupt-\d{4}-\d\d-\d\dT\d{6}(\.\d+)?Z$/,
  );
  assert.equal(await Deno.readTextFile(aside), "{oops, not json");
  // The copy holds the registry's bytes: loops.json's mode, no wider.
  assert.equal((await Deno.stat(aside)).mode! & 0o777, mode);
  assert.equal(
    (await Deno.readTextFile(ws.file)).trimEnd(),
    '{\n  "loops": []\n}',
  );
  const id = await registry(ws).register(fake("after", 7001));
  assert.deepEqual(await fileIds(ws), [id]);
});

Deno.test("repair() salvages every entry that still decodes", async (t) => {
  const cases: [string, string, string[]][] = [
    [
      "a file cut mid-entry keeps the entries before the cut",
      pretty({ loops: [A, B, C] }).slice(
        0,
        pretty({ loops: [A, B, C] }).length - 40,
      ),
      ["a", "b"],
    ],
    [
      "a file cut inside a string",
      pretty({ loops: [A, B] }).replace(/"prompt of b".*$/s, '"prompt of'),
      ["a"],
    ],
    [
      "an entry with a wrong field is dropped, the others kept",
      pretty({ loops: [A, { ...B, pid: "7002" }, C] }),
      ["a", "c"],
    ],
    [
      "an entry that is not an object is dropped",
      pretty({ loops: [A, 42, "x", null, [1], C] }),
      ["a", "c"],
    ],
    [
      "trailing garbage is ignored",
      pretty({ loops: [A, B] }) + "\n}}garbage{",
      ["a", "b"],
    ],
    [
      "garbage between entries is skipped",
      `{"loops": [${JSON.stringify(A)}, @@#!, ${JSON.stringify(C)}]}`,
      ["a", "c"],
    ],
    [
      "a duplicate id keeps the first entry",
      pretty({ loops: [A, { ...A, prompt: "second" }, { id: 3 }, B] }),
      ["a", "b"],
    ],
    [
      "a top-level array of entries",
      JSON.stringify([A, B]),
      ["a", "b"],
    ],
    [
      "a wrongly typed loops keeps nothing but the rest",
      JSON.stringify({ loops: { a: A }, other: 1 }),
      [],
    ],
  ];
  for (const [name, text, ids] of cases) {
    await t.step(name, async () => {
      await using ws = await tempWorkspace();
      await writeRegistry(ws, text);
      // A normal read refuses the file, untouched.
      await assert.rejects(registry(ws).list(), CorruptRegistryError);
      const aside = await registry(ws).repair();
      assert.ok(aside);
      assert.equal(await Deno.readTextFile(aside), text);
      assert.deepEqual(await fileIds(ws), ids);
      assert.deepEqual((await registry(ws).list()).map((e) => e.id), ids);
    });
  }
  await t.step("invalid UTF-8 inside one entry drops that entry", async () => {
    await using ws = await tempWorkspace();
    const text = JSON.stringify({ loops: [A, { ...B, prompt: "\u0000" }, C] });
    const bytes = new TextEncoder().encode(text.replace("\\u0000", "\u0001"));
    bytes[bytes.indexOf(1)] = 0xff;
    await writeRegistry(ws, bytes);
    await assert.rejects(registry(ws).list(), CorruptRegistryError);
    await registry(ws).repair();
    assert.deepEqual(await fileIds(ws), ["a", "c"]);
  });
  await t.step("top-level fields that decode are kept", async () => {
    await using ws = await tempWorkspace();
    const text = `{"version": 3, "loops": [${JSON.stringify(A)}, {"id": 1}], ` +
      `"extra": {"k": [1, 2]}, "cut": [1, 2`;
    await writeRegistry(ws, text);
    await registry(ws).repair();
    const json = await readJson(ws);
    assert.deepEqual(Object.keys(json), ["version", "loops", "extra"]);
    assert.equal(json.version, 3);
    assert.deepEqual(json.extra, { k: [1, 2] });
    assert.deepEqual(json.loops.map((e) => e.id), ["a"]);
  });
  await t.step(
    "an entry nested too deeply to write back is dropped",
    async () => {
      await using ws = await tempWorkspace();
      const deep = "[".repeat(20_000) + "]".repeat(20_000);
      const text = `{"loops": [${JSON.stringify(A)}, ` +
        `${JSON.stringify({ ...B, deep: 0 }).replace("0}", `${deep}}`)}]}`;
      await writeRegistry(ws, text);
      // It reads, but cannot be written back: a change refuses it.
      await assert.rejects(
        registry(ws).register(fake("new", 7009)),
        (error: unknown) =>
          error instanceof CorruptRegistryError && error.kind === "too-deep",
      );
      await registry(ws).repair();
      assert.deepEqual(await fileIds(ws), ["a"]);
    },
  );
});

Deno.test("repair() leaves a healthy registry and a missing one as they are", async (t) => {
  await t.step("healthy", async () => {
    await using ws = await tempWorkspace();
    await registry(ws).register(fake("a", 7001));
    const before = await snapshot(ws.file);
    assert.equal(await registry(ws).repair(), undefined);
    assert.equal(registry(ws).repairSync(), undefined);
    assert.deepEqual(await snapshot(ws.file), before);
  });
  await t.step("missing: nothing is created", async () => {
    await using ws = await tempWorkspace();
    assert.equal(await registry(ws).repair(), undefined);
    await assert.rejects(Deno.lstat(ws.dir), Deno.errors.NotFound);
  });
});

Deno.test("repair() moves a FIFO or link in the journal's place aside; the next write works", async (t) => {
  for (const kind of ["fifo", "symlink", "directory"] as const) {
    await t.step(kind, async () => {
      await using ws = await tempWorkspace();
      await registry(ws).register(fake("a", 7001));
      await Deno.remove(ws.journal);
      const target = `${ws.path}/target`;
      await Deno.writeTextFile(target, "untouched");
      if (kind === "fifo") {
        const made = await new Deno.Command("mkfifo", { args: [ws.journal] })
          .output();
        assert.ok(made.success);
      } else if (kind === "symlink") {
        await Deno.symlink(target, ws.journal);
      } else await Deno.mkdir(ws.journal);
      // A change refuses it, naming repair as the fix.
      await assert.rejects(
        registry(ws).register(fake("b", 7002)),
        (error: unknown) => {
          assert.ok(error instanceof CorruptRegistryError, String(error));
          assert.match(error.message, /loops repair/);
          return true;
        },
      );
      const aside = await registry(ws).repair();
      assert.ok(aside?.startsWith(`${ws.journal}.corrupt-`), aside);
      await registry(ws).register(fake("b", 7002));
      assert.deepEqual(await fileIds(ws), ["a", "b"]);
      assert.equal(await Deno.readTextFile(target), "untouched");
    });
  }
});

Deno.test("repair() refuses what it cannot fix, and its errors do not advise it", async (t) => {
  const cannot = (error: unknown) => {
    assert.ok(error instanceof CorruptRegistryError, String(error));
    assert.doesNotMatch(error.message, /loops repair/);
    return true;
  };
  await t.step("a symlinked .ralph", async () => {
    await using ws = await tempWorkspace();
    await Deno.mkdir(`${ws.path}/real`);
    await Deno.symlink(`${ws.path}/real`, ws.dir);
    await assert.rejects(registry(ws).list(), cannot);
    await assert.rejects(registry(ws).repair(), cannot);
  });
  await t.step("a symlinked loops.json", async () => {
    await using ws = await tempWorkspace();
    await Deno.mkdir(ws.dir);
    await Deno.writeTextFile(`${ws.path}/real.json`, '{"loops": []}');
    await Deno.symlink(`${ws.path}/real.json`, ws.file);
    await assert.rejects(registry(ws).list(), cannot);
    await assert.rejects(registry(ws).repair(), cannot);
    assert.equal(
      await Deno.readTextFile(`${ws.path}/real.json`),
      '{"loops": []}',
    );
  });
  await t.step(".ralph is a file", async () => {
    await using ws = await tempWorkspace();
    await Deno.writeTextFile(ws.dir, "not a directory");
    await assert.rejects(registry(ws).list(), cannot);
    await assert.rejects(registry(ws).repair(), cannot);
  });
});

Deno.test("a corrupt registry's error advises repair", async () => {
  await using ws = await tempWorkspace();
  await writeRegistry(ws, pretty({ loops: [A, { id: 3 }] }));
  await assert.rejects(registry(ws).list(), (error: unknown) => {
    assert.ok(error instanceof CorruptRegistryError);
    assert.equal(error.kind, "bad-entry");
    assert.match(error.message, /loops repair.*keep the entries/);
    return true;
  });
});
