// The `loops` CLI as a real process (`deno run <flags> cli.ts`, NO_COLOR=1),
// for what needs one: `run` (a child, forwarded signals, exit codes 128+N),
// `stop` (real signals, its own pid), `watch` (SIGINT, exit 130), and the
// permission flags each command needs. The rest runs in-process in
// main_test.ts.
import assert from "node:assert/strict";
import cfg from "../../deno.json" with { type: "json" };
import { EXIT } from "../../cli/_errors.ts";
import {
  assertClean,
  assertFailure,
  CLI,
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

Deno.test("loops --version and --help need no permission", async () => {
  for (const flag of ["--version", "-V"]) {
    const result = await loops([flag], { flags: [] });
    assert.deepEqual(
      { code: result.code, stdout: result.stdout, stderr: result.stderr },
      { code: 0, stdout: `loops ${cfg.version}\n`, stderr: "" },
    );
  }
  for (const args of [["--help"], ["-h"], ["help"], ["help", "stop"]]) {
    const result = await loops(args, { flags: [] });
    assert.deepEqual([result.code, result.stderr], [0, ""], String(args));
    assert.match(result.stdout, /^(loops \S+: |USAGE:\n)/);
  }
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
  await t.step("a missing command exits 127", async () => {
    const result = await loops(["run", "--", "loops-no-such-command-xyz"], {
      ws: ws.path,
      flags: RWX,
    });
    assert.equal(result.code, 127, result.stderr);
    assert.match(result.stderr, /not found/);
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
      CLI,
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
        // Registered under loops run first, then moved to the child's pid:
        // killed before the move, the entry would die with loops run.
        return (await readEntries(ws)).some((e) =>
          e.id === "orphaned" && e.pid === childPid
        );
      } catch {
        return false;
      }
    }, "the child to be registered under its own pid");
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
      EXIT.timeout,
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
        EXIT.refused,
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
        EXIT.refused,
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
      `"${Deno.execPath()}" run -A "${CLI}" --workspace "${ws.path}" ${args}`;
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
    assert.equal(output.code, EXIT.refused, stderr);
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
        EXIT.permission,
      );
      assert.ok(!loop.exited());
      await Deno.remove(ws.file);
    },
  );

  await t.step(
    "refuses a loop of another host or pid namespace",
    async () => {
      await using loop = await sleeper();
      // Its pid means another process here: this host's sleeper.
      await writeEntries(ws, [
        { id: "remote", pid: loop.pid, host_id: "another-host" },
      ]);
      const listed = await loops(["list", "--json"], { ws: ws.path });
      assert.equal(JSON.parse(listed.stdout)[0].status, "remote");
      assertFailure(
        await loops(["stop", "remote", "--force", "--timeout", "0"], {
          ws: ws.path,
        }),
        /^loops: Refusing to signal loop "remote" as it runs on another host, .*: stop it there/,
        EXIT.refused,
      );
      assert.ok(!loop.exited(), "the process was signalled");
      assert.deepEqual((await readEntries(ws)).map((e) => e.id), ["remote"]);
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
      EXIT.notFound,
    );
  });
});

/**
 * Spawns `loops watch <args>`, runs `body` on its output lines, then checks
 * that SIGINT ends it with exit 130 and a clean stderr. A watcher that goes
 * quiet is killed after 30 s rather than hang the suite.
 *
 * @returns What it printed after `body`, up to its end.
 */
async function watching(
  ws: string,
  args: string[],
  body: (lines: Lines) => Promise<void>,
): Promise<string> {
  const watch = spawnLoops(["watch", ...args], { ws });
  const lines = new Lines(watch.stdout);
  const guard = setTimeout(() => watch.kill("SIGKILL"), 30_000);
  try {
    await body(lines);
    watch.kill("SIGINT");
    const rest = await lines.rest();
    assert.equal((await watch.status).code, 130);
    return rest;
  } finally {
    clearTimeout(guard);
    const stderr = await new Response(watch.stderr).text();
    assertClean({ stderr });
  }
}

Deno.test("loops watch --json prints a line per change and exits 130 on SIGINT", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  const rest = await watching(ws.path, ["--json"], async (lines) => {
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
  });
  assert.equal(rest, "");
});

Deno.test("loops watch shows the table until SIGINT", async () => {
  await using ws = await tempWorkspace();
  await watching(ws.path, [], async (lines) => {
    assert.equal(await lines.next(), `No loops registered in ${ws.path}`);
    assert.equal(await lines.next(), "");
    assert.match((await lines.next())!, /^Watching .*loops\.json \(Ctrl\+C/);
  });
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
    EXIT.permission,
  );
  assertFailure(
    await loops(["list"], { ws: ws.path, flags: [] }),
    /--allow-read/,
    EXIT.permission,
  );
  assertFailure(
    await loops(["run", "--", "true"], {
      ws: ws.path,
      flags: ["--allow-read", "--allow-run"],
    }),
    /--allow-write/,
    EXIT.permission,
  );
  await assert.rejects(Deno.lstat(ws.file), Deno.errors.NotFound);
});

Deno.test("loops commands work with their narrowest flags", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  const read = ["--allow-read"];
  // Reading needs --allow-read only, and creates nothing.
  const empty = await loops(["list"], { ws: ws.path, flags: read });
  assert.deepEqual(
    [empty.code, empty.stdout, empty.stderr],
    [0, `No loops registered in ${ws.path}\n`, ""],
  );
  assertFailure(
    await loops(["get", "loop-1-abcd"], { ws: ws.path, flags: read }),
    /^loops: Cannot find loop "loop-1-abcd"/,
    EXIT.notFound,
  );
  await assert.rejects(Deno.lstat(`${ws.path}/.ralph`), Deno.errors.NotFound);
  const registered = await loops(
    ["register", "--pid", String(loop.pid), "--prompt", "p", "--id", "narrow"],
    { ws: ws.path, flags: RWX },
  );
  assert.deepEqual([registered.code, registered.stdout], [0, "narrow\n"]);
  const listed = await loops(["list", "--json"], { ws: ws.path, flags: read });
  assert.equal(JSON.parse(listed.stdout)[0].status, "unknown");
  const got = await loops(["get", "narrow", "--json"], {
    ws: ws.path,
    flags: ["--allow-read", "--allow-run"],
  });
  assert.equal(JSON.parse(got.stdout).status, "running");
  for (const args of [["clean"], ["repair"], ["deregister", "narrow"]]) {
    const result = await loops(args, { ws: ws.path, flags: RWX });
    assert.deepEqual([result.code, result.stderr], [0, ""], String(args));
  }
  assert.deepEqual(await readEntries(ws), []);
  assert.ok(!loop.exited());
});

Deno.test("a reader that goes away ends the output quietly, exit 0", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  // Several pipe buffers of output: the write after the reader left fails.
  const prompt = "x".repeat(1000);
  await writeEntries(
    ws,
    Array.from({ length: 300 }, (_, i) => ({
      id: `loop-${i}-pipe`,
      pid: loop.pid,
      prompt,
    })),
  );
  const child = spawnLoops(["list", "--json"], { ws: ws.path });
  const reader = child.stdout.getReader();
  const first = await reader.read();
  assert.ok(first.value && first.value.length > 0);
  await reader.cancel();
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
  ]);
  assert.equal(stderr, "");
  assert.equal(status.code, 0);
});
