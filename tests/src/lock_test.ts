import assert from "node:assert/strict";
import { CorruptRegistryError } from "../../mod.ts";
import { MAX_REGISTRY_BYTES } from "../../src/_lock.ts";

import {
  fileIds,
  rawEntry,
  readJson,
  tempWorkspace,
  writeRegistry,
} from "../_helpers/core.ts";
import { assertAllRefused, fake, registry } from "../_helpers/store.ts";

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

Deno.test("a 17 MiB registry, which ralph reads, is read and changed", async () => {
  await using ws = await tempWorkspace();
  const pad = "x".repeat(17 * 1024 * 1024);
  await writeRegistry(
    ws,
    JSON.stringify({ loops: [rawEntry("a", 7001)], pad }),
  );
  assert.deepEqual((await registry(ws).list()).map((e) => e.id), ["a"]);
  await registry(ws).register(fake("b", 7002));
  assert.deepEqual(await fileIds(ws), ["a", "b"]);
  assert.equal((await readJson(ws)).pad, pad);
});

Deno.test("a registry over the 128 MiB bound is refused, untouched, without advising repair", async () => {
  await using ws = await tempWorkspace();
  // A valid head and a sparse tail: refused on its size, before any read.
  await writeRegistry(ws, JSON.stringify({ loops: [rawEntry("a", 1)] }));
  await Deno.truncate(ws.file, MAX_REGISTRY_BYTES + 1);
  const state = async () => {
    const info = await Deno.lstat(ws.file);
    using file = await Deno.open(ws.file);
    const head = new Uint8Array(4096);
    await file.read(head);
    return { size: info.size, mtime: info.mtime?.getTime(), head };
  };
  const before = await state();
  await assertAllRefused(ws, ws.file, /128 MiB/);
  // repair() cannot salvage what it does not read: it refuses too, and no
  // message sends the user to it.
  const refused = (error: unknown) => {
    assert.ok(error instanceof CorruptRegistryError, String(error));
    assert.equal(error.kind, "too-large");
    assert.doesNotMatch(error.message, /loops repair/);
    assert.match(error.message, /shrink it by hand/);
    return true;
  };
  await assert.rejects(registry(ws).list(), refused);
  await assert.rejects(registry(ws).repair(), refused);
  assert.deepEqual(await state(), before);
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
