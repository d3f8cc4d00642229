// `loops wait ID`: returns when the loop has ended, with distinct exit codes
// for "ended", "no such loop" and "still running after --timeout".
import assert from "node:assert/strict";
import {
  loops,
  sleeper,
  spawnLoops,
  tempWorkspace,
  writeEntries,
} from "../_helpers/cli.ts";

Deno.test("loops wait returns when the loop's process ends", async () => {
  await using ws = await tempWorkspace();
  // Ended by the test once `wait` runs, not by a timer a slow machine's
  // `register` could outlast (a CI flake with `sleep 0.6`).
  await using loop = await sleeper();
  const reg = await loops(
    ["register", "--pid", `${loop.pid}`, "--prompt", "w", "--id", "w"],
    { ws: ws.path },
  );
  assert.equal(reg.code, 0, reg.stderr);
  const wait = spawnLoops(["wait", "w", "--timeout", "30"], { ws: ws.path });
  let ended = false;
  const waited = wait.output().then((output) => ({ ...output, ended }));
  // Still waiting while the loop runs (a wait that returned here would be
  // seen once the loop ends).
  await new Promise((resolve) => setTimeout(resolve, 500));
  ended = true;
  loop.child.kill("SIGTERM");
  const result = await waited;
  const stderr = new TextDecoder().decode(result.stderr);
  assert.equal(result.code, 0, stderr);
  assert.ok(result.ended, "wait returned while the loop was running");
  // When wait returns, the process has ended (gone, or a zombie not reaped).
  const ps = await new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", `${loop.pid}`],
  }).output();
  const state = new TextDecoder().decode(ps.stdout).trim();
  assert.ok(state === "" || state.startsWith("Z"), `state ${state}`);
});

Deno.test("loops wait exits 8 after --timeout and 3 for no such loop", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await loops(
    ["register", "--pid", `${loop.pid}`, "--prompt", "w", "--id", "live"],
    { ws: ws.path },
  );
  const timedOut = await loops(["wait", "live", "--timeout", "0.3"], {
    ws: ws.path,
  });
  assert.equal(timedOut.code, 8, timedOut.stderr);
  assert.match(timedOut.stderr, /still running/);
  assert.equal(loop.exited(), false);
  const missing = await loops(["wait", "nope"], { ws: ws.path });
  assert.equal(missing.code, 3, missing.stderr);
});

Deno.test("loops wait on a loop of another host returns when its entry goes", async () => {
  await using ws = await tempWorkspace();
  // Nothing tells when `wait` has first read the entry: a `wait` that
  // starts after the entry went says "no such loop" (3), which is right, and
  // the round is tried again with more time; a `wait` that returns while the
  // entry is there, or does not return once it is gone, fails at once.
  for (const delayMs of [500, 1500, 4000, 8000]) {
    await writeEntries(ws, [{
      id: "far",
      pid: 4242,
      host_id: "0000000000000000",
      hostname: "elsewhere",
    } as never]);
    const waiting = spawnLoops(["wait", "far", "--timeout", "30"], {
      ws: ws.path,
    });
    let exited = false;
    const output = waiting.output().then((out) => (exited = true, out));
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (exited) {
      const early = await output;
      assert.fail(
        `wait returned (${early.code}) while the entry was there: ${
          new TextDecoder().decode(early.stderr)
        }`,
      );
    }
    await writeEntries(ws, []);
    const { code, stderr } = await output;
    const text = new TextDecoder().decode(stderr);
    if (code === 0) return;
    assert.equal(code, 3, text);
    assert.match(text, /Cannot find loop "far"/);
  }
  assert.fail("wait never started before the entry went");
});

Deno.test("loops stop and wait take a unique id prefix", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await loops(
    ["register", "--pid", `${loop.pid}`, "--prompt", "p", "--id", "prefix-abc"],
    { ws: ws.path },
  );
  const timedOut = await loops(["wait", "prefix-a", "--timeout", "0.1"], {
    ws: ws.path,
  });
  assert.equal(timedOut.code, 8, timedOut.stderr);
  const stopped = await loops(["stop", "prefix-a"], { ws: ws.path });
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stdout, /"prefix-abc"/);
  assert.equal((await loop.child.status).signal, "SIGTERM");
});
