// src/_path.ts against `node:path`'s posix functions on a table of inputs.
import assert from "node:assert/strict";
import { posix } from "node:path";
import {
  dirname,
  isAbsolute,
  join,
  normalize,
  resolve,
} from "../../src/_path.ts";

const PATHS = [
  "",
  ".",
  "..",
  "/",
  "//",
  "///",
  "a",
  "a/",
  "a//",
  "./a",
  "../a",
  "a/b",
  "a/b/",
  "a//b",
  "a/./b",
  "a/../b",
  "a/b/../..",
  "a/b/../../..",
  "../../a/..",
  "/a",
  "/a/",
  "/a/b",
  "/a/b/",
  "/a//b",
  "//a",
  "//a/b",
  "/a/./b/.",
  "/a/../..",
  "/../a",
  "/..",
  "/.",
  "...",
  "a/...",
  "..a/b..",
  ".hidden/.x",
  "/tmp/ws/.ralph/loops.json",
  "with space/ü/日本",
  "-dash",
  "a\\b",
  "C:\\x",
];

Deno.test("isAbsolute() matches node:path posix", () => {
  for (const path of PATHS) {
    assert.equal(isAbsolute(path), posix.isAbsolute(path), path);
  }
});

Deno.test("normalize() matches node:path posix", () => {
  for (const path of PATHS) {
    assert.equal(normalize(path), posix.normalize(path), path);
  }
});

Deno.test("dirname() matches node:path posix", () => {
  for (const path of PATHS) {
    assert.equal(dirname(path), posix.dirname(path), path);
  }
});

Deno.test("join() matches node:path posix", async (t) => {
  await t.step("no and one segment", () => {
    assert.equal(join(), posix.join());
    for (const path of PATHS) assert.equal(join(path), posix.join(path), path);
  });
  await t.step("every pair of segments", () => {
    for (const a of PATHS) {
      for (const b of PATHS) {
        assert.equal(join(a, b), posix.join(a, b), `${a} + ${b}`);
      }
    }
  });
  await t.step("three and more segments", () => {
    const cases = [
      ["/tmp", ".ralph", "loops.json"],
      ["a", "", "b"],
      ["", "", ""],
      ["a", "..", "..", "b/"],
      ["/", "..", "x", "."],
    ];
    for (const args of cases) {
      assert.equal(join(...args), posix.join(...args), args.join(" + "));
    }
  });
});

Deno.test("resolve() matches node:path posix", async (t) => {
  await t.step("one path, relative ones against the cwd", () => {
    assert.equal(resolve(), posix.resolve());
    for (const path of PATHS) {
      assert.equal(resolve(path), posix.resolve(path), path);
    }
  });
  await t.step("every pair of paths", () => {
    for (const a of PATHS) {
      for (const b of PATHS) {
        assert.equal(resolve(a, b), posix.resolve(a, b), `${a} + ${b}`);
      }
    }
  });
  await t.step("the cwd is used and the result is absolute", () => {
    assert.equal(resolve("x"), `${Deno.cwd().replace(/\/$/, "")}/x`);
    for (const path of PATHS) assert.ok(isAbsolute(resolve(path)), path);
  });
});
