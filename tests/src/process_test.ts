import assert from "node:assert/strict";
import {
  createLoopEntry,
  isValidPid,
  LoopRegistry,
  MAX_PID,
  probeProcess,
  readProcessIdentity,
} from "../../mod.ts";
import { deadPid, lines, runOp, tempWorkspace } from "../_helpers/core.ts";

function spawnSleep(
  args: string[] = [],
  command = "sleep",
): Deno.ChildProcess {
  return new Deno.Command(command, {
    args: [...args, "30"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
  await child.status;
}

Deno.test("isValidPid() accepts integers from 1 to 4194304 only", () => {
  assert.equal(MAX_PID, 4_194_304);
  for (const pid of [1, 2, Deno.pid, 4_194_304]) {
    assert.equal(isValidPid(pid), true, `${pid}`);
  }
  for (
    const pid of [0, -1, -42, 1.5, 4_194_305, 5_000_000, NaN, Infinity, "12"]
  ) {
    assert.equal(isValidPid(pid), false, `${pid}`);
  }
});

Deno.test("probeProcess() tells alive from dead", async (t) => {
  await t.step("this process is alive", () => {
    assert.equal(probeProcess(Deno.pid), "alive");
  });
  await t.step("a live child is alive", async () => {
    const child = spawnSleep();
    try {
      assert.equal(probeProcess(child.pid), "alive");
    } finally {
      await stop(child);
    }
    // Reaped: now dead.
    assert.equal(probeProcess(child.pid), "dead");
  });
  await t.step("a reaped child is dead", async () => {
    assert.equal(probeProcess(await deadPid()), "dead");
  });
  await t.step("invalid pids are dead and never signalled", () => {
    // As root, kill(0, 0) and kill(-1, 0) succeed (process group / every
    // process): had they been signalled these would read as alive.
    for (const pid of [0, -1, 1.5, 5_000_000]) {
      assert.equal(probeProcess(pid), "dead", `${pid}`);
    }
  });
  await t.step("without -A, identity is unknown and never 'reused'", () => {
    assert.equal(readProcessIdentity(Deno.pid), undefined);
    assert.equal(
      probeProcess(Deno.pid, { startTime: 1, bootId: "not-this-boot" }),
      "alive",
    );
  });
});

Deno.test("readProcessIdentity() reads /proc under -A (child)", async () => {
  await using ws = await tempWorkspace();
  // A command name with a space and parentheses must not confuse the parser.
  const odd = `${ws.path}/odd) name (x`;
  await Deno.symlink("/bin/sleep", odd);
  const plain = spawnSleep();
  const tricky = spawnSleep([], odd);
  try {
    const a = await runOp(ws.path, ["identity", `${plain.pid}`]);
    const b = await runOp(ws.path, ["identity", `${tricky.pid}`]);
    for (const result of [a, b]) {
      assert.ok(result.ok, result.stderr);
      assert.ok(
        Number.isSafeInteger(result.ok.startTime) && result.ok.startTime > 0,
      );
      assert.match(result.ok.bootId, /^[0-9a-f-]{36}$/);
      assert.equal(result.ok.state, "S");
    }
    assert.equal(a.ok.bootId, b.ok.bootId);
    const gone = await runOp(ws.path, ["identity", `${await deadPid()}`]);
    assert.equal(gone.ok, null, gone.stderr);
  } finally {
    await stop(plain);
    await stop(tricky);
  }
});

Deno.test("probeProcess() reads a zombie as dead under -A only", async () => {
  await using ws = await tempWorkspace();
  // `sleep 0` exits but its parent (sh, exec'd into sleep 30) never reaps it.
  const parent = new Deno.Command("sh", {
    args: ["-c", "sleep 0 & echo $!; exec sleep 30"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const out = lines(parent.stdout);
  try {
    const zombie = Number((await out.next()).value);
    assert.ok(isValidPid(zombie));
    // Wait until it has exited (it becomes a zombie, still signalable).
    for (let i = 0; i < 500; i++) {
      const state = await runOp(ws.path, ["identity", `${zombie}`]);
      if (state.ok?.state === "Z") break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // kill(pid, 0) succeeds on a zombie: without /proc it reads as alive.
    assert.equal(probeProcess(zombie), "alive");
    const probed = await runOp(ws.path, ["probe", `${zombie}`]);
    assert.equal(probed.ok, "dead", probed.stderr);
  } finally {
    await stop(parent);
    for await (const _ of out) { /* drain */ }
  }
});

Deno.test("EPERM (another user's process) reads as alive", async (t) => {
  await using ws = await tempWorkspace();
  // The probing side must not be root (root may signal anything): probe from
  // a child running as uid 65533 against a `sleep` of uid 65534.
  await Deno.chmod(ws.path, 0o777);
  const denoDir = `${ws.path}/deno_dir`;
  await Deno.mkdir(denoDir, { mode: 0o777 });
  await Deno.chmod(denoDir, 0o777);
  const other = new Deno.Command("setpriv", {
    args: [
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "sleep",
      "30",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const as65533 = { uid: 65533, denoDir, cwd: ws.path };
    await t.step("probeProcess() from another uid is 'alive'", async () => {
      const raw = await runOp(ws.path, ["kill0", `${other.pid}`], as65533);
      assert.equal(raw.ok, "PermissionDenied", raw.stdout + raw.stderr);
      const probed = await runOp(ws.path, ["probe", `${other.pid}`], as65533);
      assert.equal(probed.ok, "alive", probed.stdout + probed.stderr);
      // Control: the same prober still sees a dead pid as dead.
      const dead = await runOp(
        ws.path,
        ["probe", `${await deadPid()}`],
        as65533,
      );
      assert.equal(dead.ok, "dead", dead.stderr);
    });
    await t.step("list() keeps the entry as running", async () => {
      // The workspace is 0777 for the other uids: trusted explicitly.
      const registry = new LoopRegistry(ws.path, { trusted: true });
      await registry.register(
        createLoopEntry("other user", {
          id: "eperm",
          pid: other.pid,
          workspace: ws.path,
        }),
      );
      await Deno.chmod(`${ws.path}/.ralph`, 0o777);
      await Deno.chmod(registry.path, 0o666);
      const before = await Deno.readFile(registry.path);
      const listed = await runOp(ws.path, ["list"], as65533);
      assert.deepEqual(
        listed.ok?.map((e: { id: string; status: string }) => [
          e.id,
          e.status,
        ]),
        [["eperm", "running"]],
        listed.stdout + listed.stderr,
      );
      // Not cleaned: the file is unchanged.
      assert.deepEqual(await Deno.readFile(registry.path), before);
      const got = await runOp(ws.path, ["get", "eperm"], as65533);
      assert.equal(got.ok?.status, "running", got.stderr);
    });
  } finally {
    await stop(other);
  }
});

Deno.test("LOOPS_HOST_ID names the host: another id is remote, never cleaned", async () => {
  await using ws = await tempWorkspace();
  const sleeper = spawnSleep();
  try {
    const boxA = { LOOPS_HOST_ID: "box-a" };
    const reg = await runOp(ws.path, ["register", "boxed", `${sleeper.pid}`], {
      vars: boxA,
    });
    assert.equal(reg.ok, "boxed", reg.stderr);
    const file = JSON.parse(await Deno.readTextFile(ws.file));
    assert.equal(file.loops[0].host_id, "box-a");
    // The same kernel, another declared host: not judged by the pid.
    const other = await runOp(ws.path, ["inspect", "boxed"], {
      vars: { LOOPS_HOST_ID: "box-b" },
    });
    assert.equal(other.ok?.liveness, "unknown", other.stderr);
    assert.equal(other.ok?.reason, "other-host");
    // Without the variable this is the machine-id's host: remote as well.
    const plain = await runOp(ws.path, ["list"]);
    assert.equal((plain.ok as { status: string }[])[0]?.status, "remote");
    const same = await runOp(ws.path, ["inspect", "boxed"], { vars: boxA });
    assert.equal(same.ok?.liveness, "alive", same.stderr);
    // Once its process is gone only its own host proves it dead.
    await stop(sleeper);
    const cleaned = await runOp(ws.path, ["clean"], {
      vars: { LOOPS_HOST_ID: "box-b" },
    });
    assert.equal(cleaned.ok, 0, cleaned.stderr);
    const gone = await runOp(ws.path, ["clean"], { vars: boxA });
    assert.equal(gone.ok, 1, gone.stderr);
  } finally {
    await stop(sleeper);
  }
});

Deno.test("a LOOPS_HOST_ID that is not a name is a clear error", async () => {
  await using ws = await tempWorkspace();
  const result = await runOp(ws.path, ["register", "named", `${Deno.pid}`], {
    vars: { LOOPS_HOST_ID: "../etc host" },
  });
  assert.equal(result.ok, undefined);
  assert.match(
    `${result.error?.message}${result.stderr}`,
    /LOOPS_HOST_ID must be 1-64 letters.*got "\.\.\/etc host"/,
  );
});
