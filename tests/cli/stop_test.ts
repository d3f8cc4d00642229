// `loops stop` ends the loop's whole process tree, not just its top
// process: real shells with children, as a loop that is a script or an agent
// with tool subprocesses would be.
import assert from "node:assert/strict";
import { EXIT } from "../../cli/_errors.ts";
import { loops, readEntries, sleeper, tempWorkspace } from "../_helpers/cli.ts";
import { ignoreOutsideCI, rootSkipReason } from "../_helpers/core.ts";

async function childrenOf(pid: number): Promise<number[]> {
  const output = await new Deno.Command("pgrep", { args: ["-P", `${pid}`] })
    .output();
  return new TextDecoder().decode(output.stdout).trim().split("\n")
    .filter((line) => line !== "").map(Number);
}

/** Whether `pid` runs: not gone, not a zombie (`ps` state). */
async function running(pid: number): Promise<boolean> {
  const output = await new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", `${pid}`],
  }).output();
  const state = new TextDecoder().decode(output.stdout).trim();
  return state !== "" && !state.startsWith("Z");
}

async function treeOf(script: string) {
  const shell = await sleeper(`${script} & echo ready; wait`, true);
  let children: number[] = [];
  for (let i = 0; i < 200 && children.length < 2; i++) {
    children = await childrenOf(shell.pid);
    if (children.length < 2) await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(children.length, 2, "two children started");
  return { shell, pids: [shell.pid, ...children] };
}

Deno.test("loops stop ends a shell loop and its children", async () => {
  await using ws = await tempWorkspace();
  const { shell, pids } = await treeOf("sleep 100 & sleep 100");
  await using _shell = shell;
  const reg = await loops(
    ["register", "--pid", `${shell.pid}`, "--prompt", "tree", "--id", "tree"],
    { ws: ws.path },
  );
  assert.equal(reg.code, 0, reg.stderr);
  const stopped = await loops(["stop", "tree", "--timeout", "5"], {
    ws: ws.path,
  });
  assert.equal(stopped.code, 0, stopped.stderr);
  for (const pid of pids) assert.equal(await running(pid), false, `${pid}`);
  assert.deepEqual(await readEntries(ws), []);
});

Deno.test("loops stop --force kills a tree that ignores SIGTERM, and says what remained without it", async () => {
  await using ws = await tempWorkspace();
  // Ignored signals stay ignored in the children: SIGTERM ends none of them.
  const { shell, pids } = await treeOf(
    "trap '' TERM; sleep 100 & sleep 100",
  );
  await using _shell = shell;
  const reg = await loops(
    ["register", "--pid", `${shell.pid}`, "--prompt", "tree", "--id", "hard"],
    { ws: ws.path },
  );
  assert.equal(reg.code, 0, reg.stderr);
  const soft = await loops(["stop", "hard", "--timeout", "0.5"], {
    ws: ws.path,
  });
  assert.equal(soft.code, EXIT.timeout, soft.stderr);
  for (const pid of pids) {
    assert.match(soft.stderr, new RegExp(`\\b${pid}\\b`), "names each pid");
    assert.equal(await running(pid), true);
  }
  const hard = await loops(["stop", "hard", "--timeout", "0.5", "--force"], {
    ws: ws.path,
  });
  assert.equal(hard.code, 0, hard.stderr);
  for (const pid of pids) assert.equal(await running(pid), false, `${pid}`);
  assert.deepEqual(await readEntries(ws), []);
});

Deno.test("loops stop never signals a process outside the loop's tree", async () => {
  await using ws = await tempWorkspace();
  const { shell } = await treeOf("sleep 100 & sleep 100");
  await using _shell = shell;
  await using bystander = await sleeper();
  const reg = await loops(
    ["register", "--pid", `${shell.pid}`, "--prompt", "tree", "--id", "t"],
    { ws: ws.path },
  );
  assert.equal(reg.code, 0, reg.stderr);
  assert.equal((await loops(["stop", "t"], { ws: ws.path })).code, 0);
  assert.equal(await running(bystander.pid), true);
  assert.equal(await running(Deno.pid), true);
});

Deno.test("loops stop --all stops every running loop here, and no remote one", async () => {
  await using ws = await tempWorkspace();
  await using a = await sleeper();
  await using b = await sleeper();
  for (const [loop, id] of [[a, "a"], [b, "b"]] as const) {
    const reg = await loops(
      ["register", "--pid", `${loop.pid}`, "--prompt", id, "--id", id],
      { ws: ws.path },
    );
    assert.equal(reg.code, 0, reg.stderr);
  }
  // A loop of another host: listed as remote, never signalled from here.
  const file = JSON.parse(await Deno.readTextFile(ws.file));
  file.loops.push({
    ...file.loops[0],
    id: "far",
    host_id: "0000000000000000",
    pid: Deno.pid,
  });
  await Deno.writeTextFile(ws.file, JSON.stringify(file));
  const stopped = await loops(["stop", "--all"], { ws: ws.path });
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal((await a.child.status).signal, "SIGTERM");
  assert.equal((await b.child.status).signal, "SIGTERM");
  assert.deepEqual((await readEntries(ws)).map((e) => e.id), ["far"]);
});

Deno.test({
  name:
    "root's loops stop refuses a planted entry naming another user's process",
  ignore: ignoreOutsideCI(rootSkipReason("setpriv")),
  async fn() {
    await using ws = await tempWorkspace();
    const victim = new Deno.Command("setpriv", {
      args: ["--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "60"],
      stdin: "null",
    }).spawn();
    try {
      // Anyone who can write loops.json can name any pid, identity included.
      const reg = await loops(
        ["register", "--pid", `${victim.pid}`, "--prompt", "x", "--id", "p"],
        { ws: ws.path },
      );
      assert.equal(reg.code, 0, reg.stderr);
      const stopped = await loops(["stop", "p", "--force", "--timeout", "0"], {
        ws: ws.path,
      });
      assert.equal(stopped.code, EXIT.refused, stopped.stderr);
      assert.match(stopped.stderr, /belongs to .*65534/);
      assert.ok(await running(victim.pid), "the other user's process lives");
    } finally {
      victim.kill("SIGKILL");
      await victim.status;
    }
  },
});
