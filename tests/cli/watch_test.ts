// `loops watch` as people and scripts see it: on a real terminal (Python's
// pty) it redraws in place every second, so AGE moves with no change to the
// registry, with NO_COLOR too (which only drops the colour); Ctrl+C ends it
// with 130; a held lock shows it waits and it carries on once the lock is
// free; piped, --json prints one JSON array a line (NDJSON). No assertion
// is on time: each waits for what must appear, with a guard against hangs.
import { ignoreOutsideCI } from "../_helpers/core.ts";
import assert from "node:assert/strict";
import {
  assertClean,
  holdLock,
  Lines,
  loops,
  sleeper,
  spawnLoops,
  tempWorkspace,
  writeEntries,
} from "../_helpers/cli.ts";
import { hasPty, Terminal } from "./_pty.ts";

const NO_PTY = await hasPty() ? undefined : "needs python3 with its pty module";

// deno-lint-ignore no-control-regex
const COLOUR = /\x1b\[\d+m/;
const HOME = "\x1b[H";

/** The frames drawn so far: each starts by moving the cursor home. */
function frames(text: string): string[] {
  return text.split(HOME).slice(1);
}

/** The AGE column of the `id` row in each frame that shows it. */
function ages(text: string, id: string): string[] {
  return frames(text).flatMap((frame) => {
    const age = frame.match(new RegExp(`\\n${id} +\\S+ +\\d+ +(\\S+) `))?.[1];
    return age === undefined ? [] : [age];
  });
}

for (const noColor of [true, false]) {
  Deno.test({
    name: `watch on a terminal redraws every second and exits 130 on Ctrl+C (${
      noColor ? "NO_COLOR" : "colour"
    })`,
    ignore: ignoreOutsideCI(NO_PTY),
    async fn() {
      await using ws = await tempWorkspace();
      await using loop = await sleeper();
      await writeEntries(ws, [{ id: "ticking", pid: loop.pid }]);
      const before = await Deno.readFile(ws.file);
      await using terminal = new Terminal(["-w", ws.path, "watch"], {
        env: noColor ? { NO_COLOR: "1" } : {},
        unset: noColor ? [] : ["NO_COLOR"],
      });
      // AGE moves on with nothing changed in the registry: three distinct
      // values, so at least two redraws came from the clock.
      await terminal.until(
        (text) => new Set(ages(text, "ticking")).size >= 3,
        "AGE moving",
      );
      assert.deepEqual(await Deno.readFile(ws.file), before);
      const text = terminal.text;
      // The first frame clears the screen, each frame ends by erasing what
      // is below it: replaced in place, not appended, with NO_COLOR too.
      // (Before it, Deno itself may clear its progress line.)
      const start = text.indexOf(HOME);
      assert.ok(text.startsWith("\x1b[H\x1b[2J", start), JSON.stringify(text));
      for (const frame of frames(text).slice(1, -1)) {
        assert.ok(
          frame.endsWith("\x1b[J\r\n") || frame.endsWith("\x1b[J\n"),
          JSON.stringify(frame),
        );
        assert.match(frame, /Watching .*loops\.json \(Ctrl\+C to stop\)/);
      }
      if (noColor) assert.doesNotMatch(text, COLOUR);
      else assert.ok(text.includes("\x1b[32mrunning\x1b[0m"), text);
      await terminal.type("\x03");
      const { code, stderr } = await terminal.end();
      assert.equal(code, 130, stderr);
      assertClean({ stderr });
    },
  });
}

Deno.test({
  name: "watch on a terminal waits out a held lock and carries on",
  ignore: ignoreOutsideCI(NO_PTY),
  async fn() {
    await using ws = await tempWorkspace();
    await using loop = await sleeper();
    await writeEntries(ws, [{ id: "held", pid: loop.pid }]);
    const lock = await holdLock(ws.file);
    await using terminal = new Terminal(
      ["-w", ws.path, "--lock-timeout", "0.2", "watch"],
      { env: { NO_COLOR: "1" } },
    );
    try {
      await terminal.until(
        (text) => /Waiting since \d\d:\d\d:\d\d for the lock of /.test(text),
        "the waiting line",
      );
    } finally {
      await lock[Symbol.asyncDispose]();
    }
    const waited = terminal.text.length;
    await terminal.until(
      (text) =>
        /\nheld +running /.test(text.slice(waited)) &&
        /Watching /.test(text.slice(waited)),
      "the table once the lock is free",
    );
    await terminal.type("\x03");
    const { code, stderr } = await terminal.end();
    assert.equal(code, 130, stderr);
    assert.equal(stderr, "");
  },
});

Deno.test("watch --json prints NDJSON, says it waits for a held lock on stderr, and carries on", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await writeEntries(ws, [{ id: "a", pid: loop.pid }]);
  const lock = await holdLock(ws.file);
  const watch = spawnLoops(
    ["--lock-timeout", "0.2", "watch", "--json", "--status", "running"],
    { ws: ws.path },
  );
  const guard = setTimeout(() => watch.kill("SIGKILL"), 30_000);
  const out = new Lines(watch.stdout);
  const err = new Lines(watch.stderr);
  try {
    assert.match(
      (await err.next())!,
      /^loops: waiting for the lock of .*loops\.json, held by another process; retrying$/,
    );
  } finally {
    await lock[Symbol.asyncDispose]();
  }
  const first = JSON.parse((await out.next())!);
  assert.deepEqual(first.map((e: { id: string }) => e.id), ["a"]);
  // A change: one more line, one JSON document, filtered by --status.
  await writeEntries(ws, [
    { id: "a", pid: loop.pid },
    { id: "b", pid: loop.pid },
    { id: "c", pid: loop.pid, host_id: "another-host" },
  ]);
  const second = JSON.parse((await out.next())!);
  assert.deepEqual(second.map((e: { id: string }) => e.id), ["a", "b"]);
  watch.kill("SIGINT");
  assert.equal(await out.rest(), "");
  assert.equal((await watch.status).code, 130);
  clearTimeout(guard);
  assertClean({ stderr: await err.rest() });
});

Deno.test("watch takes list's selection options", async () => {
  await using ws = await tempWorkspace();
  const bad = await loops(["watch", "--status", "dead"], { ws: ws.path });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--status as it must be one of running, orphan/);
});
