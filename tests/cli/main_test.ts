// The `loops` CLI, run as a real process (`deno run <flags> cli.ts`) with
// NO_COLOR=1: every command, every exit code (0, 1, 2, 130), the JSON shape,
// escaping, workspace discovery, `run`, `stop` and `watch`.
import assert from "node:assert/strict";
import cfg from "../../deno.json" with { type: "json" };
import {
  assertClean,
  assertFailure,
  assertUsage,
  type CliResult,
  deadPid,
  exists,
  Lines,
  loops,
  readEntries,
  sleeper,
  spawnLoops,
  tempWorkspace,
  waitFor,
  writeEntries,
} from "../_helpers/cli.ts";

const RWX = ["--allow-read", "--allow-write", "--allow-run"];

Deno.test("loops --version and --help print to stdout and exit 0", async (t) => {
  await t.step("version", async () => {
    for (const flag of ["--version", "-V"]) {
      // No permission at all is needed.
      const result = await loops([flag], { flags: [] });
      assert.deepEqual(
        { code: result.code, stdout: result.stdout, stderr: result.stderr },
        { code: 0, stdout: `loops ${cfg.version}\n`, stderr: "" },
      );
    }
  });
  await t.step("help", async () => {
    for (const args of [["--help"], ["-h"], ["help"]]) {
      const result = await loops(args, { flags: [] });
      assert.equal(result.code, 0);
      assert.equal(result.stderr, "");
      assert.match(result.stdout, /^loops \S+: /);
      assert.match(result.stdout, /\nUSAGE:\n/);
      assert.match(result.stdout, /\nCOMMANDS:\n/);
    }
  });
  await t.step("command help", async () => {
    for (const args of [["help", "stop"], ["stop", "--help"], ["-h", "stop"]]) {
      const result = await loops(args, { flags: [] });
      assert.equal(result.code, 0);
      assert.equal(result.stderr, "");
      assert.match(result.stdout, /^USAGE:\n {2}loops stop ID/);
    }
  });
});

Deno.test("loops usage errors exit 2 with a hint and change nothing", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await writeEntries(ws, [{ id: "a", pid: loop.pid }]);
  const before = await Deno.readFile(ws.file);
  const vectors = [
    [],
    ["bogus"],
    ["\x1b[2Jbogus\u202e"],
    ["help", "bogus"],
    ["help", "toString"],
    ["--bogus", "list"],
    ["--workspace"],
    ["--workspace="],
    ["list", "--bogus"],
    ["list", "extra"],
    ["list", "--json=yes"],
    ["get"],
    ["get", "a", "b"],
    ["register", "--prompt", "x"],
    ["register", "--pid", String(loop.pid)],
    ["register", "--pid", "0", "--prompt", "x"],
    ["register", "--pid", "-1", "--prompt", "x"],
    ["register", "--pid=-1", "--prompt", "x"],
    ["register", "--pid", "99999999999", "--prompt", "x"],
    ["register", "--pid", "1.5", "--prompt", "x"],
    ["register", "--pid", String(loop.pid), "--prompt", "x", "--id", ""],
    ["register", "--pid", String(loop.pid), "--prompt", "x", "--id", "a\x1b"],
    ["register", "--pid"],
    ["deregister"],
    ["deregister", "a", "--pid", String(loop.pid)],
    ["deregister", "--pid", "abc"],
    ["clean", "now"],
    ["repair", "--force"],
    ["run"],
    ["run", "--"],
    ["run", "--bogus", "--", "true"],
    ["run", "--id", "", "--", "true"],
    ["stop"],
    ["stop", "a", "--signal", "BOGUS"],
    ["stop", "a", "--signal", "0"],
    ["stop", "a", "--timeout", "-1"],
    ["stop", "a", "--timeout", "soon"],
    ["stop", "a", "--timeout", "1e9"],
    ["watch", "extra"],
    ["watch", "--bogus"],
  ];
  // A few at a time: each is a Deno process, and other suites run too.
  const results: CliResult[] = [];
  for (let i = 0; i < vectors.length; i += 6) {
    results.push(
      ...await Promise.all(
        vectors.slice(i, i + 6).map((args) => loops(args, { ws: ws.path })),
      ),
    );
  }
  for (const [i, result] of results.entries()) {
    assertUsage(result, vectors[i]);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(result.stderr, /[\u001b\u202e]/);
  }
  assert.deepEqual(await Deno.readFile(ws.file), before);
  assert.ok(!loop.exited(), "a usage error must not signal the process");
});

Deno.test("loops list and get on an empty registry", async () => {
  await using ws = await tempWorkspace();
  // Reading needs --allow-read only, and creates nothing.
  const flags = ["--allow-read"];
  const table = await loops(["list"], { ws: ws.path, flags });
  assert.deepEqual([table.code, table.stderr], [0, ""]);
  assert.equal(table.stdout, `No loops registered in ${ws.path}\n`);
  const json = await loops(["list", "--json"], { ws: ws.path, flags });
  assert.deepEqual([json.code, json.stdout, json.stderr], [0, "[]\n", ""]);
  assertFailure(
    await loops(["get", "loop-1-abcd"], { ws: ws.path, flags }),
    /^loops: Cannot find loop "loop-1-abcd"/,
  );
  await assert.rejects(Deno.lstat(`${ws.path}/.ralph`), Deno.errors.NotFound);
});

Deno.test("loops register, list, get and deregister round-trip", async () => {
  await using ws = await tempWorkspace();
  await using one = await sleeper();
  await using two = await sleeper();
  const worktree = `${ws.path}/wt`;
  await Deno.mkdir(worktree);
  const registered = await loops([
    "register",
    "--pid",
    String(one.pid),
    "--prompt",
    "implement auth",
    "--worktree",
    worktree,
    "--id",
    "loop-auth",
  ], { ws: ws.path, flags: RWX });
  assert.deepEqual(
    [registered.code, registered.stdout, registered.stderr],
    [0, "loop-auth\n", ""],
  );
  const generated = await loops(
    ["register", "--pid", String(two.pid), "--prompt", "write docs"],
    { ws: ws.path, flags: RWX },
  );
  assert.equal(generated.code, 0);
  assert.match(generated.stdout, /^loop-\d+-[0-9a-f]{4}\n$/);
  const id = generated.stdout.trim();

  {
    const result = await loops(["list", "--json"], { ws: ws.path });
    assert.deepEqual([result.code, result.stderr], [0, ""]);
    assert.match(result.stdout, /^\[.*\]\n$/);
    const list = JSON.parse(result.stdout);
    assert.equal(list.length, 2);
    // Field order and presence: worktree_path only when set.
    assert.deepEqual(Object.keys(list[0]), [
      "id",
      "pid",
      "started",
      "prompt",
      "worktree_path",
      "workspace",
      "status",
    ]);
    assert.deepEqual(Object.keys(list[1]), [
      "id",
      "pid",
      "started",
      "prompt",
      "workspace",
      "status",
    ]);
    assert.equal(list[0].id, "loop-auth");
    assert.equal(list[0].pid, one.pid);
    assert.ok(!Number.isNaN(Date.parse(list[0].started)));
    assert.equal(list[0].prompt, "implement auth");
    assert.equal(list[0].worktree_path, worktree);
    assert.equal(list[0].workspace, ws.path);
    assert.equal(list[0].status, "running");
    assert.equal(list[1].id, id);
    assert.equal(list[1].status, "running");
  }

  const table = await loops(["list"], { ws: ws.path });
  assert.equal(table.code, 0);
  const lines = table.stdout.trimEnd().split("\n");
  assert.match(lines[0]!, /^ID +STATUS +PID +AGE +WORKTREE +PROMPT$/);
  assert.match(
    lines[1]!,
    new RegExp(
      `^loop-auth +running +${one.pid} +\\d+s +${worktree} +implement auth$`,
    ),
  );
  assert.match(lines[2]!, new RegExp(`^${id} +running +${two.pid} .* - +`));
  assert.equal(lines.length, 3);

  const got = await loops(["get", "loop-auth", "--json"], { ws: ws.path });
  assert.equal(got.code, 0);
  const entry = JSON.parse(got.stdout);
  assert.equal(entry.id, "loop-auth");
  assert.equal(entry.status, "running");
  const detail = await loops(["get", "loop-auth"], { ws: ws.path });
  assert.equal(detail.code, 0);
  assert.match(detail.stdout, /^id: +loop-auth$/m);
  assert.match(detail.stdout, /^status: +running$/m);
  assert.match(detail.stdout, new RegExp(`^pid: +${one.pid}$`, "m"));
  assert.match(detail.stdout, new RegExp(`^worktree: +${worktree}$`, "m"));
  assert.match(detail.stdout, /^prompt: +implement auth$/m);

  // A live loop's id cannot be taken by another process.
  assertFailure(
    await loops(
      [
        "register",
        "--pid",
        String(two.pid),
        "--prompt",
        "x",
        "--id",
        "loop-auth",
      ],
      { ws: ws.path, flags: RWX },
    ),
    /taken/,
  );

  const gone = await loops(["deregister", "loop-auth"], {
    ws: ws.path,
    flags: RWX,
  });
  assert.deepEqual([gone.code, gone.stdout], [0, "Deregistered loop-auth\n"]);
  assertFailure(
    await loops(["deregister", "loop-auth"], { ws: ws.path, flags: RWX }),
    /Cannot find loop "loop-auth"/,
  );
  assertFailure(
    await loops(["get", "loop-auth"], { ws: ws.path }),
    /Cannot find loop/,
  );
  const byPid = await loops(["deregister", "--pid", String(two.pid)], {
    ws: ws.path,
    flags: RWX,
  });
  assert.deepEqual(
    [byPid.code, byPid.stdout],
    [0, `Deregistered the loops of pid ${two.pid}\n`],
  );
  assertFailure(
    await loops(["deregister", "--pid", String(two.pid)], {
      ws: ws.path,
      flags: RWX,
    }),
    new RegExp(`Cannot find a loop of pid ${two.pid}`),
  );
  assert.deepEqual(await readEntries(ws), []);
  assert.ok(!one.exited() && !two.exited());
});

Deno.test("loops clean removes dead and orphan entries", async () => {
  await using ws = await tempWorkspace();
  await using alive = await sleeper();
  await using orphan = await sleeper();
  const dead = await deadPid();
  await writeEntries(ws, [
    { id: "dead", pid: dead },
    { id: "orphan", pid: orphan.pid, worktree_path: `${ws.path}/gone` },
    { id: "alive", pid: alive.pid, worktree_path: ws.path },
  ]);
  const listed = await loops(["list", "--json"], {
    ws: ws.path,
    flags: ["--allow-read", "--allow-run"],
  });
  assert.deepEqual(
    JSON.parse(listed.stdout).map((e: { status: string }) => e.status),
    ["orphan", "running"],
  );
  const cleaned = await loops(["clean"], { ws: ws.path, flags: RWX });
  assert.deepEqual(
    [cleaned.code, cleaned.stdout, cleaned.stderr],
    [0, "Removed 2 stale entries\n", ""],
  );
  assert.deepEqual((await readEntries(ws)).map((e) => e.id), ["alive"]);
  const again = await loops(["clean"], { ws: ws.path, flags: RWX });
  assert.deepEqual([again.code, again.stdout], [
    0,
    "Removed 0 stale entries\n",
  ]);
  assert.ok(!orphan.exited(), "clean must not signal an orphan");
});

Deno.test("loops output never sends control characters to the terminal", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  const evil = "\x1b[2J\x1b]0;pwned\x07\u202e\r\x9b31m\u2028\u2066";
  const id = `id${evil}`;
  const prompt = `prompt${evil}${"p".repeat(3000)}end`;
  const worktree = `${ws.path}/wt${evil}`;
  // The file may hold anything another writer put there.
  await writeEntries(ws, [{
    id,
    pid: loop.pid,
    prompt,
    worktree_path: worktree,
  }]);
  const runs: CliResult[] = await Promise.all([
    loops(["list"], { ws: ws.path }),
    loops(["list", "--json"], { ws: ws.path }),
    loops(["get", id], { ws: ws.path }),
    loops(["get", id, "--json"], { ws: ws.path }),
    loops(["get", `${id}x`], { ws: ws.path }),
    loops(["stop", id], { ws: ws.path, flags: ["--allow-read"] }),
  ]);
  // After the reads: it removes the entry.
  runs.push(await loops(["deregister", id], { ws: ws.path }));
  const bad = [0x1b, 0x07, 0x0d, 0x9b];
  for (const [i, result] of runs.entries()) {
    const bytes = [...result.raw, ...new TextEncoder().encode(result.stderr)];
    for (const byte of bad) {
      assert.ok(!bytes.includes(byte), `run ${i}: raw byte ${byte}`);
    }
    const text = result.stdout + result.stderr;
    // U+202E, U+009B, U+2028, U+2066 as characters, not escaped.
    assert.doesNotMatch(text, /[\u202e\u009b\u2028\u2066]/, `run ${i}`);
  }
  const [table, json, detail, jsonOne, missing, stop, deregistered] = runs;
  assert.equal(table!.code, 0);
  const escaped = "\\x1b[2J\\x1b]0;pwned\\x07\\u202e\\r\\x9b31m\\u2028\\u2066";
  assert.ok(table!.stdout.includes(`id${escaped}`));
  // Not a terminal: the prompt is printed in full.
  assert.ok(table!.stdout.includes(`prompt${escaped}${"p".repeat(3000)}end`));
  // JSON stays JSON with the same values.
  const [entry] = JSON.parse(json!.stdout);
  assert.deepEqual(
    [entry.id, entry.prompt, entry.worktree_path],
    [id, prompt, worktree],
  );
  assert.equal(JSON.parse(jsonOne!.stdout).prompt, prompt);
  assert.ok(detail!.stdout.includes(`prompt${escaped}`));
  assertFailure(missing!, /Cannot find loop/);
  // No --allow-run: refused, the message escaped.
  assertFailure(stop!, /--allow-run/);
  assert.equal(deregistered!.code, 0);
  assert.equal(deregistered!.stdout, `Deregistered id${escaped}\n`);
});

Deno.test("loops finds the workspace from a subdirectory", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await Deno.mkdir(`${ws.path}/.ralph`);
  const deep = `${ws.path}/sub/deep`;
  await Deno.mkdir(deep, { recursive: true });
  const registered = await loops(
    ["register", "--pid", String(loop.pid), "--prompt", "p", "--id", "found"],
    { cwd: deep },
  );
  assert.equal(registered.code, 0);
  assert.deepEqual((await readEntries(ws)).map((e) => e.id), ["found"]);
  const listed = await loops(["list", "--json"], {
    cwd: deep,
    flags: ["--allow-read", "--allow-run"],
  });
  const [entry] = JSON.parse(listed.stdout);
  assert.equal(entry.id, "found");
  assert.equal(entry.workspace, ws.path);
  // Without .ralph anywhere above, the current directory is the workspace.
  await using other = await tempWorkspace();
  const empty = await loops(["list"], { cwd: other.path });
  assert.equal(empty.stdout, `No loops registered in ${other.path}\n`);
});

Deno.test("loops run passes the exit code through and deregisters", async (t) => {
  await using ws = await tempWorkspace();
  await t.step("exit code", async () => {
    const result = await loops(["run", "--", "sh", "-c", "exit 7"], {
      ws: ws.path,
      flags: RWX,
    });
    assert.deepEqual([result.code, result.stderr], [7, ""]);
  });
  await t.step("environment and registration while running", async () => {
    // Exit 3 proves the entry named the child's own pid while it ran (it is
    // written just after the spawn: poll for it).
    const script = 'echo "$LOOPS_ID|$LOOPS_WORKSPACE"; for i in $(seq 200); ' +
      'do grep -qs "\\"pid\\": $$," "$LOOPS_WORKSPACE/.ralph/loops.json" && ' +
      "exit 3; sleep 0.02; done; exit 1";
    const result = await loops(
      ["run", "--id", "envtest", "--prompt", "p", "--", "sh", "-c", script],
      { ws: ws.path, flags: RWX },
    );
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout, `envtest|${ws.path}\n`);
    assert.deepEqual(await readEntries(ws), []);
  });
  await t.step("death by signal gives 128+N", async () => {
    const result = await loops(["run", "--", "sh", "-c", "kill -9 $$"], {
      ws: ws.path,
      flags: RWX,
    });
    assert.equal(result.code, 137);
    assert.deepEqual(await readEntries(ws), []);
  });
  await t.step("a missing command exits 1", async () => {
    assertFailure(
      await loops(["run", "--", "loops-no-such-command-xyz"], {
        ws: ws.path,
        flags: RWX,
      }),
      /not found/,
    );
    assert.deepEqual(await readEntries(ws), []);
  });
});

Deno.test("loops run forwards SIGTERM to the child and deregisters", async () => {
  await using ws = await tempWorkspace();
  const marker = `${ws.path}/marker`;
  const ready = `${ws.path}/ready`;
  const script = `trap 'echo term > "${marker}"; exit 42' TERM; ` +
    `echo ready > "${ready}"; while :; do sleep 0.05; done`;
  const run = spawnLoops(["run", "--id", "fwd", "--", "sh", "-c", script], {
    ws: ws.path,
    flags: RWX,
  });
  try {
    await waitFor(async () => {
      try {
        await Deno.lstat(ready);
        return (await readEntries(ws)).some((e) => e.id === "fwd");
      } catch {
        return false;
      }
    }, "the child to be ready and registered");
    run.kill("SIGTERM");
  } finally {
    const output = await run.output();
    assert.equal(output.code, 42, new TextDecoder().decode(output.stderr));
    assertClean({ stderr: new TextDecoder().decode(output.stderr) });
  }
  assert.equal(await Deno.readTextFile(marker), "term\n");
  assert.deepEqual(await readEntries(ws), []);
});

Deno.test("loops run killed with SIGKILL leaves the child's entry until it dies", async () => {
  await using ws = await tempWorkspace();
  const pidFile = `${ws.path}/pid`;
  const run = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../cli.ts", import.meta.url).pathname,
      "--workspace",
      ws.path,
      "run",
      "--id",
      "orphaned",
      "--",
      "sh",
      "-c",
      `echo $$ > "${pidFile}.tmp" && mv "${pidFile}.tmp" "${pidFile}"; exec sleep 60`,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let childPid: number | undefined;
  try {
    await waitFor(async () => {
      try {
        childPid = Number(await Deno.readTextFile(pidFile));
        return (await readEntries(ws)).some((e) => e.id === "orphaned");
      } catch {
        return false;
      }
    }, "the child to be registered");
    run.kill("SIGKILL");
    assert.equal((await run.status).signal, "SIGKILL");
    const listed = await loops(["list", "--json"], { ws: ws.path });
    const [entry] = JSON.parse(listed.stdout);
    assert.equal(entry.id, "orphaned");
    assert.equal(entry.pid, childPid);
    assert.equal(entry.status, "running");
    Deno.kill(childPid!, "SIGKILL");
    await waitFor(
      async () => {
        const result = await loops(["list", "--json"], { ws: ws.path });
        return result.stdout === "[]\n";
      },
      "the dead child's entry to be cleaned",
      100,
    );
    assert.deepEqual(await readEntries(ws), []);
  } finally {
    try {
      run.kill("SIGKILL");
    } catch {
      // Already dead.
    }
    await run.status;
    if (childPid !== undefined && exists(childPid)) {
      Deno.kill(childPid, "SIGKILL");
    }
  }
});

Deno.test("loops stop", async (t) => {
  await using ws = await tempWorkspace();
  const register = async (pid: number, id: string) => {
    const result = await loops(
      ["register", "--pid", String(pid), "--prompt", "p", "--id", id],
      { ws: ws.path },
    );
    assert.equal(result.code, 0, result.stderr);
  };

  await t.step(
    "sends SIGTERM, waits for the exit and removes the entry",
    async () => {
      await using loop = await sleeper();
      await register(loop.pid, "term");
      const result = await loops(["stop", "term"], { ws: ws.path });
      assert.deepEqual(
        [result.code, result.stdout, result.stderr],
        [0, `Stopped loop "term" (pid ${loop.pid}) with SIGTERM\n`, ""],
      );
      assert.equal((await loop.child.status).signal, "SIGTERM");
      assert.deepEqual(await readEntries(ws), []);
    },
  );

  await t.step("--signal picks the signal", async () => {
    await using loop = await sleeper();
    await register(loop.pid, "int");
    const result = await loops(["stop", "int", "--signal", "INT"], {
      ws: ws.path,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await loop.child.status).signal, "SIGINT");
  });

  await t.step("exits 1 when it survives, escalates with --force", async () => {
    // `exec` keeps the pid: the registered process is the one ignoring TERM.
    await using loop = await sleeper(
      'trap "" TERM; echo ready; exec sleep 60',
      true,
    );
    await register(loop.pid, "stubborn");
    assertFailure(
      await loops(["stop", "stubborn", "--timeout", "0.3"], { ws: ws.path }),
      /still alive .*--force/,
    );
    assert.ok(!loop.exited(), "the process ignores SIGTERM");
    assert.deepEqual((await readEntries(ws)).map((e) => e.id), ["stubborn"]);
    const forced = await loops(
      ["stop", "stubborn", "--timeout", "0.3", "--force"],
      { ws: ws.path },
    );
    assert.deepEqual(
      [forced.code, forced.stdout],
      [0, `Killed loop "stubborn" (pid ${loop.pid}) with SIGKILL\n`],
    );
    assert.equal((await loop.child.status).signal, "SIGKILL");
    assert.deepEqual(await readEntries(ws), []);
  });

  await t.step("refuses pid 1, 0 and -1", async () => {
    await writeEntries(ws, [
      { id: "init", pid: 1 },
      { id: "zero", pid: 0 },
      { id: "all", pid: -1 },
    ]);
    const before = await Deno.readFile(ws.file);
    for (const id of ["init", "zero", "all"]) {
      assertFailure(
        await loops(["stop", id, "--force", "--timeout", "0"], {
          ws: ws.path,
        }),
        /^loops: Refusing to signal loop .* init process or a process group/,
      );
    }
    assert.deepEqual(await Deno.readFile(ws.file), before);
    await Deno.remove(ws.file);
  });

  await t.step(
    "refuses a reused pid and leaves the process alone",
    async () => {
      await using loop = await sleeper();
      await register(loop.pid, "reused");
      const [entry] = await readEntries(ws);
      assert.equal(typeof entry!.pid_start_time, "number");
      // The recorded identity no longer matches: the pid now names another
      // process.
      await writeEntries(ws, [{
        ...entry!,
        pid_start_time: (entry!.pid_start_time as number) + 1,
      }]);
      assertFailure(
        await loops(["stop", "reused", "--force", "--timeout", "0"], {
          ws: ws.path,
        }),
        /Refusing to signal loop "reused" as pid \d+ now belongs to another process/,
      );
      assert.ok(
        exists(loop.pid) && !loop.exited(),
        "the process was signalled",
      );
      await Deno.remove(ws.file);
    },
  );

  await t.step("refuses its own pid", async () => {
    // `exec` keeps the shell's pid (and start time) for the CLI that stops.
    const cli = (args: string) =>
      `"${Deno.execPath()}" run -A "${
        new URL("../../cli.ts", import.meta.url).pathname
      }" --workspace "${ws.path}" ${args}`;
    const output = await new Deno.Command("sh", {
      args: [
        "-c",
        `${cli("register --pid $$ --prompt self --id self")} >/dev/null && ` +
        `exec ${cli("stop self --force --timeout 0")}`,
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 1, stderr);
    assert.match(
      stderr,
      /^loops: Refusing to signal loop "self" as its pid \d+ is this process\n$/,
    );
    await Deno.remove(ws.file);
  });

  await t.step(
    "refuses a loop of unknown status, naming --allow-run",
    async () => {
      await using loop = await sleeper();
      await register(loop.pid, "unknown");
      const listed = await loops(["list", "--json"], {
        ws: ws.path,
        flags: ["--allow-read", "--allow-write"],
      });
      assert.equal(JSON.parse(listed.stdout)[0].status, "unknown");
      assertFailure(
        await loops(["stop", "unknown", "--force"], {
          ws: ws.path,
          flags: ["--allow-read", "--allow-write"],
        }),
        /--allow-run/,
      );
      assert.ok(!loop.exited());
      await Deno.remove(ws.file);
    },
  );

  await t.step("an exited loop is removed, a missing one exits 1", async () => {
    await writeEntries(ws, [{ id: "ended", pid: await deadPid() }]);
    const result = await loops(["stop", "ended"], { ws: ws.path });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /had already exited; entry removed/);
    assert.deepEqual(await readEntries(ws), []);
    assertFailure(
      await loops(["stop", "ended"], { ws: ws.path }),
      /Cannot find loop "ended"/,
    );
  });
});

Deno.test("loops watch --json prints a line per change and exits 130 on SIGINT", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  const watch = spawnLoops(["watch", "--json"], { ws: ws.path });
  const lines = new Lines(watch.stdout);
  // Never hang the suite: kill the watcher if it goes quiet.
  const guard = setTimeout(() => watch.kill("SIGKILL"), 30_000);
  try {
    assert.equal(await lines.next(), "[]");
    const registered = await loops(
      ["register", "--pid", String(loop.pid), "--prompt", "p", "--id", "seen"],
      { ws: ws.path },
    );
    assert.equal(registered.code, 0);
    const line = await lines.next();
    assert.ok(line !== undefined, "watch ended without a second line");
    const list = JSON.parse(line);
    assert.deepEqual(list.map((e: { id: string }) => e.id), ["seen"]);
    assert.equal(list[0].status, "running");
    watch.kill("SIGINT");
    assert.equal(await lines.rest(), "");
    const status = await watch.status;
    assert.equal(status.code, 130);
  } finally {
    clearTimeout(guard);
    const stderr = await new Response(watch.stderr).text();
    assertClean({ stderr });
  }
});

Deno.test("loops watch shows the table until SIGINT", async () => {
  await using ws = await tempWorkspace();
  const watch = spawnLoops(["watch"], { ws: ws.path });
  const lines = new Lines(watch.stdout);
  const guard = setTimeout(() => watch.kill("SIGKILL"), 30_000);
  try {
    assert.equal(await lines.next(), `No loops registered in ${ws.path}`);
    assert.equal(await lines.next(), "");
    assert.match((await lines.next())!, /^Watching .*loops\.json \(Ctrl\+C/);
    watch.kill("SIGINT");
    await lines.rest();
    assert.equal((await watch.status).code, 130);
  } finally {
    clearTimeout(guard);
    const stderr = await new Response(watch.stderr).text();
    assertClean({ stderr });
  }
});

Deno.test("loops names the missing permission flag", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  assertFailure(
    await loops(["register", "--pid", String(loop.pid), "--prompt", "p"], {
      ws: ws.path,
      flags: ["--allow-read"],
    }),
    /--allow-write/,
  );
  assertFailure(
    await loops(["list"], { ws: ws.path, flags: [] }),
    /--allow-read/,
  );
  assertFailure(
    await loops(["run", "--", "true"], {
      ws: ws.path,
      flags: ["--allow-read", "--allow-run"],
    }),
    /--allow-write/,
  );
  await assert.rejects(Deno.lstat(ws.file), Deno.errors.NotFound);
});

Deno.test("loops reports a corrupt registry in one line and repair fixes it", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await Deno.mkdir(`${ws.path}/.ralph`);
  await Deno.writeTextFile(ws.file, "{oops");
  for (
    const args of [
      ["list"],
      ["list", "--json"],
      ["get", "x"],
      ["register", "--pid", String(loop.pid), "--prompt", "p"],
      ["deregister", "x"],
      ["clean"],
      ["stop", "x"],
      ["run", "--", "true"],
    ]
  ) {
    assertFailure(
      await loops(args, { ws: ws.path }),
      /^loops: Cannot read registry .* as it is not valid JSON .*loops repair/,
    );
  }
  assert.equal(await Deno.readTextFile(ws.file), "{oops");
  const repaired = await loops(["repair"], { ws: ws.path, flags: RWX });
  assert.equal(repaired.code, 0, repaired.stderr);
  const aside = repaired.stdout.match(/^Moved the corrupt registry to "(.+)"/)
    ?.[1];
  assert.ok(aside !== undefined, repaired.stdout);
  assert.equal(await Deno.readTextFile(aside), "{oops");
  const listed = await loops(["list", "--json"], { ws: ws.path });
  assert.deepEqual([listed.code, listed.stdout], [0, "[]\n"]);
  const healthy = await loops(["repair"], { ws: ws.path, flags: RWX });
  assert.deepEqual(
    [healthy.code, healthy.stdout],
    [0, `Registry "${ws.file}" is healthy: nothing to repair\n`],
  );
});
