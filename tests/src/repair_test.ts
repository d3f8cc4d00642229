import assert from "node:assert/strict";

import { fileIds, tempWorkspace, writeRegistry } from "../_helpers/core.ts";
import { fake, registry, snapshot } from "../_helpers/store.ts";

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
