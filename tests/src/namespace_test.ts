// Liveness across pid namespaces, with real namespaces (`unshare --pid`, as
// root): an entry's pid is never probed outside the namespace it belongs to.
import assert from "node:assert/strict";
import {
  ignoreOutsideCI,
  readJson,
  rootSkipReason,
  runOp,
  tempWorkspace,
} from "../_helpers/core.ts";

const skip = rootSkipReason("unshare");
const OP = new URL("../fixtures/registry_op.ts", import.meta.url).pathname;

/** Runs `script` (sh) as pid 1's child in a new pid namespace with its /proc. */
function inNamespace(script: string, env: Record<string, string> = {}) {
  return new Deno.Command("unshare", {
    args: [
      "--pid",
      "--fork",
      "--kill-child",
      "--mount-proc",
      "sh",
      "-c",
      script,
    ],
    env: { DENO: Deno.execPath(), OP, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

type Listed = { id: string; status: string }[];

Deno.test({
  name: "a loop registered in a container is remote on the host, never cleaned",
  ignore: ignoreOutsideCI(skip),
  async fn() {
    await using ws = await tempWorkspace();
    // Inside: a sleeper (a small pid there, another process here) registers.
    const box = inNamespace(
      `sleep 60 & "$DENO" run -A --quiet --no-config "$OP" "$WS" real register boxed $! && echo registered && wait`,
      { WS: ws.path },
    ).spawn();
    try {
      const reader = box.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let out = "";
      while (!out.includes("registered")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      reader.releaseLock();
      const entry = (await readJson(ws)).loops[0]!;
      assert.equal(entry.id, "boxed", out);
      assert.ok(Number(entry.pid) < 10, `a namespace-local pid: ${entry.pid}`);
      assert.equal(typeof entry.pid_ns, "number");
      // On the host that pid is another process (or none): not probed.
      const listed = await runOp(ws.path, ["list"]);
      assert.deepEqual(
        (listed.ok as Listed).map((e) => [e.id, e.status]),
        [["boxed", "remote"]],
        listed.stderr,
      );
      const inspected = await runOp(ws.path, ["inspect", "boxed"]);
      assert.equal(inspected.ok?.reason, "other-pid-namespace");
      const cleaned = await runOp(ws.path, ["clean"]);
      assert.equal(cleaned.ok, 0, cleaned.stderr);
      assert.deepEqual((await readJson(ws)).loops.map((e) => e.id), ["boxed"]);
      // Inside the namespace the same entry is judged by its pid: running.
      const inside = await inNamespace(
        `"$DENO" run -A --quiet --no-config "$OP" "$WS" real list`,
        { WS: ws.path },
      ).output();
      // A fresh namespace is another one again: remote there too.
      const seen = JSON.parse(new TextDecoder().decode(inside.stdout)).ok;
      assert.deepEqual(seen.map((e: Listed[0]) => e.status), ["remote"]);
    } finally {
      box.kill("SIGKILL");
      await box.status;
      await box.stderr.cancel();
      await box.stdout.cancel().catch(() => {});
    }
  },
});

Deno.test({
  name: "a host loop listed from a container is remote there and survives",
  ignore: ignoreOutsideCI(skip),
  async fn() {
    await using ws = await tempWorkspace();
    const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
    try {
      const reg = await runOp(ws.path, [
        "register",
        "hosted",
        `${sleeper.pid}`,
      ]);
      assert.equal(reg.ok, "hosted", reg.stderr);
      const before = await Deno.readFile(ws.file);
      // In the namespace the host pid does not exist (ESRCH): not "dead".
      for (const op of ["list", "clean"]) {
        const out = await inNamespace(
          `"$DENO" run -A --quiet --no-config "$OP" "$WS" real ${op}`,
          { WS: ws.path },
        ).output();
        const result = JSON.parse(new TextDecoder().decode(out.stdout)).ok;
        if (op === "list") {
          assert.deepEqual(result.map((e: Listed[0]) => e.status), ["remote"]);
        } else assert.equal(result, 0);
      }
      assert.deepEqual(await Deno.readFile(ws.file), before);
      const listed = await runOp(ws.path, ["list"]);
      assert.equal((listed.ok as Listed)[0]?.status, "running");
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
    }
  },
});
