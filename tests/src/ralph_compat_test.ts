// Drop-in compatibility with ralph-orchestrator's Rust registry: against an
// emulator of its `with_lock` (tests/fixtures/ralph_emulator.py: the same
// flock(2) on loops.json, truncate-then-write, serde's dropping of unknown
// fields), and against ralph's real code built from the reference copy
// beside the checkout (tests/_helpers/ralph.ts).
import assert from "node:assert/strict";
import { createLoopEntry, LoopRegistry } from "../../mod.ts";
import {
  fileIds,
  ignoreOutsideCI,
  lines,
  runOp,
  skipReason,
  tempWorkspace,
} from "../_helpers/core.ts";
import { hasReference, seedreg } from "../_helpers/ralph.ts";

const EMULATOR = new URL("../fixtures/ralph_emulator.py", import.meta.url)
  .pathname;
const WORKER =
  new URL("../fixtures/registry_worker.ts", import.meta.url).pathname;

const ignore = ignoreOutsideCI(skipReason({ tools: ["python3"] }));

async function ralph(...args: string[]): Promise<void> {
  const out = await new Deno.Command("python3", { args: [EMULATOR, ...args] })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

Deno.test({
  name: "ralph reads our padded file and we read ralph's rewrite",
  ignore,
  async fn() {
    await using ws = await tempWorkspace();
    const registry = new LoopRegistry(ws.path);
    const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      await registry.register(
        createLoopEntry("ours", { id: "ours", workspace: ws.path }),
      );
      // ralph parses our file (trailing page padding included) and rewrites
      // it its own way: no padding, unknown fields dropped.
      await ralph(ws.path, "register", "theirs", String(sleeper.pid));
      const text = await Deno.readTextFile(ws.file);
      assert.equal(text, text.trimEnd());
      assert.equal(text.includes("pid_start_time"), false);
      const listed = await registry.list();
      assert.deepEqual(listed.map((e) => [e.id, e.status]), [
        ["ours", "running"],
        ["theirs", "running"],
      ]);
      // Without a recorded identity a pid is never taken for reused.
      assert.equal(listed[0]!.identity, undefined);
      // The journal left by our last write does not undo ralph's change.
      await registry.deregister("ours");
      assert.deepEqual(await fileIds(ws), ["theirs"]);
    } finally {
      sleeper.kill();
      await sleeper.status;
    }
  },
});

Deno.test({
  name: "ralph's writers and ours exclude each other: no lost update",
  ignore,
  async fn() {
    await using ws = await tempWorkspace();
    const count = 40;
    const children = [
      ...[0, 1, 2].map((n) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", WORKER, ws.path, "own", String(n), String(count)],
          stdin: "piped",
          stdout: "piped",
        }).spawn()
      ),
      ...[0, 1, 2].map((n) =>
        new Deno.Command("python3", {
          args: [EMULATOR, ws.path, "own", String(n), String(count)],
          stdin: "piped",
          stdout: "piped",
        }).spawn()
      ),
    ];
    try {
      for (const child of children) {
        assert.equal((await lines(child.stdout).next()).value, "done");
      }
      // Every process's final entry is there, and nothing else: no write of
      // one side was lost by the other.
      assert.deepEqual((await fileIds(ws)).toSorted(), [
        "final-0",
        "final-1",
        "final-2",
        "ralph-final-0",
        "ralph-final-1",
        "ralph-final-2",
      ]);
      // Judged with -A (a child): an entry of ours that ralph did not rewrite
      // records its pid namespace, which only -A can compare.
      const listed = await runOp(ws.path, ["list"]);
      assert.deepEqual(
        listed.ok?.map((e: { status: string }) => e.status),
        Array(6).fill("running"),
        listed.stderr,
      );
    } finally {
      for (const child of children) {
        await child.stdin.close();
        await child.status;
      }
    }
  },
});

const noReference = await hasReference()
  ? undefined
  : "needs ../shared/ralph-reference";
const real = noReference === undefined ? await seedreg() : undefined;

Deno.test({
  name: "ralph's real writer and ours exclude each other: no lost update",
  ignore: ignoreOutsideCI(noReference),
  async fn() {
    await using ws = await tempWorkspace();
    const count = 40;
    const ours = [0, 1, 2].map((n) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", WORKER, ws.path, "own", String(n), String(count)],
        stdin: "piped",
        stdout: "piped",
      }).spawn()
    );
    // ralph's own register + deregister, 40 times in each of 3 processes,
    // then a live loop of each kept while the file is checked.
    const theirs = [0, 1, 2].map((n) =>
      new Deno.Command("sh", {
        args: [
          "-c",
          `"$R" --workspace "$W" bench-register ${count} >/dev/null && ` +
          `exec "$R" --workspace "$W" hold --prompt p --seconds 60 --id ralph-final-${n}`,
        ],
        env: { R: real!, W: ws.path },
        stdin: "null",
        stdout: "piped",
      }).spawn()
    );
    try {
      for (const child of ours) {
        assert.equal((await lines(child.stdout).next()).value, "done");
      }
      for (const child of theirs) {
        assert.match(
          (await lines(child.stdout).next()).value ?? "",
          /ralph-final/,
        );
      }
      assert.deepEqual((await fileIds(ws)).toSorted(), [
        "final-0",
        "final-1",
        "final-2",
        "ralph-final-0",
        "ralph-final-1",
        "ralph-final-2",
      ]);
      const listed = await new LoopRegistry(ws.path).list();
      assert.equal(listed.length, 6);
    } finally {
      for (const child of ours) {
        await child.stdin.close();
        await child.status;
      }
      for (const child of theirs) {
        child.kill("SIGKILL");
        await child.status;
        await child.stdout.cancel().catch(() => {});
      }
    }
  },
});
