import assert from "node:assert/strict";
import {
  decodeRegistry,
  emptyDoc,
  encodeRegistry,
  entryToRaw,
  withEntry,
  withoutEntries,
} from "../../src/_codec.ts";
import { CorruptRegistryError, type CorruptRegistryKind } from "../../mod.ts";
import { rawEntry } from "../_helpers/core.ts";

const PATH = "/ws/.ralph/loops.json";
const encode = (value: unknown) =>
  new TextEncoder().encode(
    typeof value === "string" ? value : JSON.stringify(value),
  );
const decode = (value: unknown) => decodeRegistry(encode(value), PATH);

Deno.test("decodeRegistry() reads empty, whitespace and BOM files", () => {
  for (const text of ["", " ", "\n\r\t  \n"]) {
    assert.deepEqual(decode(text), emptyDoc());
  }
  const withBom = new Uint8Array([
    0xef,
    0xbb,
    0xbf,
    ...encode({ loops: [rawEntry("a", 1)] }),
  ]);
  assert.equal(decodeRegistry(withBom, PATH).entries[0]?.entry.id, "a");
  assert.deepEqual(decode({}).entries, []);
  assert.deepEqual(decode({ loops: [] }).entries, []);
});

Deno.test("decodeRegistry() maps snake_case to camelCase", () => {
  const doc = decode({
    loops: [
      rawEntry("a", 10, { worktree_path: "/wt" }),
      rawEntry("b", 11, { pid_start_time: 123, boot_id: "boot" }),
      rawEntry("c", 12, { worktree_path: null, pid_start_time: "x" }),
    ],
  });
  assert.deepEqual(doc.entries.map((e) => e.entry), [
    {
      id: "a",
      pid: 10,
      started: "2026-11-30T13:16:33.123Z",
      prompt: "prompt of a",
      workspace: "/ws",
      worktreePath: "/wt",
    },
    {
      id: "b",
      pid: 11,
      started: "2026-11-30T13:16:33.123Z",
      prompt: "prompt of b",
      workspace: "/ws",
      identity: { startTime: 123, bootId: "boot" },
    },
    // A null worktree is none; a malformed identity is no identity.
    {
      id: "c",
      pid: 12,
      started: "2026-11-30T13:16:33.123Z",
      prompt: "prompt of c",
      workspace: "/ws",
    },
  ]);
});

Deno.test("encodeRegistry() round-trips unknown fields", () => {
  const text = JSON.stringify(
    {
      schema: 2,
      loops: [rawEntry("a", 10, { extra: { deep: [1, null] }, z: "" })],
      after: "kept",
    },
    null,
    2,
  );
  const doc = decode(text);
  assert.equal(new TextDecoder().decode(encodeRegistry(doc)), text);
  // Through a change too: the kept entry and the top level keep everything.
  const changed = withEntry(doc, {
    id: "b",
    pid: 11,
    started: "2026-11-30T13:16:33.123Z",
    prompt: "p",
    workspace: "/ws",
  });
  const json = JSON.parse(new TextDecoder().decode(encodeRegistry(changed)));
  assert.deepEqual(Object.keys(json), ["schema", "loops", "after"]);
  assert.deepEqual(json.loops[0].extra, { deep: [1, null] });
  assert.equal(json.loops[0].z, "");
  assert.equal(json.loops[1].id, "b");
});

Deno.test("encodeRegistry() keeps a __proto__ field as data", () => {
  const text = '{"__proto__":{"x":1},"loops":[]}';
  const doc = decode(text);
  const out = JSON.parse(new TextDecoder().decode(encodeRegistry(doc)));
  assert.ok(Object.hasOwn(out, "__proto__"));
  assert.deepEqual(Object.getOwnPropertyDescriptor(out, "__proto__")?.value, {
    x: 1,
  });
});

Deno.test("entryToRaw() uses ralph's names and order, omits absent worktree", () => {
  const base = {
    id: "a",
    pid: 1,
    started: "2026-11-30T13:16:33.123Z",
    prompt: "p",
    workspace: "/ws",
  };
  assert.deepEqual(Object.keys(entryToRaw(base)), [
    "id",
    "pid",
    "started",
    "prompt",
    "workspace",
  ]);
  assert.deepEqual(
    Object.keys(
      entryToRaw({
        ...base,
        worktreePath: "/wt",
        identity: { startTime: 5, bootId: "b" },
      }),
    ),
    [
      "id",
      "pid",
      "started",
      "prompt",
      "worktree_path",
      "workspace",
      "pid_start_time",
      "boot_id",
    ],
  );
});

Deno.test("encodeRegistry() writes 2-space pretty JSON", () => {
  assert.equal(
    new TextDecoder().decode(encodeRegistry(emptyDoc())),
    '{\n  "loops": []\n}',
  );
});

Deno.test("withEntry() and withoutEntries() do not mutate their input", () => {
  const doc = decode({ loops: [rawEntry("a", 1), rawEntry("b", 2)] });
  const snapshot = structuredClone(doc);
  const fewer = withoutEntries(doc, (e) => e.id === "a");
  const more = withEntry(doc, { ...doc.entries[0]!.entry, id: "c" });
  assert.deepEqual(doc, snapshot);
  assert.deepEqual(fewer.entries.map((e) => e.entry.id), ["b"]);
  assert.deepEqual(more.entries.map((e) => e.entry.id), ["a", "b", "c"]);
});

function assertCorrupt(
  input: unknown,
  patterns: RegExp[],
  kind: CorruptRegistryKind,
  cause?: ErrorConstructor | TypeErrorConstructor | SyntaxErrorConstructor,
): void {
  assert.throws(
    () =>
      typeof input === "object" && input instanceof Uint8Array
        ? decodeRegistry(input, PATH)
        : decode(input),
    (error: unknown) => {
      assert.ok(error instanceof CorruptRegistryError, String(error));
      assert.equal(error.path, PATH);
      assert.ok(error.message.includes(`"${PATH}"`), error.message);
      for (const pattern of patterns) assert.match(error.message, pattern);
      assert.equal(error.kind, kind);
      // A cause only where there is a real underlying error: no made-up one.
      if (cause === undefined) assert.equal(error.cause, undefined);
      else assert.ok(error.cause instanceof cause, String(error.cause));
      return true;
    },
  );
}

Deno.test("decodeRegistry() refuses bad files naming file, entry and field", async (t) => {
  await t.step("not JSON", () => {
    assertCorrupt("{oops", [/not valid JSON/], "not-json", SyntaxError);
    assertCorrupt('{"loops": [}', [/not valid JSON/], "not-json", SyntaxError);
  });
  await t.step("not UTF-8", () => {
    assertCorrupt(
      new Uint8Array([0x7b, 0xff, 0x7d]),
      [/UTF-8/],
      "not-utf8",
      TypeError,
    );
  });
  await t.step("top level not an object", () => {
    assertCorrupt([], [/top level/], "bad-shape");
    assertCorrupt("null", [/top level/], "bad-shape");
    assertCorrupt("42", [/top level/], "bad-shape");
  });
  await t.step("loops not an array", () => {
    assertCorrupt({ loops: {} }, [/"loops" is not an array/], "bad-shape");
    assertCorrupt({ loops: "x" }, [/"loops"/], "bad-shape");
  });
  await t.step("entry not an object", () => {
    assertCorrupt({ loops: [rawEntry("a", 1), 7] }, [/entry 1\b/], "bad-entry");
    assertCorrupt({ loops: [null] }, [/entry 0\b/], "bad-entry");
  });
  for (
    const [field, value] of [
      ["id", 5],
      ["pid", "12"],
      ["pid", null],
      ["started", 0],
      ["prompt", ["x"]],
      ["workspace", undefined],
      ["worktree_path", 3],
    ] as const
  ) {
    await t.step(`entry field ${field} = ${JSON.stringify(value)}`, () => {
      const bad = rawEntry("bad-one", 2, { [field]: value });
      assertCorrupt(
        { loops: [rawEntry("ok", 1), bad] },
        field === "id"
          ? [/entry 1\b/, /"id"/]
          : [/entry 1 \(id "bad-one"\)/, new RegExp(`"${field}"`)],
        "bad-entry",
      );
    });
  }
});

Deno.test("encodeRegistry() writes exactly JSON.stringify(top, null, 2)", () => {
  const files: unknown[] = [
    {},
    { loops: [] },
    { loops: [rawEntry("a", 1)] },
    // loops first, last, between unknown fields; nested and odd values.
    {
      loops: [
        rawEntry("a", 1),
        rawEntry("b", 2, { deep: { x: [1, { y: 2 }] } }),
      ],
      version: 2,
    },
    {
      before: { list: [[], {}, "\n\u2028"] },
      loops: [rawEntry("c", 3, { empty: {}, none: [], text: 'é\u0000"' })],
      after: null,
    },
    // A field holding the slot's own text: written the plain way.
    { note: "\u0000loops\u0000", loops: [rawEntry("d", 4)] },
    { loops: [rawEntry("e", 5, { "\u0000loops\u0000": 1 })] },
  ];
  for (const file of files) {
    const doc = decodeRegistry(encode(file), PATH);
    const expected = JSON.stringify(
      { ...doc.top, loops: doc.entries.map((e) => e.raw) },
      null,
      2,
    );
    const text = new TextDecoder().decode(encodeRegistry(doc, PATH));
    assert.equal(text, expected, JSON.stringify(file));
    // Twice: the second time from the kept entry texts.
    const again = withEntry(doc, {
      id: "z",
      pid: 9,
      started: "2026-12-01T00:00:00.000Z",
      prompt: "p",
      workspace: "/ws",
    });
    assert.equal(
      new TextDecoder().decode(encodeRegistry(again, PATH)),
      JSON.stringify(
        { ...again.top, loops: again.entries.map((e) => e.raw) },
        null,
        2,
      ),
    );
  }
});
