// `loops` run by `deno task`, spawned for real: the task runs in the folder
// of deno.json, yet the workspace is found, and relative paths are taken,
// from where the user ran it (INIT_CWD), and nothing is left in the
// project. And the README's merge guard (examples/merge_check.sh), which
// must allow a merge only when the loop is provably not running: against a
// live loop, no loop, a corrupt registry, a held lock, no LOOP_ID and no
// Deno.
import assert from "node:assert/strict";
import {
  CLI,
  holdLock,
  readEntries,
  sleeper,
  tempWorkspace,
  writeEntries,
} from "../_helpers/cli.ts";

const MERGE_CHECK = new URL("../../examples/merge_check.sh", import.meta.url)
  .pathname;

/** env(1), found on this process's PATH (a test may give the child another). */
const ENV = new TextDecoder().decode(
  (await new Deno.Command("sh", { args: ["-c", "command -v env"] }).output())
    .stdout,
).trim();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command` in `cwd` as from a user's shell: without the INIT_CWD and
 * npm_config_user_agent of any `deno task` or `npx` this test runs under
 * (CI runs the tests through `npx deno task test`), with `env` added.
 */
async function spawn(
  command: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<Run> {
  const output = await new Deno.Command(ENV, {
    args: ["-u", "INIT_CWD", "-u", "npm_config_user_agent", ...command],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("deno task loops finds the workspace from the caller's directory", async () => {
  await using root = await tempWorkspace();
  await using loop = await sleeper();
  // A project whose deno.json has the task; a workspace inside it.
  await Deno.writeTextFile(
    `${root.path}/deno.json`,
    JSON.stringify({ tasks: { loops: `deno run -A ${CLI}` } }),
  );
  const ws = `${root.path}/ws`;
  const caller = `${ws}/src/deep`;
  await Deno.mkdir(caller, { recursive: true });
  await Deno.mkdir(`${ws}/.ralph`);
  const task = (...args: string[]) =>
    spawn([Deno.execPath(), "task", "-q", "loops", ...args], caller);
  const registered = await task(
    "register",
    "--pid",
    String(loop.pid),
    "--prompt",
    "p",
    "--id",
    "from-deep",
    "--worktree",
    "wt",
  );
  assert.deepEqual([registered.code, registered.stderr], [0, ""]);
  const entries = JSON.parse(
    await Deno.readTextFile(`${ws}/.ralph/loops.json`),
  ).loops;
  assert.equal(entries[0].workspace, ws);
  assert.equal(entries[0].worktree_path, `${caller}/wt`);
  const listed = await task("list", "-q");
  assert.deepEqual([listed.code, listed.stdout], [0, "from-deep\n"]);
  // Nothing in the folder of deno.json, where the task ran.
  await assert.rejects(Deno.lstat(`${root.path}/.ralph`), Deno.errors.NotFound);
});

Deno.test("the merge-check example allows a merge only when the loop is not running", async (t) => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  const check = (env: Record<string, string>) =>
    spawn(["sh", MERGE_CHECK], ws.path, {
      MERGE_CHECK_LOCK_TIMEOUT: "0.3",
      ...env,
    });
  const blocked = (run: Run, pattern: RegExp) => {
    assert.equal(run.code, 1, JSON.stringify(run));
    assert.match(run.stderr, pattern);
    assert.doesNotMatch(run.stdout, /merge allowed/);
  };
  await writeEntries(ws, [{ id: "loop-1-live", pid: loop.pid }]);

  await t.step("a live loop blocks the merge", async () => {
    blocked(
      await check({ LOOP_ID: "loop-1-live" }),
      /loop loop-1-live is still running: not merging/,
    );
  });
  await t.step("no such loop allows it", async () => {
    const run = await check({ LOOP_ID: "loop-1-gone" });
    assert.equal(run.code, 0, JSON.stringify(run));
    assert.match(run.stdout, /loop loop-1-gone is not running: merge allowed/);
  });
  await t.step("a held lock blocks it (exit 5: cannot tell)", async () => {
    await using _lock = await holdLock(ws.file);
    blocked(
      await check({ LOOP_ID: "loop-1-gone" }),
      /cannot tell whether loop loop-1-gone is running \(loops exited 5\)/,
    );
  });
  await t.step("a corrupt registry blocks it (exit 6)", async () => {
    const good = await Deno.readFile(ws.file);
    await Deno.writeTextFile(ws.file, "{oops");
    try {
      blocked(
        await check({ LOOP_ID: "loop-1-gone" }),
        /\(loops exited 6\): not merging/,
      );
    } finally {
      await Deno.writeFile(ws.file, good);
    }
  });
  await t.step("no LOOP_ID blocks it", async () => {
    blocked(await check({}), /LOOP_ID is not set: not merging/);
    blocked(await check({ LOOP_ID: "" }), /LOOP_ID is not set/);
  });
  await t.step("a Deno that cannot run the CLI blocks it", async () => {
    // Only sh and dirname on PATH; then a `deno` that fails as Deno does
    // when the CLI's module cannot be fetched (exit 1): "cannot tell",
    // never "not running".
    const bin = `${ws.path}/bin`;
    await Deno.mkdir(bin);
    for (const tool of ["sh", "dirname"]) {
      const found = await spawn(["sh", "-c", `command -v ${tool}`], ws.path);
      await Deno.symlink(found.stdout.trim(), `${bin}/${tool}`);
    }
    blocked(
      await check({ LOOP_ID: "loop-1-gone", PATH: bin }),
      /cannot tell whether loop loop-1-gone is running \(loops exited 127\)/,
    );
    await Deno.writeTextFile(
      `${bin}/deno`,
      `#!/bin/sh\necho 'error: Module not found "jsr:@loops/registry/cli"' >&2\nexit 1\n`,
      { mode: 0o755 },
    );
    blocked(
      await check({ LOOP_ID: "loop-1-gone", PATH: bin }),
      /\(loops exited 1\): not merging/,
    );
  });
  assert.deepEqual((await readEntries(ws)).map((e) => e.id), ["loop-1-live"]);
});
