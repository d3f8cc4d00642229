// `loops completions bash|zsh|fish`: scripts made from the command specs.
// bash and fish are driven for real (bash through COMP_WORDS and the
// completion function, fish through `complete -C`), with loop ids read from
// a registry through a `loops` on PATH; zsh is parsed and loaded after
// compinit. A shell that is not installed is skipped.
import { ignoreOutsideCI, skipReason } from "../_helpers/core.ts";
import assert from "node:assert/strict";
import { COMMANDS } from "../../cli/_commands.ts";
import {
  assertUsage,
  CLI,
  runMain,
  sleeper,
  tempWorkspace,
  writeEntries,
} from "../_helpers/cli.ts";

async function script(shell: string): Promise<string> {
  const result = await runMain(["completions", shell]);
  assert.deepEqual([result.code, result.stderr], [0, ""]);
  return result.stdout;
}

/** A workspace with two loops, and a `loops` on PATH that runs cli.ts. */
async function setup() {
  const ws = await tempWorkspace();
  const loop = await sleeper();
  await writeEntries(ws, [
    { id: "loop-1-aaaa", pid: loop.pid },
    { id: "loop-1-bbbb", pid: loop.pid },
  ]);
  const bin = `${ws.path}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    `${bin}/loops`,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A "${CLI}" "$@"\n`,
    { mode: 0o755 },
  );
  return {
    ws,
    env: { PATH: `${bin}:${Deno.env.get("PATH")}`, NO_COLOR: "1" },
    async [Symbol.asyncDispose]() {
      await loop[Symbol.asyncDispose]();
      await ws[Symbol.asyncDispose]();
    },
  };
}

async function run(
  shell: string,
  args: string[],
  env: Record<string, string>,
): Promise<string> {
  const output = await new Deno.Command(shell, { args, env, stdin: "null" })
    .output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.ok(output.success, stderr);
  assert.equal(stderr, "");
  return new TextDecoder().decode(output.stdout);
}

Deno.test("completions names every command and option of the specs", async () => {
  for (const shell of ["bash", "zsh", "fish"]) {
    const text = await script(shell);
    for (const spec of COMMANDS) {
      assert.ok(text.includes(spec.name), `${shell}: ${spec.name}`);
      for (const option of Object.keys(spec.options)) {
        // bash and zsh write --name, fish -l name.
        assert.ok(
          text.includes(`--${option}`) || text.includes(`-l ${option} `),
          `${shell}: ${spec.name} --${option}`,
        );
      }
    }
  }
  for (
    const args of [["completions"], ["completions", "tcsh"], [
      "completions",
      "bash",
      "x",
    ]]
  ) {
    assertUsage(await runMain(args), args);
  }
});

Deno.test({
  name: "completions bash completes commands, options, values and loop ids",
  ignore: ignoreOutsideCI(skipReason({ tools: ["bash"] })),
  async fn() {
    await using env = await setup();
    const file = `${env.ws.path}/loops.bash`;
    await Deno.writeTextFile(file, await script("bash"));
    const ws = env.ws.path;
    // Each case: the words (the last one is being completed) => the reply.
    const cases: [string[], string[]][] = [
      [["ru"], ["running", "run"]],
      [["--c"], ["--color"]],
      [["--color", ""], ["auto", "always", "never"]],
      [["list", "--st"], ["--status"]],
      [["list", "--status", "r"], ["running", "remote"]],
      [["list", "--sort", ""], ["started", "id", "age"]],
      [["-w", ws, "get", ""], ["loop-1-aaaa", "loop-1-bbbb"]],
      [["stop", "-w", ws, "loop-1-b"], ["loop-1-bbbb"]],
      [["wait", "--timeout", "5", "-w", ws, "loop-1-a"], ["loop-1-aaaa"]],
      // The ID is given: nothing more.
      [["-w", ws, "running", "loop-1-aaaa", ""], []],
      [["completions", ""], ["bash", "zsh", "fish"]],
      [["help", "wa"], ["wait", "watch"]],
      [["list", "--worktree", `${ws}/bi`], [`${ws}/bin`]],
    ];
    const program = cases.map(([words], i) =>
      `COMP_WORDS=(loops ${
        words.map((w) => `'${w}'`).join(" ")
      }); COMP_CWORD=${words.length}; COMPREPLY=(); _loops; echo "${i}:\${COMPREPLY[*]}"`
    ).join("\n");
    const out = await run(
      "bash",
      ["-c", `source '${file}'\n${program}`],
      env.env,
    );
    const replies = out.trimEnd().split("\n");
    for (const [i, [words, expected]] of cases.entries()) {
      assert.equal(replies[i], `${i}:${expected.join(" ")}`, words.join(" "));
    }
  },
});

Deno.test({
  name: "completions fish completes commands, values and loop ids",
  ignore: ignoreOutsideCI(skipReason({ tools: ["fish"] })),
  async fn() {
    await using env = await setup();
    const file = `${env.ws.path}/loops.fish`;
    await Deno.writeTextFile(file, await script("fish"));
    const ask = async (line: string) =>
      (await run(
        "fish",
        ["-c", `source '${file}'; complete -C '${line}'`],
        env.env,
      ))
        .split("\n").filter((l) => l !== "").map((l) => l.split("\t")[0]!)
        .sort();
    assert.deepEqual(await ask("loops runn"), ["running"]);
    assert.deepEqual(await ask("loops list --status r"), ["remote", "running"]);
    assert.deepEqual(await ask(`loops -w ${env.ws.path} get `), [
      "loop-1-aaaa",
      "loop-1-bbbb",
    ]);
    assert.deepEqual(await ask(`loops stop -w ${env.ws.path} loop-1-b`), [
      "loop-1-bbbb",
    ]);
    assert.deepEqual(await ask("loops completions "), ["bash", "fish", "zsh"]);
  },
});

Deno.test({
  name: "completions zsh parses and loads after compinit",
  ignore: ignoreOutsideCI(skipReason({ tools: ["zsh"] })),
  async fn() {
    await using env = await setup();
    const file = `${env.ws.path}/loops.zsh`;
    await Deno.writeTextFile(file, await script("zsh"));
    await run("zsh", ["-n", file], env.env);
    const out = await run("zsh", [
      "-fc",
      `autoload -U compinit && compinit -u -d '${env.ws.path}/zcompdump' && source '${file}' && print -r -- $_comps[loops]`,
    ], env.env);
    assert.equal(out, "_loops\n");
  },
});
