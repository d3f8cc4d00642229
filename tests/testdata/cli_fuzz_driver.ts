// Runs many `loops` argument vectors in ONE process, for the CLI fuzz test
// (tests/torture/cli_fuzz_test.ts): spawning a process per vector would be
// too slow.
//
// Usage: deno run -A cli_fuzz_driver.ts <vectors.json>   (cwd: the workspace)
//
// <vectors.json> is an array of `{ args: string[], setup?: "corrupt" |
// "reset" }`. In `args`, `$PID` is replaced by this process's pid. Before a
// vector, `setup` rewrites `<cwd>/.ralph/loops.json` ("corrupt": invalid JSON;
// "reset": a registry with one entry of this process and one of pid 1).
//
// For each vector, one JSON line on stdout:
// `{ i, code, stdout, stderr, changed, signals }` where `changed` lists the
// files under the cwd whose bytes changed during the vector, and `signals`
// the real signals `main` tried to send (the test expects none: `stop` may
// only meet pids it must refuse). A rejected promise is reported as
// `code: "threw"` with the error.
//
// Replacing `console.log`/`console.error` and `Deno.kill` here is deliberate:
// this driver is a test harness around `main`, not library code.
import { main } from "../../cli.ts";

interface Vector {
  args: string[];
  setup?: "corrupt" | "reset";
}

const vectors = JSON.parse(
  Deno.readTextFileSync(Deno.args[0]!),
) as Vector[];
const root = Deno.cwd();
const registryFile = `${root}/.ralph/loops.json`;
const encoder = new TextEncoder();

function write(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let offset = 0;
  while (offset < bytes.length) {
    offset += Deno.stdout.writeSync(bytes.subarray(offset));
  }
}

/** Every regular file under `dir` with its bytes (as a latin1 string). */
function snapshot(dir: string, into = new Map<string, string>()) {
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) snapshot(path, into);
    else if (entry.isFile) {
      const bytes = Deno.readFileSync(path);
      let text = "";
      for (let i = 0; i < bytes.length; i += 8192) {
        text += String.fromCharCode(...bytes.subarray(i, i + 8192));
      }
      into.set(path, text);
    }
  }
  return into;
}

function changes(before: Map<string, string>, after: Map<string, string>) {
  const changed: string[] = [];
  for (const [path, bytes] of after) {
    if (before.get(path) !== bytes) changed.push(path);
  }
  for (const path of before.keys()) {
    if (!after.has(path)) changed.push(path);
  }
  return changed;
}

function reset(): void {
  Deno.mkdirSync(`${root}/.ralph`, { recursive: true });
  const entry = (id: string, pid: number) => ({
    id,
    pid,
    started: new Date().toISOString(),
    prompt: `fuzz ${id}`,
    workspace: root,
  });
  Deno.writeTextFileSync(
    registryFile,
    JSON.stringify(
      { loops: [entry("self", Deno.pid), entry("init", 1)] },
      null,
      2,
    ),
  );
}

let out: string[] = [];
let err: string[] = [];
const signals: string[] = [];
const capture = (sink: () => string[]) => (...data: unknown[]) => {
  sink().push(data.map(String).join(" "));
};
// deno-lint-ignore no-console
console.log = capture(() => out);
// deno-lint-ignore no-console
console.error = capture(() => err);
const realKill = Deno.kill;
Deno.kill = (pid: number, signal?: Deno.Signal | number) => {
  if (signal === 0) return realKill(pid, signal);
  signals.push(`${pid} ${signal}`);
};

reset();
for (const [i, vector] of vectors.entries()) {
  if (vector.setup === "reset") reset();
  if (vector.setup === "corrupt") Deno.writeTextFileSync(registryFile, "{oops");
  const args = vector.args.map((arg) =>
    arg.replaceAll("$PID", String(Deno.pid))
  );
  out = [];
  err = [];
  signals.length = 0;
  const before = snapshot(root);
  let code: number | string;
  let thrown: string | undefined;
  try {
    code = await main(args);
  } catch (error) {
    code = "threw";
    thrown = error instanceof Error ? error.stack : String(error);
  }
  const changed = changes(before, snapshot(root));
  write(JSON.stringify({
    i,
    code,
    stdout: out.join("\n"),
    stderr: err.join("\n"),
    changed,
    signals: [...signals],
    thrown,
  }));
}
