// CLI argument fuzz (issue 5): generated argument vectors, run through `main`
// in one child process (tests/fixtures/cli_fuzz_driver.ts). Checks: exit code
// one of the CLI's table (cli/_errors.ts EXIT); no uncaught exception, stack trace or "unexpected error";
// no raw control character, escape sequence or bidi override in the output;
// no file changed by a rejected (exit 2) vector; no real signal sent.
//
// The vectors come from a seeded PRNG (`LOOPS_FUZZ_SEED`, default 1), so a
// failure is reproducible; `LOOPS_TORTURE=long` runs 20,000 vectors instead of
// 2000. `run` and `watch` appear only in forms rejected before they spawn or
// wait; `stop` only meets entries it must refuse (pid 1, the driver's own
// pid), and the driver records any real signal as a failure.
import assert from "node:assert/strict";
import { isAbsolute, resolve } from "node:path";
import { EXIT } from "../../cli/_errors.ts";

const LONG = Deno.env.get("LOOPS_TORTURE") === "long";
const COUNT = LONG ? 20_000 : 2000;
const SEED = Number(Deno.env.get("LOOPS_FUZZ_SEED") ?? "1");
const DRIVER = new URL("../fixtures/cli_fuzz_driver.ts", import.meta.url)
  .pathname;

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Vector {
  args: string[];
  setup?: "corrupt" | "reset";
  /** The exit code a fixed vector must give. */
  expect?: number;
  /** Text its output must hold. */
  match?: string;
}

/** Fixed vectors run first: paths the random mix reaches only by luck. */
const PRELUDE: Vector[] = [
  {
    setup: "reset",
    args: ["stop", "self"],
    expect: EXIT.refused,
    match: "this process",
  },
  {
    args: ["stop", "init", "--force", "--timeout", "0"],
    expect: EXIT.refused,
    match: "init process",
  },
  { args: ["stop", "init", "--signal", "KILL"], expect: EXIT.refused },
  {
    args: [
      "register",
      "--pid",
      "$PID",
      "--prompt",
      "\x1b[2J\u202e\r",
      "--id",
      "\u202eevil\x9b",
      "--worktree",
      "\x1b]0;x\x07",
    ],
    expect: 0,
    match: "\\u202eevil\\x9b",
  },
  { args: ["list"], expect: 0 },
  { args: ["list", "--json"], expect: 0 },
  { args: ["get", "\u202eevil\x9b"], expect: 0 },
  { args: ["get", "\u202eevil\x9b", "--json"], expect: 0 },
  {
    args: ["stop", "\u202eevil\x9b"],
    expect: EXIT.refused,
    match: "this process",
  },
  { args: ["deregister", "\u202eevil\x9b"], expect: 0 },
  {
    args: ["register", "--pid", "1", "--prompt", "p", "--worktree", "a\0b"],
    expect: 0,
  },
  { args: ["list"], expect: 0 },
  { args: ["clean"], expect: 0 },
  { args: ["help", "toString"], expect: 2 },
  { args: ["help", "__proto__"], expect: 2 },
  { args: ["--workspace", "file.txt", "list"], expect: 1 },
  { args: ["--workspace", "a\0b", "list"], expect: 1 },
  { setup: "corrupt", args: ["list"], expect: EXIT.corrupt },
  { args: ["register", "--pid", "1", "--prompt", "p"], expect: EXIT.corrupt },
  { args: ["register", "--pid", "0", "--prompt", "p"], expect: 2 },
  { args: ["repair"], expect: 0 },
  { args: ["list", "--json"], expect: 0 },
];

const LONG_TEXT = "x".repeat(5000);
const NASTY = [
  "",
  " ",
  "\x1b[2J\x1b[H",
  "\x1b]0;pwned\x07",
  "a\rb",
  "a\nb",
  "\u202eevil",
  "\x9b31m",
  "\u2028",
  "\0",
  "\ud800",
  "日本語",
  "🙂",
  "=",
  "-",
  "--",
  "toString",
  "__proto__",
  "constructor",
];

function generator(root: string, seed: number) {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T =>
    items[Math.floor(random() * items.length)]!;
  const chance = (p: number) => random() < p;
  /** Mostly one of `usual`, else anything from `all`. */
  const often = (usual: readonly string[], all: readonly string[]) =>
    chance(0.6) ? pick(usual) : pick(all);

  const workspaces = [
    ".",
    root,
    "sub",
    "sub/deep",
    `${root}/nested`,
    "file.txt", // a regular file: not a directory
    "a\0b",
    "n".repeat(300), // name too long
    "ünï/çødé",
    "\x1b[2J",
    "-",
    "",
  ];
  const ids = [
    "self",
    "init",
    "missing",
    "loop-1-abcd",
    "x".repeat(300),
    "-x",
    "a=b",
    "$PID",
    ...NASTY,
  ];
  // Valid pids are only this driver's own pid and 1: `stop` must refuse both,
  // so no vector can signal a real process.
  const pids = [
    "$PID",
    "1",
    "01",
    "0",
    "-1",
    "4194305",
    "99999999999999999999999",
    "1.5",
    "0x10",
    "",
    " 1",
    "1abc",
    "\u0661",
    "+1",
    "1e3",
    "NaN",
    "Infinity",
    "-0",
  ];
  const prompts = ["p", "fix the bug", LONG_TEXT, ...NASTY];
  const worktrees = [`${root}/wt`, root, ".", "rel/path", ...NASTY];
  const signals = ["TERM", "SIGINT", "sigterm", "9", "0", "99", "BOGUS", ""];
  const timeouts = ["0", "0.1", "5", "-1", "1e3", "86401", "abc", "", ".5"];
  const statuses = ["running", "orphan", "remote", "unknown", "dead", ""];
  const sorts = ["started", "id", "age", "pid", ""];
  const tokens = [
    "--bogus",
    "-x",
    "--json",
    "--json=false",
    "--force",
    "--pid",
    "--id=",
    "--prompt",
    "--workspace",
    "-w",
    "--help",
    "-h",
    "-V",
    "x".repeat(10000),
    ...NASTY,
  ];

  // Ids `stop` may meet: entries of pid 1 or of the driver, always refused.
  const usualIds = ["self", "init", "loop-1-abcd", "\u202eevil", "\x9bx"];
  const option = (
    name: string,
    values: readonly string[],
    usual: readonly string[] = values,
  ) => {
    const value = often(usual, values);
    return chance(0.2) ? [`--${name}=${value}`] : [`--${name}`, value];
  };

  const commands: (() => string[])[] = [
    () => ["list", ...(chance(0.5) ? ["--json"] : [])],
    // The selection options (issue 12), read-only.
    () => [
      "list",
      ...pick([[], ["-q"], ["--json"]]),
      ...(chance(0.4) ? option("status", statuses) : []),
      ...(chance(0.3) ? option("sort", sorts) : []),
      ...(chance(0.2) ? option("host", NASTY, ["vm", "another-host"]) : []),
      ...(chance(0.2) ? option("worktree", worktrees) : []),
    ],
    () => ["running", often(usualIds, ids)],
    () => ["clean", "--dry-run", ...(chance(0.5) ? ["--json"] : [])],
    () => ["completions", pick(["bash", "zsh", "fish", "tcsh", ...NASTY])],
    () => ["get", often(usualIds, ids), ...(chance(0.5) ? ["--json"] : [])],
    () => [
      "register",
      ...option("pid", pids, ["$PID", "1"]),
      ...option("prompt", prompts),
      ...(chance(0.4) ? option("worktree", worktrees) : []),
      ...(chance(0.6) ? option("id", ids, usualIds) : []),
    ],
    () => ["deregister", often(usualIds, ids)],
    () => ["deregister", ...option("pid", pids, ["$PID", "1"])],
    () => ["clean"],
    () => ["repair"],
    () => [
      "stop",
      often(usualIds, ids),
      ...(chance(0.5) ? option("signal", signals) : []),
      ...(chance(0.5) ? option("timeout", timeouts) : []),
      ...(chance(0.3) ? ["--force"] : []),
    ],
    () => ["help", ...(chance(0.7) ? [pick([...ids, "list", "stop"])] : [])],
    () => [pick(["--version", "-V", "--help", "-h"])],
    () => [],
    () => [pick(NASTY)],
  ];
  // Forms of `run` and `watch` rejected before anything is spawned or
  // watched; never mutated.
  const harmless = [
    ["run"],
    ["run", "--"],
    ["run", "--bogus", "--", "true"],
    ["run", "--prompt"],
    ["run", "--id", "", "--", "true"],
    ["run", "--id", "a\x1bb", "--", "true"],
    ["run", "--help"],
    ["help", "run"],
    ["watch", "--bogus"],
    ["watch", "extra"],
    ["watch", "--json=1"],
    ["watch", "--help"],
  ];

  const mutate = (args: string[]): string[] => {
    const out = [...args];
    const at = () => Math.floor(random() * (out.length + 1));
    switch (Math.floor(random() * 6)) {
      case 0:
        out.splice(at(), 0, pick(tokens));
        break;
      case 1:
        if (out.length > 0) out.splice(Math.floor(random() * out.length), 1);
        break;
      case 2:
        if (out.length > 0) {
          const i = Math.floor(random() * out.length);
          out.splice(i, 0, out[i]!);
        }
        break;
      case 3:
        out.splice(at(), 0, "--");
        break;
      case 4: {
        const i = Math.floor(random() * Math.max(out.length - 1, 0));
        if (out.length > 1) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
        break;
      }
      default:
        out.splice(at(), 0, `--${pick(["pid", "id", "x"])}=${pick(NASTY)}`);
    }
    return out;
  };

  /**
   * The command and workspaces `args` would use, as cli.ts parses them:
   * `-w` may come before or after the command (up to `--`).
   */
  const inspect = (args: string[]) => {
    const workspaces: string[] = [];
    let command: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === "--") break;
      if (arg === "-w" || arg === "--workspace") workspaces.push(args[++i]!);
      else if (arg.startsWith("--workspace=")) {
        workspaces.push(arg.slice("--workspace=".length));
      } else if (/^-w./.test(arg)) workspaces.push(arg.slice(2));
      else if (!arg.startsWith("-")) command ??= arg;
    }
    return { command, workspaces };
  };
  const inside = (path: string | undefined) => {
    if (path === undefined) return true;
    const full = isAbsolute(path) ? path : resolve(root, path);
    return full === root || full.startsWith(`${root}/`);
  };

  return (): Vector => {
    if (chance(0.05)) return { args: pick(harmless) };
    const setup = chance(0.03)
      ? "corrupt" as const
      : chance(0.05)
      ? "reset" as const
      : undefined;
    for (;;) {
      let args = [
        ...(chance(0.4)
          ? chance(0.5)
            ? [pick(["--workspace", "-w"]), pick(workspaces)]
            : [`--workspace=${pick(workspaces)}`]
          : []),
        ...(chance(0.1) ? ["--lock-timeout", pick(timeouts)] : []),
        ...(chance(0.1)
          ? [`--color=${pick(["auto", "always", "never", "x"])}`]
          : []),
        ...pick(commands)(),
      ];
      while (chance(0.3)) args = mutate(args);
      const { command, workspaces: used } = inspect(args);
      // Never spawn, watch or write outside the temporary workspace.
      if (command === "run" || command === "watch") continue;
      if (!used.every(inside)) continue;
      return { args, setup };
    }
  };
}

function show(vector: Vector): string {
  return JSON.stringify(vector).slice(0, 300);
}

Deno.test("cli fuzz: generated argument vectors exit with a code of the table cleanly", async () => {
  const tmp = await Deno.realPath(
    await Deno.makeTempDir({ prefix: "loops_cli_fuzz_" }),
  );
  try {
    // The workspace (the driver's cwd, snapshotted around every vector) holds
    // only what the CLI writes, and a regular file to misuse as a workspace.
    const root = `${tmp}/ws`;
    await Deno.mkdir(root);
    await Deno.writeTextFile(`${root}/file.txt`, "not a directory");
    const next = generator(root, SEED);
    const vectors = [
      ...PRELUDE,
      ...Array.from({ length: COUNT - PRELUDE.length }, next),
    ];
    const file = `${tmp}/vectors.json`;
    await Deno.writeTextFile(file, JSON.stringify(vectors));
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", DRIVER, file],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `driver failed: ${stderr}`);
    const results = new TextDecoder().decode(output.stdout).trim().split("\n")
      .map((line) => JSON.parse(line));
    assert.equal(results.length, COUNT);
    const codes = new Map<unknown, number>();
    const failures: string[] = [];
    for (const result of results) {
      const vector = vectors[result.i]!;
      const check = (ok: boolean, what: string) => {
        if (ok) return;
        failures.push(
          `${what}: vector ${result.i} ${show(vector)} gave ${
            JSON.stringify(result).slice(0, 600)
          }`,
        );
      };
      codes.set(result.code, (codes.get(result.code) ?? 0) + 1);
      check(
        (Object.values(EXIT) as number[]).includes(result.code),
        "exit code",
      );
      if (vector.expect !== undefined) {
        check(result.code === vector.expect, `expected ${vector.expect}`);
      }
      if (vector.match !== undefined) {
        check(
          `${result.stdout}\n${result.stderr}`.includes(vector.match),
          `expected "${vector.match}"`,
        );
      }
      // Asked for with --color=always: our SGR colours, and nothing else.
      const colored = vector.args.includes("--color=always");
      const text = `${result.stdout}\n${result.stderr}`
        // deno-lint-ignore no-control-regex
        .replace(colored ? /\x1b\[\d*m/g : /(?!)/g, "");
      check(!/^\s+at /m.test(text), "stack trace");
      check(!text.includes("unexpected error"), "unexpected error");
      check(!/\[object Object\]|\[native code\]/.test(text), "garbage");
      // Our own output only: `\n` separates lines, nothing else is raw.
      check(
        // deno-lint-ignore no-control-regex
        !/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/
          .test(text),
        "raw control character",
      );
      check(result.signals.length === 0, "signal sent");
      if (result.code === 2) {
        check(result.changed.length === 0, "rejected but changed a file");
        check(result.stdout === "", "usage error with stdout");
        check(
          /^loops: /.test(result.stderr) &&
            result.stderr.includes("Run 'loops --help'"),
          "usage error without hint",
        );
      }
      if (result.code !== 0 && result.code !== 2) {
        check(/^loops: /.test(result.stderr), "failure without message");
      }
    }
    assert.deepEqual(failures.slice(0, 30), [], `${failures.length} failures`);
    // The figures for docs/reliability.md.
    // deno-lint-ignore no-console
    console.log(
      `cli fuzz: ${results.length} vectors (seed ${SEED}): ${
        [...codes].sort(([a], [b]) => Number(a) - Number(b)).map(([code, n]) =>
          `exit ${code} ${n}`
        ).join(", ")
      }`,
    );
    // The mix must reach success, usage errors and failures, or the fuzz
    // tests little.
    const failed = results.filter((r) => r.code !== 0 && r.code !== 2).length;
    for (
      const [what, n] of [[0, codes.get(0)], [2, codes.get(2)], [
        "a failure",
        failed,
      ]] as const
    ) {
      assert.ok((n ?? 0) > 10, `few exits ${what}: ${[...codes]}`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
