import assert from "node:assert/strict";
import { lineReader } from "../_helpers/core.ts";

const CHILD = new URL("../fixtures/inspector_child.ts", import.meta.url)
  .pathname;

function spawn(flags: string[], mode: "guard" | "plain") {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", ...flags, CHILD, mode],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function stderrOf(child: Deno.ChildProcess): Promise<string> {
  return new TextDecoder().decode(
    new Uint8Array(await new Response(child.stderr).arrayBuffer()),
  );
}

async function sleep(ms: number) {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("SIGUSR1 opens no inspector once guardInspectorSignal() has replaced Deno's handler", async (t) => {
  await t.step("control: without the guard, SIGUSR1 opens one", async () => {
    const child = spawn(["-A"], "plain");
    const next = lineReader(child.stdout);
    // Read as it comes, until the inspector announces itself (or fails to
    // bind a busy 9229): a loaded machine may take longer than any fixed
    // wait (a CI run).
    const reader = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    try {
      assert.equal(await next(), "started");
      child.kill("SIGUSR1");
      const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
      while (!/Debugger listening|inspector/i.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      clearTimeout(deadline);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* killed at the deadline */ }
      await child.status;
      while (await next() !== undefined) { /* drain */ }
      await reader.cancel();
    }
    assert.match(text, /Debugger listening|inspector/i);
  });
  await t.step("guarded: the signal is ignored, no inspector", async () => {
    const child = spawn(["-A"], "guard");
    const next = lineReader(child.stdout);
    const stderr = stderrOf(child);
    let alive = false;
    try {
      assert.equal(await next(), "armed");
      assert.equal(await next(), "guarded");
      child.kill("SIGUSR1");
      await sleep(700);
      // Still running: SIGUSR1 is ignored (not its default, termination).
      alive = await Promise.race([
        child.status.then(() => false),
        sleep(50).then(() => true),
      ]);
    } finally {
      child.kill("SIGKILL");
      await child.status;
      while (await next() !== undefined) { /* drain */ }
    }
    assert.ok(alive, "the guarded child died of SIGUSR1");
    assert.doesNotMatch(await stderr, /Debugger|inspector/i);
  });
  await t.step("without --allow-ffi it does nothing and says so", async () => {
    const child = spawn([], "guard");
    const next = lineReader(child.stdout);
    const stderr = stderrOf(child);
    try {
      assert.equal(await next(), "unarmed");
    } finally {
      child.kill("SIGKILL");
      await child.status;
      while (await next() !== undefined) { /* drain */ }
      await stderr;
    }
  });
});
