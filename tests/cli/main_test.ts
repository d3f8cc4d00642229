// The `loops` CLI run in-process: `main(args, io)` with a fake io (output
// captured, no colour, no terminal, an empty environment): every command but
// `run`, `stop` and `watch`, exit codes 0, 1 and 2, the JSON shape, escaping
// and workspace discovery. What needs a real process (run, stop, watch,
// signals, permission flags) is in process_test.ts.
import assert from "node:assert/strict";
import cfg from "../../deno.json" with { type: "json" };
import type { LoopInfo, Registry } from "../../mod.ts";
import { main } from "../../cli.ts";
import { repairCommand } from "../../cli/repair.ts";
import {
  assertFailure,
  assertUsage,
  type CliResult,
  deadPid,
  EXIT,
  loops,
  readEntries,
  runMain,
  sleeper,
  tempWorkspace,
  writeEntries,
} from "../_helpers/cli.ts";

Deno.test("main() --version and --help print to stdout and exit 0", async (t) => {
  await t.step("version", async () => {
    for (const flag of ["--version", "-V"]) {
      const result = await runMain([flag]);
      assert.deepEqual(
        { code: result.code, stdout: result.stdout, stderr: result.stderr },
        { code: 0, stdout: `loops ${cfg.version}\n`, stderr: "" },
      );
    }
  });
  await t.step("help", async () => {
    for (const args of [["--help"], ["-h"], ["help"]]) {
      const result = await runMain(args);
      assert.equal(result.code, 0);
      assert.equal(result.stderr, "");
      assert.match(result.stdout, /^loops \S+: /);
      assert.match(result.stdout, /\nUSAGE:\n/);
      assert.match(result.stdout, /\nCOMMANDS:\n/);
    }
  });
  await t.step("command help", async () => {
    for (const args of [["help", "stop"], ["stop", "--help"], ["-h", "stop"]]) {
      const result = await runMain(args);
      assert.equal(result.code, 0);
      assert.equal(result.stderr, "");
      assert.match(result.stdout, /^USAGE:\n {2}loops stop ID/);
      assert.equal(result.stdout, (await runMain(["help", "stop"])).stdout);
    }
  });
  await t.step("help wins over the other arguments, up to --", async () => {
    const help = await runMain(["help", "run"]);
    assert.match(help.stdout, /^USAGE:\n {2}loops run /);
    for (
      const args of [
        ["run", "--bogus", "-h"],
        ["run", "--help", "--", "cmd"],
        ["--help", "run", "extra"],
      ]
    ) {
      assert.deepEqual(await runMain(args), help, JSON.stringify(args));
    }
    // After `--`, `-h` is the command's.
    assertUsage(await runMain(["run", "--bogus", "--", "-h"]));
  });
});

Deno.test("main() usage errors exit 2 with a hint and change nothing", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await writeEntries(ws, [{ id: "a", pid: loop.pid }]);
  const before = await Deno.readFile(ws.file);
  const vectors = [
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
  const results: CliResult[] = [];
  for (const args of vectors) {
    results.push(await runMain(args, { ws: ws.path }));
  }
  for (const [i, result] of results.entries()) {
    assertUsage(result, vectors[i]);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(result.stderr, /[\u001b\u202e]/);
  }
  assert.deepEqual(await Deno.readFile(ws.file), before);
  assert.ok(!loop.exited(), "a usage error must not signal the process");
});

Deno.test("main() list and get on an empty registry", async () => {
  await using ws = await tempWorkspace();
  // Reading creates nothing.
  const table = await runMain(["list"], { ws: ws.path });
  assert.deepEqual([table.code, table.stderr], [0, ""]);
  assert.equal(table.stdout, `No loops registered in ${ws.path}\n`);
  const json = await runMain(["list", "--json"], { ws: ws.path });
  assert.deepEqual([json.code, json.stdout, json.stderr], [0, "[]\n", ""]);
  assertFailure(
    await runMain(["get", "loop-1-abcd"], { ws: ws.path }),
    /^loops: Cannot find loop "loop-1-abcd"/,
    EXIT.notFound,
  );
  await assert.rejects(Deno.lstat(`${ws.path}/.ralph`), Deno.errors.NotFound);
});

Deno.test("main() register, list, get and deregister round-trip", async () => {
  await using ws = await tempWorkspace();
  await using one = await sleeper();
  await using two = await sleeper();
  const worktree = `${ws.path}/wt`;
  await Deno.mkdir(worktree);
  const registered = await runMain([
    "register",
    "--pid",
    String(one.pid),
    "--prompt",
    "implement auth",
    "--worktree",
    worktree,
    "--id",
    "loop-auth",
  ], { ws: ws.path });
  assert.deepEqual(
    [registered.code, registered.stdout, registered.stderr],
    [0, "loop-auth\n", ""],
  );
  const generated = await runMain(
    ["register", "--pid", String(two.pid), "--prompt", "write docs"],
    { ws: ws.path },
  );
  assert.equal(generated.code, 0);
  assert.match(generated.stdout, /^loop-\d+-[0-9a-f]{4}\n$/);
  const id = generated.stdout.trim();

  {
    const result = await runMain(["list", "--json"], { ws: ws.path });
    assert.deepEqual([result.code, result.stderr], [0, ""]);
    assert.match(result.stdout, /^\[.*\]\n$/);
    const list = JSON.parse(result.stdout);
    assert.equal(list.length, 2);
    // Field order and presence: worktree_path only when set; where it
    // registered (host id, name, pid namespace) as far as it could be read.
    const order = [
      "id",
      "pid",
      "started",
      "prompt",
      "worktree_path",
      "workspace",
      "host_id",
      "hostname",
      "pid_ns",
      "status",
    ];
    const required = ["id", "pid", "started", "prompt", "workspace", "status"];
    for (const [i, entry] of list.entries()) {
      const keys = Object.keys(entry);
      assert.deepEqual(keys, order.filter((key) => keys.includes(key)));
      for (const key of required) assert.ok(keys.includes(key), key);
      assert.equal(keys.includes("worktree_path"), i === 0);
    }
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

  const table = await runMain(["list"], { ws: ws.path });
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

  const got = await runMain(["get", "loop-auth", "--json"], { ws: ws.path });
  assert.equal(got.code, 0);
  const entry = JSON.parse(got.stdout);
  assert.equal(entry.id, "loop-auth");
  assert.equal(entry.status, "running");
  const detail = await runMain(["get", "loop-auth"], { ws: ws.path });
  assert.equal(detail.code, 0);
  assert.match(detail.stdout, /^id: +loop-auth$/m);
  assert.match(detail.stdout, /^status: +running$/m);
  assert.match(detail.stdout, new RegExp(`^pid: +${one.pid}$`, "m"));
  assert.match(detail.stdout, new RegExp(`^worktree: +${worktree}$`, "m"));
  assert.match(detail.stdout, /^prompt: +implement auth$/m);

  // A live loop's id cannot be taken by another process.
  assertFailure(
    await runMain(
      [
        "register",
        "--pid",
        String(two.pid),
        "--prompt",
        "x",
        "--id",
        "loop-auth",
      ],
      { ws: ws.path },
    ),
    /taken/,
  );

  const gone = await runMain(["deregister", "loop-auth"], {
    ws: ws.path,
  });
  assert.deepEqual([gone.code, gone.stdout], [0, "Deregistered loop-auth\n"]);
  assertFailure(
    await runMain(["deregister", "loop-auth"], { ws: ws.path }),
    /Cannot find loop "loop-auth"/,
    EXIT.notFound,
  );
  assertFailure(
    await runMain(["get", "loop-auth"], { ws: ws.path }),
    /Cannot find loop/,
    EXIT.notFound,
  );
  const byPid = await runMain(["deregister", "--pid", String(two.pid)], {
    ws: ws.path,
  });
  assert.deepEqual(
    [byPid.code, byPid.stdout],
    [0, `Deregistered the loops of pid ${two.pid}\n`],
  );
  assertFailure(
    await runMain(["deregister", "--pid", String(two.pid)], {
      ws: ws.path,
    }),
    new RegExp(`Cannot find a loop of pid ${two.pid}`),
    EXIT.notFound,
  );
  assert.deepEqual(await readEntries(ws), []);
  assert.ok(!one.exited() && !two.exited());
});

Deno.test("main() clean removes dead and orphan entries", async () => {
  await using ws = await tempWorkspace();
  await using alive = await sleeper();
  await using orphan = await sleeper();
  const dead = await deadPid();
  const entries = [
    { id: "dead", pid: dead },
    { id: "orphan", pid: orphan.pid, worktree_path: `${ws.path}/gone` },
    { id: "alive", pid: alive.pid, worktree_path: ws.path },
  ];
  await writeEntries(ws, entries);
  const listed = await runMain(["list", "--json"], { ws: ws.path });
  assert.deepEqual(
    JSON.parse(listed.stdout).map((e: { status: string }) => e.status),
    ["orphan", "running"],
  );
  // `list` drops the dead entry from a writable file: put it back.
  await writeEntries(ws, entries);
  const cleaned = await runMain(["clean"], { ws: ws.path });
  assert.deepEqual(
    [cleaned.code, cleaned.stdout, cleaned.stderr],
    [0, "Removed 2 stale entries\n", ""],
  );
  assert.deepEqual((await readEntries(ws)).map((e) => e.id), ["alive"]);
  const again = await runMain(["clean"], { ws: ws.path });
  assert.deepEqual([again.code, again.stdout], [
    0,
    "Removed 0 stale entries\n",
  ]);
  assert.ok(!orphan.exited(), "clean must not signal an orphan");
});

Deno.test("main() output never sends control characters to the terminal", async () => {
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
    runMain(["list"], { ws: ws.path }),
    runMain(["list", "--json"], { ws: ws.path }),
    runMain(["get", id], { ws: ws.path }),
    runMain(["get", id, "--json"], { ws: ws.path }),
    runMain(["get", `${id}x`], { ws: ws.path }),
    // No --allow-run: refused, the message escaped (a real process, so
    // that a bug cannot signal the sleeper).
    loops(["stop", id], { ws: ws.path, flags: ["--allow-read"] }),
  ]);
  // After the reads: it removes the entry.
  runs.push(await runMain(["deregister", id], { ws: ws.path }));
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
  assertFailure(missing!, /Cannot find loop/, EXIT.notFound);
  // No --allow-run: refused, the message escaped.
  assertFailure(stop!, /--allow-run/, EXIT.permission);
  assert.equal(deregistered!.code, 0);
  assert.equal(deregistered!.stdout, `Deregistered id${escaped}\n`);
});

Deno.test("main() finds the workspace from a subdirectory", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await Deno.mkdir(`${ws.path}/.ralph`);
  const deep = `${ws.path}/sub/deep`;
  await Deno.mkdir(deep, { recursive: true });
  const registered = await runMain(
    ["register", "--pid", String(loop.pid), "--prompt", "p", "--id", "found"],
    { cwd: deep },
  );
  assert.equal(registered.code, 0);
  assert.deepEqual((await readEntries(ws)).map((e) => e.id), ["found"]);
  const listed = await runMain(["list", "--json"], {
    cwd: deep,
  });
  const [entry] = JSON.parse(listed.stdout);
  assert.equal(entry.id, "found");
  assert.equal(entry.workspace, ws.path);
  // Without .ralph anywhere above, the current directory is the workspace.
  await using other = await tempWorkspace();
  const empty = await runMain(["list"], { cwd: other.path });
  assert.equal(empty.stdout, `No loops registered in ${other.path}\n`);
  // A relative --workspace and --worktree are taken from the current
  // directory.
  const relative = await runMain(
    [
      "register",
      "--pid",
      String(loop.pid),
      "--prompt",
      "p",
      "--worktree",
      "wt",
    ],
    { ws: "sub/..", cwd: ws.path },
  );
  assert.equal(relative.code, 0, relative.stderr);
  // The same pid: it replaces the entry "found".
  const [added] = await readEntries(ws);
  assert.equal(added?.worktree_path, `${ws.path}/wt`);
  assert.equal(added?.workspace, ws.path);
});

Deno.test("main() reports a corrupt registry in one line and repair fixes it", async () => {
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
      await runMain(args, { ws: ws.path }),
      /^loops: Cannot read registry .* as it is not valid JSON .*'loops repair'/,
      EXIT.corrupt,
    );
  }
  assert.equal(await Deno.readTextFile(ws.file), "{oops");
  const repaired = await runMain(["repair"], { ws: ws.path });
  assert.equal(repaired.code, 0, repaired.stderr);
  const aside = repaired.stdout.match(/the bad file is copied to "(.+)"/)
    ?.[1];
  assert.ok(aside !== undefined, repaired.stdout);
  assert.equal(await Deno.readTextFile(aside), "{oops");
  const listed = await runMain(["list", "--json"], { ws: ws.path });
  assert.deepEqual([listed.code, listed.stdout], [0, "[]\n"]);
  const healthy = await runMain(["repair"], { ws: ws.path });
  assert.deepEqual(
    [healthy.code, healthy.stdout],
    [0, `Registry "${ws.file}" is healthy: nothing to repair\n`],
  );
});

Deno.test("main() reports an unexpected error as a bug, with the stack under LOOPS_DEBUG", async () => {
  for (const debug of [false, true]) {
    const err: string[] = [];
    const code = await main(["--version"], {
      out: () => {
        throw new TypeError("Cannot write: boom");
      },
      err: (text) => err.push(text),
      env: (name) => debug && name === "LOOPS_DEBUG" ? "1" : undefined,
    });
    assert.equal(code, 1);
    assert.equal(
      err[0],
      "loops: Cannot write: boom\n(unexpected error: please report it with the command you ran)",
    );
    assert.equal(err.length, debug ? 2 : 1);
    if (debug) assert.match(err[1]!, /^TypeError: Cannot write: boom\n\s+at /);
  }
});

Deno.test("repair says so when the engine has nothing to repair", async () => {
  const out: string[] = [];
  const none = (): Promise<never> =>
    Promise.reject(new Error("Cannot be called: repair only"));

  // An engine without `repair` (its store cannot be corrupt).
  const registry: Registry = {
    location: "db://loops",
    register: none,
    deregister: none,
    deregisterPid: none,
    get: none,
    list: none,
    inspect: none,
    cleanStale: none,
    claim: none,
    watch: (): AsyncIterable<LoopInfo[]> => {
      throw new Error("Cannot be called: repair only");
    },
    close: () => Promise.resolve(),
  };
  const code = await repairCommand.run({
    io: {
      out: (text) => out.push(text),
      err: () => assert.fail("nothing on stderr"),
      env: () => undefined,
      cwd: () => assert.fail("no current directory"),
      color: false,
      terminal: false,
      columns: undefined,
    },
    workspace: "/ws",
    registry,
    openRegistry: () => registry,
    help: () => "",
  }, { values: {}, positionals: [] });
  assert.equal(code, 0);
  assert.deepEqual(out, [
    'Registry "db://loops" cannot be corrupt: nothing to repair',
  ]);
});
