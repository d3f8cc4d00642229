// `loops run` as a real process: it registers before it spawns (so a command
// never runs unregistered, and one of two racing runs of an id starts), exit
// codes 126/127 as shells give them, and one Ctrl+C on a real pseudo-terminal
// reaching the child once.
import assert from "node:assert/strict";
import { EXIT } from "../../cli/_errors.ts";
import {
  ignoreOutsideCI,
  rootSkipReason,
  skipReason,
} from "../_helpers/core.ts";
import {
  CLI,
  loops,
  readEntries,
  spawnLoops,
  tempWorkspace,
} from "../_helpers/cli.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("loops run never starts the command when it cannot register", async (t) => {
  await using ws = await tempWorkspace();
  const marker = `${ws.path}/ran`;
  const command = ["run", "--", "sh", "-c", `touch ${marker}`];
  await t.step("no write permission (Deno)", async () => {
    const result = await loops(command, {
      ws: ws.path,
      flags: ["--allow-read", "--allow-run"],
    });
    assert.equal(result.code, EXIT.permission, result.stderr);
    assert.match(result.stderr, /--allow-write/);
    assert.equal(await exists(marker), false);
  });
  await t.step("a taken id", async () => {
    const holder = spawnLoops(["run", "--id", "taken", "--", "sleep", "30"], {
      ws: ws.path,
    });
    try {
      for (let i = 0; i < 200; i++) {
        if ((await readEntries(ws).catch(() => [])).length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const result = await loops(
        ["run", "--id", "taken", ...command.slice(1)],
        {
          ws: ws.path,
        },
      );
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /taken/);
      assert.equal(await exists(marker), false);
    } finally {
      holder.kill("SIGTERM");
      await holder.status;
      await holder.stdout.cancel();
      await holder.stderr.cancel();
    }
  });
  const skip = rootSkipReason("setpriv");
  await t.step({
    name: "a .ralph/ the OS does not let this user write",
    ignore: ignoreOutsideCI(skip),
    async fn() {
      await using other = await tempWorkspace();
      // Root's workspace, readable by all, writable by root alone.
      await Deno.mkdir(`${other.path}/.ralph`, { mode: 0o755 });
      await Deno.chmod(other.path, 0o755);
      const denoDir = await Deno.makeTempDir({ prefix: "loops_denodir_" });
      await Deno.chmod(denoDir, 0o777);
      try {
        const output = await new Deno.Command("setpriv", {
          args: [
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            Deno.execPath(),
            "run",
            "-A",
            CLI,
            "-w",
            other.path,
            "run",
            "--",
            "sh",
            "-c",
            `touch ${other.path}/ran`,
          ],
          env: { DENO_DIR: denoDir, NO_COLOR: "1" },
          stdin: "null",
        }).output();
        const stderr = new TextDecoder().decode(output.stderr);
        assert.equal(output.code, EXIT.permission, stderr);
        assert.match(stderr, /denied/i);
        assert.equal(await exists(`${other.path}/ran`), false);
      } finally {
        await Deno.remove(denoDir, { recursive: true });
      }
    },
  });
});

Deno.test("two racing loops run --id same start exactly one command (10 rounds)", async () => {
  await using ws = await tempWorkspace();
  const log = `${ws.path}/started.log`;
  for (let round = 0; round < 10; round++) {
    const id = `race-${round}`;
    // The winner's command runs until the loser has exited, so a loser
    // that starts late (a loaded machine) still finds the id taken; were
    // both to run it, neither exits before the guard and both exit 0.
    const release = `${ws.path}/release-${round}`;
    const command = `echo ${id} >> ${log}; ` +
      `while [ ! -e ${release} ]; do sleep 0.02; done`;
    const outputs = [0, 1].map(() =>
      spawnLoops(["run", "--id", id, "--", "sh", "-c", command], {
        ws: ws.path,
      }).output()
    );
    let guard: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      ...outputs,
      new Promise((resolve) => guard = setTimeout(resolve, 60_000)),
    ]);
    clearTimeout(guard);
    await Deno.writeTextFile(release, "");
    const results = await Promise.all(outputs);
    const codes = results.map((r) => r.code).sort();
    assert.deepEqual(
      codes,
      [0, 1],
      results.map((r) => new TextDecoder().decode(r.stderr)).join("\n"),
    );
  }
  const lines = (await Deno.readTextFile(log)).trim().split("\n");
  assert.deepEqual(
    lines,
    Array.from({ length: 10 }, (_, round) => `race-${round}`),
  );
  assert.deepEqual(await readEntries(ws), []);
});

Deno.test("loops run exits 127 or 126 as shells do, naming what is missing", async (t) => {
  await using ws = await tempWorkspace();
  await t.step("not found: 127", async () => {
    const result = await loops(["run", "--", "loops-no-such-command-xyz"], {
      ws: ws.path,
    });
    assert.equal(result.code, 127, result.stderr);
    assert.match(result.stderr, /not found on PATH/);
  });
  await t.step("a #! interpreter that is missing: 127, named", async () => {
    const script = `${ws.path}/script.sh`;
    await Deno.writeTextFile(script, "#!/no/such/interpreter\necho hi\n");
    await Deno.chmod(script, 0o755);
    const result = await loops(["run", "--", script], { ws: ws.path });
    assert.equal(result.code, 127, result.stderr);
    assert.match(result.stderr, /interpreter "\/no\/such\/interpreter"/);
  });
  await t.step("not executable: 126", async () => {
    const file = `${ws.path}/plain.txt`;
    await Deno.writeTextFile(file, "echo hi\n");
    await Deno.chmod(file, 0o644);
    // Without any x bit even root cannot execute it.
    const result = await loops(["run", "--", file], { ws: ws.path });
    assert.equal(result.code, 126, result.stderr);
    assert.match(result.stderr, /not executable/);
  });
  assert.deepEqual(await readEntries(ws), []);
});

Deno.test("loops run records the child's pid, and cleans up after it", async () => {
  await using ws = await tempWorkspace();
  const run = spawnLoops(
    ["run", "--id", "child-pid", "--", "sh", "-c", "echo $$; sleep 30"],
    { ws: ws.path },
  );
  try {
    const reader = run.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const pid = Number((await reader.read()).value?.trim());
    reader.releaseLock();
    let entries = await readEntries(ws);
    for (let i = 0; i < 200 && entries[0]?.pid !== pid; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      entries = await readEntries(ws);
    }
    assert.equal(entries[0]?.pid, pid, "the entry names the child");
    assert.equal(entries[0]?.id, "child-pid");
  } finally {
    run.kill("SIGTERM");
    assert.equal((await run.status).code, 143);
    await run.stdout.cancel().catch(() => {});
    await run.stderr.cancel();
  }
  assert.deepEqual(await readEntries(ws), []);
});

const COUNTER = `
import signal, sys, time
count = 0
def handler(number, frame):
    global count
    count += 1
signal.signal(signal.SIGINT, handler)
print("ready", flush=True)
start = time.time()
while count == 0 and time.time() - start < 10:
    time.sleep(0.02)
time.sleep(1.0)
print("sigints=%d" % count, flush=True)
`;

Deno.test({
  name: "one Ctrl+C on a terminal reaches the child of loops run once",
  ignore: ignoreOutsideCI(skipReason({ tools: ["script", "python3"] })),
  async fn() {
    await using ws = await tempWorkspace();
    const counter = `${ws.path}/counter.py`;
    await Deno.writeTextFile(counter, COUNTER);
    const inner = [
      Deno.execPath(),
      "run",
      "-A",
      CLI,
      "-w",
      ws.path,
      "run",
      "--",
      "python3",
      counter,
    ].map((arg) => `'${arg}'`).join(" ");
    const script = new Deno.Command("script", {
      args: ["-qfec", inner, "/dev/null"],
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = script.stdin.getWriter();
    const reader = script.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let out = "";
    try {
      while (!out.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      // The registration and the switch to the child's pid are done by now
      // or soon; give the signal listeners a moment, then one Ctrl+C.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await writer.write(new Uint8Array([3]));
      while (!/sigints=\d+/.test(out)) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
    } finally {
      await writer.close().catch(() => {});
      await script.status;
      await reader.cancel().catch(() => {});
      await script.stderr.cancel();
    }
    assert.match(out, /sigints=1\b/, out);
    assert.deepEqual(await readEntries(ws), []);
  },
});
