// The help texts, pinned: `loops --help` and `loops help COMMAND` for every
// command, compared with the files in tests/cli/snapshots/ (the version
// shown as <version>). After a deliberate change of the help, rewrite them:
//
//   UPDATE_SNAPSHOTS=1 deno test --allow-read --allow-write --allow-env tests/cli/help_test.ts
import assert from "node:assert/strict";
import cfg from "../../deno.json" with { type: "json" };
import { COMMANDS } from "../../cli/_commands.ts";
import { EXIT } from "../../cli/_errors.ts";
import { runMain } from "../_helpers/cli.ts";

const UPDATE = Deno.env.get("UPDATE_SNAPSHOTS") === "1";
const SNAPSHOTS = new URL("./snapshots/", import.meta.url);

async function help(args: string[]): Promise<string> {
  const result = await runMain(args);
  assert.deepEqual([result.code, result.stderr], [0, ""], String(args));
  return result.stdout.replaceAll(cfg.version, "<version>");
}

async function matchesSnapshot(name: string, text: string): Promise<void> {
  const file = new URL(`${name}.txt`, SNAPSHOTS);
  if (UPDATE) {
    await Deno.writeTextFile(file, text);
    return;
  }
  let expected: string;
  try {
    expected = await Deno.readTextFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    assert.fail(`No snapshot ${file.pathname}: run with UPDATE_SNAPSHOTS=1`);
  }
  assert.equal(
    text,
    expected,
    `The help changed: if that is meant, run with UPDATE_SNAPSHOTS=1`,
  );
}

Deno.test("loops --help matches its snapshot", async () => {
  await matchesSnapshot("help", await help(["--help"]));
});

Deno.test("loops help COMMAND matches its snapshot for every command", async (t) => {
  for (const { name } of COMMANDS) {
    await t.step(name, async () => {
      const text = await help(["help", name]);
      await matchesSnapshot(`help_${name}`, text);
      // `help --help` asks for the help of a command named "--help".
      if (name !== "help") assert.equal(await help([name, "--help"]), text);
    });
  }
});

Deno.test("loops help names every command, option and exit code", async () => {
  const all = await help(["--help"]);
  for (const flag of ["--workspace", "-w", "--help", "-h", "--version", "-V"]) {
    assert.ok(all.includes(flag), flag);
  }
  const codes = all.slice(all.indexOf("\nEXIT CODES:\n"));
  for (const code of Object.values(EXIT)) {
    assert.match(codes, new RegExp(`\\n +${code}  \\S`), String(code));
  }
  for (const spec of COMMANDS) {
    assert.match(all, new RegExp(`\\n {2}${spec.name}\\b.*`), spec.name);
    const one = await help(["help", spec.name]);
    for (const option of Object.keys(spec.options)) {
      assert.ok(one.includes(`--${option}`), `${spec.name} --${option}`);
    }
  }
});
