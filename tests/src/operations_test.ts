import assert from "node:assert/strict";

import { rawEntry, tempWorkspace, writeRegistry } from "../_helpers/core.ts";
import { assertAllRefused, snapshot } from "../_helpers/store.ts";

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
