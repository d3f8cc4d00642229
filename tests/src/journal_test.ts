import assert from "node:assert/strict";

import { registryPaths } from "../../src/_files.ts";
import {
  checksum,
  effectiveContent,
  encodeJournal,
  isTornWrite,
  parseJournal,
  readJournal,
} from "../../src/_journal.ts";
import { rawEntry, tempWorkspace } from "../_helpers/core.ts";
import {
  encoder,
  equal,
  fake,
  journalBytes,
  registry,
  tornStates,
} from "../_helpers/store.ts";

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

Deno.test("encodeJournal() and parseJournal() round-trip; readJournal() reads the record back", async (t) => {
  const before = encoder.encode('{\n  "loops": []\n}');
  const after = encoder.encode(`{"loops":[${"x".repeat(5000)}]}`);
  const record = encodeJournal(before, after);
  await t.step("the header is the documented text", () => {
    const header = new TextDecoder().decode(
      record.subarray(0, record.indexOf(10)),
    );
    assert.equal(
      header,
      `loops-journal-v2 ${before.length} ${after.length} ${
        checksum(before, after)
      }`,
    );
  });
  await t.step("parse gives back both payloads", () => {
    const parsed = parseJournal(record);
    assert.ok(parsed !== undefined);
    assert.ok(equal(parsed.before, before));
    assert.ok(equal(parsed.after, after));
  });
  await t.step("every cut of the record is no record", () => {
    for (
      const cut of [1, 20, record.length - after.length, record.length - 1]
    ) {
      assert.equal(parseJournal(record.subarray(0, cut)), undefined, `${cut}`);
    }
  });
  await t.step(
    "readJournal() reads the record, ignoring bytes past it",
    async () => {
      await using ws = await tempWorkspace();
      await Deno.mkdir(ws.dir);
      const trailing = new Uint8Array([...record, 1, 2, 3]);
      await Deno.writeFile(ws.journal, trailing);
      const read = readJournal(registryPaths(ws.path));
      assert.ok(read !== undefined && equal(read, record));
      await Deno.writeFile(ws.journal, record.subarray(0, record.length - 1));
      assert.equal(readJournal(registryPaths(ws.path)), undefined);
    },
  );
});
