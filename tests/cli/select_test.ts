// Picking loops and the global options, in-process: list's filters, -q and
// --sort; an id prefix for get, running and deregister (an ambiguous one is
// refused, listing the candidates); `running`'s exit codes; clean
// --dry-run; --lock-timeout against a lock held by another process; --color;
// the global options after the command; `loops` alone; INIT_CWD.
import assert from "node:assert/strict";
import {
  assertFailure,
  assertUsage,
  deadPid,
  EXIT,
  holdLock,
  loops,
  readEntries,
  runMain,
  sleeper,
  tempWorkspace,
  writeEntries,
} from "../_helpers/cli.ts";

// deno-lint-ignore no-control-regex
const SGR = /\x1b\[\d*m/;

function ids(stdout: string): string[] {
  return stdout.split("\n").filter((line) => line !== "");
}

Deno.test("list --status, --host, --worktree, --sort and -q pick and order loops", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await Deno.mkdir(`${ws.path}/wt/a/deep`, { recursive: true });
  // Start times after the sleeper started (an earlier one would make its pid
  // look reused): the later, the younger.
  const at = (s: number) => new Date(Date.now() + s * 1000).toISOString();
  await writeEntries(ws, [
    { id: "b-wt", pid: loop.pid, started: at(10), worktree_path: "wt/a" },
    { id: "c-gone", pid: loop.pid, started: at(30), worktree_path: "gone" },
    {
      id: "a-far",
      pid: 4242,
      started: at(20),
      host_id: "f00d",
      hostname: "alpha",
    },
    { id: "d-plain", pid: loop.pid, started: at(0) },
  ]);
  const list = async (...args: string[]) => {
    const result = await runMain(["list", ...args], {
      ws: ws.path,
      cwd: `${ws.path}/wt`,
    });
    assert.deepEqual([result.code, result.stderr], [0, ""], args.join(" "));
    return result.stdout;
  };
  // -q: ids alone, in the file's order.
  assert.deepEqual(ids(await list("-q")), [
    "b-wt",
    "c-gone",
    "a-far",
    "d-plain",
  ]);
  assert.deepEqual(ids(await list("-q", "--status", "orphan")), ["c-gone"]);
  assert.deepEqual(
    ids(await list("-q", "--status", "remote", "--status=orphan")),
    ["c-gone", "a-far"],
  );
  // --host: the entry's host name or host id; entries without one never.
  assert.deepEqual(ids(await list("--quiet", "--host", "alpha")), ["a-far"]);
  assert.deepEqual(ids(await list("-q", "--host", "f00d")), ["a-far"]);
  assert.deepEqual(ids(await list("-q", "--host", "beta")), []);
  // --worktree: relative to the current directory; the loop whose worktree
  // is PATH or holds it (a relative worktree_path is the workspace's).
  assert.deepEqual(ids(await list("-q", "--worktree", "a/deep")), ["b-wt"]);
  assert.deepEqual(ids(await list("-q", "--worktree", `${ws.path}/wt/a/`)), [
    "b-wt",
  ]);
  assert.deepEqual(ids(await list("-q", "--worktree", ".")), []);
  // --sort: started is oldest first, age youngest first, id by id.
  assert.deepEqual(ids(await list("-q", "--sort", "started")), [
    "d-plain",
    "b-wt",
    "a-far",
    "c-gone",
  ]);
  assert.deepEqual(ids(await list("-q", "--sort", "age")), [
    "c-gone",
    "a-far",
    "b-wt",
    "d-plain",
  ]);
  assert.deepEqual(ids(await list("-q", "--sort=id")), [
    "a-far",
    "b-wt",
    "c-gone",
    "d-plain",
  ]);
  // Filters combine; the JSON and the table follow them.
  const json = JSON.parse(
    await list("--json", "--status", "running", "--sort", "id"),
  );
  assert.deepEqual(json.map((e: { id: string }) => e.id), ["b-wt", "d-plain"]);
  // A loop of another host brings the HOST column: its host name.
  const table = (await list("--status", "remote")).split("\n");
  assert.match(table[0]!, /^ID +STATUS +HOST +PID +AGE /);
  assert.match(table[1]!, /^a-far +remote +alpha +4242 /);
  const local = (await list("--status", "running")).split("\n");
  assert.match(local[0]!, /^ID +STATUS +PID +AGE /);
  assert.equal(
    await list("--status", "unknown"),
    `No loops match in ${ws.path}\n`,
  );
  assert.equal(await list("-q", "--status", "unknown"), "");
  for (
    const args of [
      ["--status", "dead"],
      ["--status", "Running"],
      ["--sort", "pid"],
      ["--json", "-q"],
      ["--host"],
    ]
  ) {
    assertUsage(await runMain(["list", ...args], { ws: ws.path }), args);
  }
});

Deno.test("get, running and deregister take a unique id prefix and refuse an ambiguous one", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await writeEntries(ws, [
    { id: "loop-1764-a3f2", pid: loop.pid },
    { id: "loop-1764-b0c1", pid: loop.pid },
    { id: "loop-17", pid: loop.pid },
  ]);
  const before = await Deno.readFile(ws.file);
  const got = await runMain(["get", "loop-1764-a", "--json"], { ws: ws.path });
  assert.equal(got.code, 0, got.stderr);
  assert.equal(JSON.parse(got.stdout).id, "loop-1764-a3f2");
  // An exact id wins over the ids it is the start of.
  const exact = await runMain(["get", "loop-17", "--json"], { ws: ws.path });
  assert.equal(JSON.parse(exact.stdout).id, "loop-17");
  const running = await runMain(["running", "loop-1764-b"], { ws: ws.path });
  assert.deepEqual([running.code, running.stdout], [0, "running\n"]);
  for (const command of ["get", "running", "deregister"]) {
    const ambiguous = await runMain([command, "loop-1764"], { ws: ws.path });
    assertUsage(ambiguous, command);
    assert.match(
      ambiguous.stderr,
      /"loop-1764" is the start of 2 ids: "loop-1764-a3f2", "loop-1764-b0c1"/,
    );
    // An empty id would be the start of every id.
    assertUsage(await runMain([command, ""], { ws: ws.path }), command);
    assertFailure(
      await runMain([command, "loop-9"], { ws: ws.path }),
      /Cannot find loop "loop-9"/,
      EXIT.notFound,
    );
  }
  assert.deepEqual(await Deno.readFile(ws.file), before);
  const gone = await runMain(["deregister", "loop-1764-b"], { ws: ws.path });
  assert.deepEqual([gone.code, gone.stdout], [
    0,
    "Deregistered loop-1764-b0c1\n",
  ]);
  assert.deepEqual((await readEntries(ws)).map((e) => e.id), [
    "loop-1764-a3f2",
    "loop-17",
  ]);
  assert.ok(!loop.exited());
});

Deno.test("a dead loop's own id is not the start of another's", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await writeEntries(ws, [
    { id: "loop-17", pid: await deadPid() },
    { id: "loop-1764-a3f2", pid: loop.pid },
  ]);
  // Read-only: the dead entry stays in the file, and is still "not running".
  const result = await loops(["running", "loop-17"], {
    ws: ws.path,
    flags: ["--allow-read", "--allow-run"],
  });
  assertFailure(result, /Cannot find loop "loop-17"/, EXIT.notFound);
  assertFailure(
    await runMain(["get", "loop-17"], { ws: ws.path }),
    /Cannot find loop "loop-17"/,
    EXIT.notFound,
  );
});

Deno.test("running answers 0 alive, 3 not running, 4 cannot tell", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  const dead = await deadPid();
  await writeEntries(ws, [
    { id: "alive", pid: loop.pid },
    { id: "orphan", pid: loop.pid, worktree_path: `${ws.path}/gone` },
    { id: "dead", pid: dead },
    { id: "remote", pid: loop.pid, host_id: "another-host" },
  ]);
  const ask = (id: string) => runMain(["running", id], { ws: ws.path });
  assert.deepEqual(
    [(await ask("alive")).code, (await ask("alive")).stdout],
    [0, "running\n"],
  );
  assert.deepEqual((await ask("orphan")).stdout, "orphan\n");
  assertFailure(await ask("dead"), /Cannot find loop "dead"/, EXIT.notFound);
  assertFailure(await ask("none"), /Cannot find loop "none"/, EXIT.notFound);
  assertFailure(
    await ask("remote"),
    /^loops: Cannot tell whether loop "remote" is running as it registered on another host/,
    EXIT.unknown,
  );
  // Without --allow-run its liveness cannot be checked: 4, not 3.
  assertFailure(
    await loops(["running", "alive"], { ws: ws.path, flags: ["--allow-read"] }),
    /Cannot tell whether loop "alive" is running as run access is not granted: run again with --allow-run/,
    EXIT.unknown,
  );
  // A registry that cannot be read is never "not running".
  await Deno.writeTextFile(ws.file, "{oops");
  assertFailure(await ask("alive"), /not valid JSON/, EXIT.corrupt);
});

Deno.test("clean --dry-run lists what clean would remove and changes nothing", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  const dead = await deadPid();
  await writeEntries(ws, [
    { id: "dead", pid: dead },
    { id: "orphan", pid: loop.pid, worktree_path: `${ws.path}/gone` },
    { id: "alive", pid: loop.pid, worktree_path: ws.path },
    { id: "remote", pid: dead, host_id: "another-host" },
  ]);
  const before = await Deno.readFile(ws.file);
  const dry = await runMain(["clean", "--dry-run"], { ws: ws.path });
  assert.equal(dry.code, 0, dry.stderr);
  const lines = dry.stdout.trimEnd().split("\n");
  assert.equal(lines[0], "Would remove 2 stale entries:");
  assert.match(lines[1]!, /^ID +STATUS +PID +AGE +WORKTREE +PROMPT$/);
  assert.match(lines[2]!, new RegExp(`^dead +dead +${dead} `));
  assert.match(lines[3]!, new RegExp(`^orphan +orphan +${loop.pid} `));
  assert.equal(lines.length, 4);
  const json = await runMain(["clean", "--dry-run", "--json"], { ws: ws.path });
  assert.deepEqual(
    JSON.parse(json.stdout).map((e: { id: string; status: string }) =>
      `${e.id}:${e.status}`
    ),
    ["dead:dead", "orphan:orphan"],
  );
  assert.deepEqual(await Deno.readFile(ws.file), before);
  assertUsage(await runMain(["clean", "--json"], { ws: ws.path }));
  // The preview is what clean then does.
  const cleaned = await runMain(["clean"], { ws: ws.path });
  assert.equal(cleaned.stdout, "Removed 2 stale entries\n");
  assert.deepEqual((await readEntries(ws)).map((e) => e.id), [
    "alive",
    "remote",
  ]);
  const none = await runMain(["clean", "--dry-run"], { ws: ws.path });
  assert.equal(none.stdout, "Would remove no stale entries\n");
});

Deno.test("--lock-timeout bounds the wait for a held lock, before or after the command", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await writeEntries(ws, [{ id: "a", pid: loop.pid }]);
  {
    await using _held = await holdLock(ws.file);
    for (
      const args of [
        ["--lock-timeout", "0.2", "list"],
        ["running", "a", "--lock-timeout=0.2"],
        ["get", "a", "--lock-timeout", "0"],
      ]
    ) {
      const result = await runMain(args, { ws: ws.path });
      assertFailure(
        result,
        /^loops: Cannot lock registry ".*loops\.json" as another process held it for 0(\.2)? s: retry, raise --lock-timeout SECONDS/,
        EXIT.lockTimeout,
      );
      assert.doesNotMatch(result.stderr, /lockTimeoutMs/);
    }
  }
  // Released: the same call works.
  const free = await runMain(["running", "a", "--lock-timeout", "0.2"], {
    ws: ws.path,
  });
  assert.equal(free.code, 0, free.stderr);
  for (const value of ["-1", "soon", "1e3", "86401", ""]) {
    assertUsage(
      await runMain(["--lock-timeout", value, "list"], { ws: ws.path }),
      value,
    );
    assertUsage(
      await runMain(["list", `--lock-timeout=${value}`], { ws: ws.path }),
      value,
    );
  }
});

Deno.test("-w, --lock-timeout and --color are taken after the command too", async () => {
  await using ws = await tempWorkspace();
  await using other = await tempWorkspace();
  await using loop = await sleeper();
  await writeEntries(ws, [{ id: "here", pid: loop.pid }]);
  for (
    const args of [
      ["list", "-q", "-w", ws.path],
      ["list", `--workspace=${ws.path}`, "-q"],
      // After the command, it wins over the one before.
      ["-w", other.path, "list", "-q", "-w", ws.path],
      ["list", "-q", `-w${ws.path}`],
    ]
  ) {
    const result = await runMain(args);
    assert.deepEqual([result.code, result.stdout], [0, "here\n"], String(args));
  }
  // After `--`, they are the command's own arguments.
  assertUsage(await runMain(["run", "-w"], { ws: ws.path }));
});

Deno.test("--color=always|never|auto: only the status is coloured", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await writeEntries(ws, [{ id: "a", pid: loop.pid }]);
  const table = (args: string[], color: boolean) =>
    runMain(args, { ws: ws.path, color });
  const always = await table(["--color=always", "list"], false);
  assert.ok(always.stdout.includes("\x1b[32mrunning\x1b[0m"), always.stdout);
  assert.doesNotMatch(always.stdout.split("\n")[0]!, SGR);
  assert.match((await table(["list", "--color", "always"], false)).stdout, SGR);
  assert.doesNotMatch(
    (await table(["--color", "never", "list"], true)).stdout,
    SGR,
  );
  // auto: io.color (a terminal without NO_COLOR); the default.
  assert.match((await table(["--color", "auto", "list"], true)).stdout, SGR);
  assert.match((await table(["list"], true)).stdout, SGR);
  assert.doesNotMatch((await table(["list"], false)).stdout, SGR);
  // JSON is never coloured.
  assert.doesNotMatch(
    (await table(["--color=always", "list", "--json"], false)).stdout,
    SGR,
  );
  for (const bad of ["yes", "", "ALWAYS"]) {
    assertUsage(await table(["--color", bad, "list"], false), bad);
  }
});

Deno.test("loops alone prints the short usage on stderr and exits 2", async () => {
  for (const args of [[], ["-w", "/tmp"], ["--color", "never"]]) {
    const result = await runMain(args);
    assert.equal(result.code, EXIT.usage);
    assert.equal(result.stdout, "");
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines[0], "loops: Missing command");
    assert.match(lines[1]!, /^Usage: loops \[--workspace DIR\] .*<command>/);
    assert.match(
      lines[2]!,
      /^Commands: list, get, running, .*completions, help$/,
    );
    assert.equal(lines.at(-1), "Run 'loops --help' for usage.");
  }
  assertUsage(await runMain(["--color", "bogus"]));
});

Deno.test("under deno task, the workspace and relative paths start from INIT_CWD", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await Deno.mkdir(`${ws.path}/.ralph`);
  const caller = `${ws.path}/sub`;
  await Deno.mkdir(caller);
  const task = {
    "npm_config_user_agent": "deno/2.9.6 npm/? deno/2.9.6 linux x86_64",
  };
  // deno task runs the CLI in the folder of deno.json, elsewhere.
  await using checkout = await tempWorkspace();
  const registered = await runMain(
    [
      "register",
      "--pid",
      String(loop.pid),
      "--prompt",
      "p",
      "--worktree",
      "wt",
    ],
    { cwd: checkout.path, env: { ...task, INIT_CWD: caller } },
  );
  assert.equal(registered.code, 0, registered.stderr);
  const [entry] = await readEntries(ws);
  assert.equal(entry?.workspace, ws.path);
  assert.equal(entry?.worktree_path, `${caller}/wt`);
  await assert.rejects(
    Deno.lstat(`${checkout.path}/.ralph`),
    Deno.errors.NotFound,
  );
  // LOOPS_CALLER_CWD (this checkout's task) wins even under npm's agent.
  const handed = await runMain(["list", "-q"], {
    cwd: checkout.path,
    env: {
      "npm_config_user_agent": "npm/11 node/v20",
      LOOPS_CALLER_CWD: caller,
    },
  });
  assert.equal(handed.code, 0, handed.stderr);
  assert.equal(handed.stdout, `${entry?.id}\n`, "found from the caller's dir");
  // Not run by deno task (npm_config_user_agent is not Deno's), or INIT_CWD
  // relative: the current directory.
  for (
    const env of [
      { INIT_CWD: caller } as Record<string, string>,
      { "npm_config_user_agent": "npm/10.2.4 node/v20", INIT_CWD: caller },
      { ...task, INIT_CWD: "sub" },
    ]
  ) {
    const listed = await runMain(["list"], { cwd: checkout.path, env });
    assert.equal(listed.stdout, `No loops registered in ${checkout.path}\n`);
  }
  // --workspace still wins, and is taken from INIT_CWD when relative.
  const explicit = await runMain(["list", "-q", "-w", ".."], {
    cwd: checkout.path,
    env: { ...task, INIT_CWD: caller },
  });
  assert.equal(explicit.stdout, `${entry?.id}\n`);
});
