// Shared and privileged workspaces, with real users (as root, `setpriv` to
// uids 65534 "nobody" and 65533): the trust rule, what root leaves behind,
// who may be signalled, and a swapper exchanging the registry's files and
// directory with links and FIFOs while root works (docs/security.md).
import assert from "node:assert/strict";
import {
  createLoopEntry,
  LoopRegistry,
  mayStop,
  UntrustedRegistryError,
} from "../../mod.ts";
import {
  aliveEnv,
  deadPid,
  ignoreOutsideCI,
  lineReader,
  rawEntry,
  readJson,
  rootSkipReason,
  tempWorkspace,
} from "../_helpers/core.ts";

const skip = rootSkipReason("setpriv", "mkfifo");
const OP = new URL("../fixtures/security_op.ts", import.meta.url).pathname;
const NOBODY = 65534;
const OTHER = 65533;

function named(name: string): string {
  return skip === undefined ? name : `${name} (skipped: ${skip})`;
}

// Files for other users: a root directory they may traverse, and a DENO_DIR
// they may write (shared by this file's children, so compiled once).
const base = await Deno.makeTempDir({ prefix: "loops_security_test_" });
await Deno.chmod(base, 0o755);
const denoDir = `${base}/deno_dir`;
await Deno.mkdir(denoDir, { mode: 0o777 });
await Deno.chmod(denoDir, 0o777);
let counter = 0;

/** A new directory under `base`, owned by `uid` with `mode`. */
async function dir(mode: number, uid = 0, gid = uid): Promise<string> {
  const path = `${base}/d${counter++}`;
  await Deno.mkdir(path);
  await Deno.chown(path, uid, gid);
  await Deno.chmod(path, mode);
  return path;
}

/** Writes a registry file (and `.ralph`) with the given owner and modes. */
async function plant(
  workspace: string,
  loops: unknown[],
  options: { uid?: number; dirMode?: number; fileMode?: number } = {},
): Promise<string> {
  const { uid = 0, dirMode = 0o755, fileMode = 0o644 } = options;
  const ralph = `${workspace}/.ralph`;
  await Deno.mkdir(ralph, { recursive: true });
  const file = `${ralph}/loops.json`;
  await Deno.writeTextFile(file, JSON.stringify({ loops }, null, 2));
  for (const path of [ralph, file]) await Deno.chown(path, uid, uid);
  await Deno.chmod(ralph, dirMode);
  await Deno.chmod(file, fileMode);
  return file;
}

interface ChildOptions {
  uid?: number;
  env?: Record<string, string>;
  umask?: string;
  flags?: string[];
}

/** A `deno run security_op.ts <args>` child, as `uid` when given. */
function child(args: string[], options: ChildOptions = {}): Deno.Command {
  const deno = [
    Deno.execPath(),
    "run",
    "--quiet",
    "--no-config",
    ...(options.flags ?? ["-A"]),
    OP,
    ...args,
  ];
  const user = options.uid === undefined ? [] : [
    "setpriv",
    `--reuid=${options.uid}`,
    `--regid=${options.uid}`,
    "--clear-groups",
  ];
  const umask = options.umask === undefined
    ? []
    : ["sh", "-c", `umask ${options.umask} && exec "$@"`, "sh"];
  const [command, ...rest] = [...umask, ...user, ...deno];
  return new Deno.Command(command!, {
    args: rest,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { DENO_DIR: denoDir, ...options.env },
  });
}

/** Runs a child to completion; its last stdout line, parsed. */
async function run(
  args: string[],
  options: ChildOptions = {},
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const output = await child(args, options).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  const last = stdout.trim().split("\n").at(-1);
  assert.ok(last, `no output; stderr: ${stderr}`);
  return JSON.parse(last);
}

/** A `sleep` running as `uid` (its real, effective and saved uid). */
function sleeper(uid: number): Deno.ChildProcess {
  return new Deno.Command("setpriv", {
    args: [
      `--reuid=${uid}`,
      `--regid=${uid}`,
      "--clear-groups",
      "sleep",
      "60",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function stop(process: Deno.ChildProcess): Promise<void> {
  process.kill("SIGKILL");
  await process.status;
}

async function owner(path: string): Promise<[number, number, number]> {
  const info = await Deno.lstat(path);
  return [info.uid!, info.gid!, info.mode! & 0o7777];
}

function untrusted(reason: string, ...mentions: string[]) {
  return (error: unknown) => {
    assert.ok(error instanceof UntrustedRegistryError, String(error));
    assert.ok(error instanceof Deno.errors.PermissionDenied);
    assert.equal(error.reason, reason, error.message);
    for (const text of mentions) {
      assert.ok(error.message.includes(text), `${text}: ${error.message}`);
    }
    return true;
  };
}

const entry = (id: string, workspace: string, pid = 7001) =>
  createLoopEntry("p", { id, pid, workspace });

Deno.test({
  name: named(
    "root in a user's workspace gives what it creates to that user, and changes no owner or mode",
  ),
  ignore: ignoreOutsideCI(skip),
  async fn(t) {
    const files = [".ralph", ".ralph/loops.json", ".ralph/loops.json.journal"];
    await t.step(
      "sudo register, deregister, repair (-A: through the pinned directory)",
      async () => {
        const ws = await dir(0o755, NOBODY);
        const cycled = await run(["cycle", ws, "by-root"]);
        assert.equal(cycled.ok, "by-root", JSON.stringify(cycled));
        for (const path of files) {
          const [uid, gid] = await owner(`${ws}/${path}`);
          assert.deepEqual([uid, gid], [NOBODY, NOBODY], path);
        }
        const mine = await run(["register", ws, "by-nobody"], { uid: NOBODY });
        assert.equal(mine.ok, "by-nobody", JSON.stringify(mine));
        // Root repairs a corrupt file: the copy aside is the user's too.
        await Deno.writeTextFile(`${ws}/.ralph/loops.json`, "{oops");
        const repaired = await run(["repair", ws]);
        assert.ok(repaired.ok, JSON.stringify(repaired));
        assert.deepEqual((await owner(repaired.ok)).slice(0, 2), [
          NOBODY,
          NOBODY,
        ]);
        const again = await run(["register", ws, "after-repair"], {
          uid: NOBODY,
        });
        assert.equal(again.ok, "after-repair", JSON.stringify(again));
      },
    );
    await t.step(
      "the same in-process, without --allow-sys or -A (root learns it from the new file)",
      async () => {
        const ws = await dir(0o755, NOBODY);
        const registry = new LoopRegistry(ws, { env: aliveEnv });
        await registry.register(entry("by-root", ws));
        await registry.deregister("by-root");
        for (const path of files) {
          const [uid, gid] = await owner(`${ws}/${path}`);
          assert.deepEqual([uid, gid], [NOBODY, NOBODY], path);
        }
        const mine = await run(["register", ws, "by-nobody"], { uid: NOBODY });
        assert.equal(mine.ok, "by-nobody", JSON.stringify(mine));
      },
    );
    await t.step(
      "root refuses to write a root-owned file in a user's .ralph; the user replaces an empty root journal",
      async () => {
        const ws = await dir(0o755, NOBODY);
        const file = await plant(ws, [], { uid: NOBODY });
        await Deno.writeFile(`${file}.journal`, new Uint8Array());
        await Deno.chmod(`${file}.journal`, 0o644); // root's, as older versions left it
        const refused = await run(["cycle", ws, "x"]);
        assert.equal(
          refused.error?.name,
          "UntrustedRegistryError",
          JSON.stringify(refused),
        );
        assert.match(
          refused.error.message,
          /owned by root while .* uid 65534 \(nobody\)/,
        );
        assert.match(refused.error.message, /chown 65534:/);
        const mine = await run(["cycle", ws, "by-nobody"], { uid: NOBODY });
        assert.equal(mine.ok, "by-nobody", JSON.stringify(mine));
        assert.deepEqual((await owner(`${file}.journal`)).slice(0, 2), [
          NOBODY,
          NOBODY,
        ]);
      },
    );
    await t.step(
      "sudo clean of ralph's registry leaves a journal the user can write",
      async () => {
        const ws = await dir(0o755, NOBODY);
        const file = await plant(ws, [rawEntry("dead", await deadPid())], {
          uid: NOBODY,
          fileMode: 0o640,
        });
        const before = await owner(file);
        const cleaned = await run(["clean", ws]);
        assert.equal(cleaned.ok, 1, JSON.stringify(cleaned));
        assert.deepEqual(await owner(file), before, "owner and mode unchanged");
        const [uid, gid, mode] = await owner(`${file}.journal`);
        assert.deepEqual([uid, gid, mode], [NOBODY, NOBODY, 0o640]);
        const mine = await run(["register", ws, "owner-after-sudo"], {
          uid: NOBODY,
        });
        assert.equal(mine.ok, "owner-after-sudo", JSON.stringify(mine));
      },
    );
  },
});

Deno.test({
  name: named(
    "changes are refused in a registry someone else could write; reads work and clean nothing",
  ),
  ignore: ignoreOutsideCI(skip),
  async fn(t) {
    const dead = await deadPid();
    await t.step(".ralph writable by others", async () => {
      const ws = await dir(0o755);
      const file = await plant(ws, [rawEntry("dead", dead)], {
        dirMode: 0o777,
      });
      const before = await Deno.readFile(file);
      const registry = new LoopRegistry(ws);
      await assert.rejects(
        registry.register(entry("x", ws)),
        untrusted(
          "writable",
          `"${ws}/.ralph"`,
          "mode 0777",
          `LOOPS_TRUST="${ws}"`,
        ),
      );
      await assert.rejects(registry.cleanStale(), UntrustedRegistryError);
      await assert.rejects(registry.repair(), UntrustedRegistryError);
      // A read hides the dead entry and writes nothing.
      assert.deepEqual(await registry.list(), []);
      assert.deepEqual(await Deno.readFile(file), before);
      // Trusted on purpose, it works.
      await new LoopRegistry(ws, { trusted: true }).register(entry("x", ws));
    });
    await t.step("a sticky .ralph (like /tmp) is trusted", async () => {
      const ws = await dir(0o755);
      await plant(ws, [], { dirMode: 0o1777 });
      await new LoopRegistry(ws).register(entry("x", ws));
    });
    await t.step("a workspace (an ancestor) writable by others", async () => {
      const ws = await dir(0o777);
      // Nothing is created there: not even .ralph.
      await assert.rejects(
        new LoopRegistry(ws).register(entry("x", ws)),
        untrusted("writable", `"${ws}" is writable by others`),
      );
      await assert.rejects(Deno.lstat(`${ws}/.ralph`), Deno.errors.NotFound);
      await plant(ws, []);
      await assert.rejects(
        new LoopRegistry(ws).register(entry("x", ws)),
        untrusted("writable", `"${ws}" is writable by others`),
      );
    });
    await t.step("another user's .ralph, for a non-root caller", async () => {
      const ws = await dir(0o755, NOBODY);
      await plant(ws, [rawEntry("a", 1)], { uid: NOBODY, fileMode: 0o666 });
      const refused = await run(["register", ws, "x"], { uid: OTHER });
      assert.equal(refused.error?.name, "UntrustedRegistryError");
      assert.match(
        refused.error.message,
        /owned by uid 65534 \(nobody\), not by you \(uid 65533\)/,
      );
      const listed = await run(["calls", ws, "2"], { uid: OTHER });
      assert.equal(listed.op, "list");
      assert.equal(listed.ok, 1, JSON.stringify(listed));
    });
    await t.step(
      "a group-writable .ralph: a shared group is refused, a private one is not",
      async () => {
        const ws = await dir(0o755);
        await plant(ws, [], { dirMode: 0o775 });
        await Deno.chown(`${ws}/.ralph`, 0, NOBODY); // nogroup: shared
        await assert.rejects(
          new LoopRegistry(ws).register(entry("x", ws)),
          untrusted("writable", "its group (gid 65534)"),
        );
        await Deno.chown(`${ws}/.ralph`, 0, 0); // root's private group
        await new LoopRegistry(ws).register(entry("x", ws));
      },
    );
    await t.step(
      "LOOPS_TRUST names the workspace, '*', or another one",
      async () => {
        const ws = await dir(0o755);
        await plant(ws, [], { dirMode: 0o777 });
        for (
          const [value, ok] of [[ws, true], [`/x:${ws}/.ralph/`, true], [
            "*",
            true,
          ], ["/elsewhere", false]] as const
        ) {
          const result = await run(["register", ws, `t-${counter++}`], {
            env: { LOOPS_TRUST: value },
          });
          assert.equal(
            result.error === undefined,
            ok,
            `${value}: ${JSON.stringify(result)}`,
          );
        }
      },
    );
    await t.step(
      "a loops.json with a second hard link is refused, trusted or not",
      async () => {
        const ws = await dir(0o755);
        const file = await plant(ws, []);
        const other = `${base}/other_${counter++}.json`;
        await Deno.link(file, other);
        const before = await Deno.readFile(other);
        for (const trusted of [false, true]) {
          await assert.rejects(
            new LoopRegistry(ws, { trusted }).register(entry("x", ws)),
            untrusted("hard-links", "2 hard links"),
          );
        }
        assert.deepEqual(await Deno.readFile(other), before);
      },
    );
  },
});

Deno.test({
  name: named("a fresh loops.json is readable by the group under a 0002 umask"),
  ignore: ignoreOutsideCI(skip),
  async fn() {
    await using ws = await tempWorkspace("loops_umask_test_");
    for (const id of ["second"]) {
      const result = await run(["register", ws.path, id], { umask: "0002" });
      assert.equal(result.ok, id, JSON.stringify(result));
    }
    assert.equal((await owner(ws.dir))[2], 0o775);
    assert.equal((await owner(ws.file))[2], 0o664);
    assert.equal((await owner(ws.journal))[2], 0o664);
    // The first child has exited: its entry is gone as dead.
    assert.deepEqual((await readJson(ws)).loops.map((e) => e.id), ["second"]);
  },
});

Deno.test({
  name: named(
    "mayStop() never lets a registry aim a signal at another user's process",
  ),
  ignore: ignoreOutsideCI(skip),
  async fn(t) {
    const mine = sleeper(NOBODY);
    const theirs = sleeper(OTHER);
    try {
      const ws = await dir(0o755, NOBODY);
      const file = await plant(ws, [
        rawEntry("theirs", theirs.pid),
        rawEntry("mine", mine.pid),
        rawEntry("root", Deno.pid),
      ], { uid: NOBODY });
      // mayStop() needs --allow-sys=uid and -A for /proc: a root child.
      const asRoot = (path: string, pid: number) =>
        run(["may-stop", path, `${pid}`]);
      await t.step("root: only the registry owner's processes", async () => {
        const refused = await asRoot(file, theirs.pid);
        assert.equal(refused.reason, "other-user", JSON.stringify(refused));
        assert.match(
          refused.message,
          /belongs to uid 65533.*registry file's owner, uid 65534 \(nobody\)/,
        );
        const root = await asRoot(file, Deno.pid);
        assert.equal(root.reason, "other-user", JSON.stringify(root));
        const allowed = await asRoot(file, mine.pid);
        assert.equal(allowed.allowed, true, JSON.stringify(allowed));
        assert.equal(allowed.processUid, NOBODY);
        assert.equal(allowed.registryOwnerUid, NOBODY);
        // In-process, without --allow-sys: refused, naming the flag.
        const blind = mayStop(file, mine.pid);
        assert.ok(!blind.allowed && blind.reason === "unverifiable");
        assert.match(blind.message, /--allow-sys=uid/);
      });
      await t.step("a user: only their own processes", async () => {
        const own = await run(["may-stop", file, `${mine.pid}`], {
          uid: NOBODY,
        });
        assert.equal(own.allowed, true, JSON.stringify(own));
        const other = await run(["may-stop", file, `${theirs.pid}`], {
          uid: NOBODY,
        });
        assert.equal(other.allowed, false);
        assert.match(
          other.message,
          /belongs to uid 65533, not to you \(uid 65534 \(nobody\)\)/,
        );
      });
      await t.step(
        "an untrusted registry is refused; a gone pid is gone",
        async () => {
          const open = await dir(0o755);
          const planted = await plant(open, [rawEntry("x", mine.pid)], {
            dirMode: 0o777,
          });
          const refused = await asRoot(planted, mine.pid);
          assert.equal(refused.reason, "untrusted", JSON.stringify(refused));
          assert.match(refused.message, /LOOPS_TRUST/);
          const gone = await asRoot(file, await deadPid());
          assert.equal(gone.reason, "gone", JSON.stringify(gone));
          // Without -A the owner of a pid cannot be read: refused, naming it.
          const narrow = await run(["may-stop", file, `${mine.pid}`], {
            flags: ["--allow-read", "--allow-sys=uid"],
          });
          assert.equal(narrow.reason, "unverifiable", JSON.stringify(narrow));
          assert.match(narrow.message, /-A/);
        },
      );
    } finally {
      await stop(mine);
      await stop(theirs);
    }
  },
});

// --- the swapper ------------------------------------------------------------

const CALLS = Number(Deno.env.get("LOOPS_SWAP_CALLS") ?? 500);

interface CallLine {
  i: number;
  op: string;
  ms: number;
  ok?: unknown;
  error?: { name: string; message: string };
}

/** Errors a call may end with under the swapper: each names what and why. */
const CLEAR = new Set([
  "Busy",
  "CorruptRegistryError",
  "UntrustedRegistryError",
  "LoopNotFoundError",
  "LockTimeoutError",
]);

/**
 * Root runs `CALLS` register/list/deregister calls in `ws` while `nobody`
 * exchanges the journal, loops.json and .ralph with links (to `target`)
 * and FIFOs. Returns the calls' lines; fails on a call over 10 s.
 */
async function underSwapper(
  ws: string,
  target: string,
  env: Record<string, string> = {},
): Promise<{ lines: CallLine[]; exchanges: number }> {
  const ralph = `${ws}/.ralph`;
  const decoy = `${ws}/decoy`;
  await Deno.mkdir(decoy);
  await Deno.symlink(target, `${decoy}/loops.json.journal`);
  await new Deno.Command("mkfifo", { args: [`${decoy}/loops.json`] }).output();
  await Deno.symlink(target, `${ralph}/journal.link`);
  await Deno.symlink(target, `${ralph}/file.link`);
  await new Deno.Command("mkfifo", { args: [`${ralph}/file.fifo`] }).output();
  await Deno.writeFile(`${ralph}/loops.json.journal`, new Uint8Array());
  // The attacker's own things (a link's owner does not matter here).
  for (
    const path of [
      decoy,
      `${decoy}/loops.json`,
      `${ralph}/file.fifo`,
      `${ralph}/loops.json.journal`,
    ]
  ) {
    await Deno.chown(path, NOBODY, NOBODY);
  }
  const stopFile = `${base}/stop_${counter++}`;
  const swapper = child([
    "swap",
    stopFile,
    `${ralph}/loops.json.journal,${ralph}/journal.link`,
    `${ralph}/loops.json,${ralph}/file.fifo`,
    `${ralph}/loops.json,${ralph}/file.link`,
    `${ralph},${decoy}`,
  ], { uid: NOBODY, flags: ["--allow-ffi", "--allow-read", "--allow-write"] })
    .spawn();
  // Root's calls start once the swapper is exchanging.
  const swapped = lineReader(swapper.stdout);
  assert.equal(await swapped(), '{"swapping":true}');
  const caller = child(["calls", ws, `${CALLS}`], { env }).spawn();
  const next = lineReader(caller.stdout);
  const lines: CallLine[] = [];
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const line = await Promise.race([
        next(),
        new Promise<"hung">((resolve) =>
          timer = setTimeout(() => resolve("hung"), 10_000)
        ),
      ]);
      clearTimeout(timer);
      if (line === "hung") {
        assert.fail(
          `call ${lines.length} did not return within 10 s (${
            JSON.stringify(lines.at(-1))
          })`,
        );
      }
      if (line === undefined) break;
      lines.push(JSON.parse(line));
    }
  } finally {
    await Deno.writeTextFile(stopFile, "");
    try {
      caller.kill("SIGKILL");
    } catch {
      // It has exited: all its calls returned.
    }
    await caller.status;
    await new Response(caller.stderr).text();
  }
  const last = JSON.parse(await swapped() ?? "{}");
  while (await swapped() !== undefined) { /* drain */ }
  await swapper.status;
  await new Response(swapper.stderr).text();
  return { lines, exchanges: Number(last.exchanges ?? 0) };
}

function summarize(name: string, lines: CallLine[], exchanges: number) {
  const errors: Record<string, number> = {};
  for (const line of lines) {
    if (line.error) {
      errors[line.error.name] = (errors[line.error.name] ?? 0) + 1;
    }
  }
  const ok = lines.filter((l) => l.error === undefined).length;
  const slowest = Math.max(...lines.map((l) => l.ms));
  // deno-lint-ignore no-console
  console.log(
    `swapper ${name}: ${lines.length} calls, ${ok} ok, errors ${
      JSON.stringify(errors)
    }, slowest ${slowest} ms, ${exchanges} exchanges`,
  );
  return { ok, errors };
}

function assertClear(lines: CallLine[]) {
  for (const line of lines) {
    if (line.error === undefined) continue;
    assert.ok(CLEAR.has(line.error.name), JSON.stringify(line));
    assert.match(line.error.message, /^Cannot [a-z]/, JSON.stringify(line));
    assert.ok(!line.error.message.includes("\n"), JSON.stringify(line));
  }
}

async function targetState(target: string) {
  const info = await Deno.lstat(target);
  return {
    bytes: await Deno.readFile(target),
    mode: info.mode,
    uid: info.uid,
    mtime: info.mtime?.getTime(),
  };
}

Deno.test({
  name: named(
    `a swapper exchanging the journal, loops.json and .ralph with links and FIFOs never gets a byte written through (${CALLS} calls per case)`,
  ),
  ignore: ignoreOutsideCI(skip),
  async fn(t) {
    const secret = await dir(0o755);
    const target = `${secret}/target`;
    await Deno.writeTextFile(target, "root's secret\n".repeat(100));
    await Deno.chmod(target, 0o600);
    const before = await targetState(target);

    await t.step(
      "root in the attacker's own workspace (trusted by the rule)",
      async () => {
        const ws = await dir(0o755, NOBODY);
        await plant(ws, [], { uid: NOBODY });
        const { lines, exchanges } = await underSwapper(ws, target);
        assert.equal(lines.length, CALLS);
        assert.ok(exchanges > 0, "the swapper ran");
        assertClear(lines);
        summarize("user's workspace", lines, exchanges);
        assert.deepEqual(await targetState(target), before);
      },
    );
    await t.step(
      "a workspace others can write, trusted with LOOPS_TRUST",
      async () => {
        const ws = await dir(0o777);
        await plant(ws, [], { dirMode: 0o777, fileMode: 0o666 });
        const { lines, exchanges } = await underSwapper(ws, target, {
          LOOPS_TRUST: ws,
        });
        assert.equal(lines.length, CALLS);
        assertClear(lines);
        summarize("LOOPS_TRUST", lines, exchanges);
        assert.deepEqual(await targetState(target), before);
      },
    );
    await t.step(
      "the same workspace untrusted: every change refused, reads work",
      async () => {
        const ws = await dir(0o777);
        await plant(ws, [], { dirMode: 0o777, fileMode: 0o666 });
        const { lines, exchanges } = await underSwapper(ws, target);
        assert.equal(lines.length, CALLS);
        assertClear(lines);
        const { errors } = summarize("untrusted", lines, exchanges);
        for (const line of lines) {
          if (line.op === "register") {
            assert.ok(line.error, JSON.stringify(line));
          }
        }
        assert.ok((errors.UntrustedRegistryError ?? 0) > 0);
        assert.ok(lines.some((l) => l.op === "list" && l.error === undefined));
        assert.deepEqual(await targetState(target), before);
      },
    );
  },
});

Deno.test({
  name: "security fixtures are removed",
  async fn() {
    await Deno.remove(base, { recursive: true });
  },
});
