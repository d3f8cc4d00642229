// Shared helpers for the CLI tests (not a test file itself): run the CLI in
// this process with a fake io (`runMain`) or as a real process (`loops`),
// temporary workspaces, sleeping processes to register.
import assert from "node:assert/strict";
import { type CliIo, main } from "../../cli.ts";
import { EXIT } from "../../cli/_errors.ts";
import { readLocked, writeLocked } from "./core.ts";
export { deadPid } from "./core.ts";
export { EXIT };

/** The CLI entry point. */
export const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/** What one CLI run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for checks on what reaches the terminal. */
  raw: Uint8Array;
}

/** Options for {@linkcode loops}. */
export interface CliOptions {
  /** Passed as `--workspace`; omitted when undefined. */
  ws?: string;
  /** Deno permission flags. @default ["-A"] */
  flags?: string[];
  /** Working directory of the process. */
  cwd?: string;
}

const decoder = new TextDecoder();

/** Options for {@linkcode runMain}. */
export interface MainOptions {
  /** Passed as `--workspace`; omitted when undefined. */
  ws?: string;
  /** The current directory the CLI sees; asking for it fails when unset. */
  cwd?: string;
  /** The environment the CLI sees. @default {} */
  env?: Record<string, string>;
  /** @default false */
  color?: boolean;
  /** The terminal width; `undefined`: not a terminal. */
  columns?: number;
  /** Whether stdout is a terminal. @default false */
  terminal?: boolean;
}

/**
 * Runs `main(<args>)` in this process with a fake io (nothing global is
 * replaced), checked like {@linkcode loops}. Permissions are the test's.
 */
export async function runMain(
  args: string[],
  options: MainOptions = {},
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    out: (text) => {
      stdout += `${text}\n`;
    },
    err: (text) => {
      stderr += `${text}\n`;
    },
    env: (name) => options.env?.[name],
    cwd: () => {
      if (options.cwd === undefined) {
        throw new Error("The CLI asked for the current directory: pass cwd");
      }
      return options.cwd;
    },
    color: options.color ?? false,
    terminal: options.terminal ?? false,
    columns: options.columns,
  };
  const code = await main([
    ...(options.ws === undefined ? [] : ["--workspace", options.ws]),
    ...args,
  ], io);
  const result = {
    code,
    stdout,
    stderr,
    raw: new TextEncoder().encode(stdout),
  };
  assertClean(result, args);
  return result;
}

/** The `deno run` arguments for the CLI. */
export function cliArgs(args: string[], options: CliOptions = {}): string[] {
  return [
    "run",
    "--no-prompt",
    ...(options.flags ?? ["-A"]),
    CLI,
    ...(options.ws === undefined ? [] : ["--workspace", options.ws]),
    ...args,
  ];
}

/**
 * Runs `loops <args>` to completion. Every run is checked for what must never
 * happen: a stack trace or an "unexpected error" on stderr.
 */
export async function loops(
  args: string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: cliArgs(args, options),
    cwd: options.cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const result = {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    raw: output.stdout,
  };
  assertClean(result, args);
  return result;
}

/** Spawns `loops <args>` with piped stdout and stderr. */
export function spawnLoops(
  args: string[],
  options: CliOptions = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: cliArgs(args, options),
    cwd: options.cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** No stack trace and no "unexpected error" in a run's stderr. */
export function assertClean(
  result: { stderr: string },
  args: string[] = [],
): void {
  assert.doesNotMatch(
    result.stderr,
    /^\s+at /m,
    `stack trace for ${JSON.stringify(args)}`,
  );
  assert.doesNotMatch(result.stderr, /unexpected error/);
}

/** Asserts a usage error: exit 2, nothing on stdout, a hint on stderr. */
export function assertUsage(result: CliResult, args: unknown = ""): void {
  const what = `${JSON.stringify(args)}: ${JSON.stringify(result)}`;
  assert.equal(result.code, 2, what);
  assert.equal(result.stdout, "", what);
  assert.match(
    result.stderr,
    /^loops: [^\n]+\nRun 'loops --help' for usage\.\n$/,
    what,
  );
}

/**
 * Asserts a failure: exit `code` (default 1, see cli/_errors.ts EXIT),
 * nothing on stdout, one `loops:` line.
 */
export function assertFailure(
  result: CliResult,
  pattern?: RegExp,
  code: number = EXIT.failure,
): void {
  const what = JSON.stringify(result);
  assert.equal(result.code, code, what);
  assert.equal(result.stdout, "", what);
  assert.match(result.stderr, /^loops: [^\n]+\n$/, what);
  if (pattern !== undefined) assert.match(result.stderr, pattern, what);
}

/** A temporary workspace (real path), removed on dispose. */
export interface TempWorkspace extends AsyncDisposable {
  path: string;
  /** `<path>/.ralph/loops.json` */
  file: string;
}

/** Makes a temporary workspace; use with `await using`. */
export async function tempWorkspace(
  prefix = "loops_cli_test_",
): Promise<TempWorkspace> {
  const path = await Deno.realPath(await Deno.makeTempDir({ prefix }));
  return {
    path,
    file: `${path}/.ralph/loops.json`,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

/** A raw entry as the file holds it. */
export interface RawEntry {
  id: string;
  pid: number;
  started?: string;
  prompt?: string;
  "worktree_path"?: string;
  workspace?: string;
  [field: string]: unknown;
}

/**
 * `loops register --pid PID --id ID --prompt PROMPT` in `ws`, which must
 * succeed.
 */
export async function registerPid(
  ws: TempWorkspace,
  pid: number,
  id: string,
  prompt = "p",
): Promise<void> {
  const args = ["register", "--pid", `${pid}`, "--prompt", prompt, "--id", id];
  const result = await loops(args, { ws: ws.path });
  assert.equal(result.code, 0, result.stderr);
}

/** Writes `.ralph/loops.json` with these entries (defaults filled in). */
export async function writeEntries(
  ws: TempWorkspace,
  entries: RawEntry[],
): Promise<void> {
  await Deno.mkdir(`${ws.path}/.ralph`, { recursive: true });
  const loops = entries.map((e) => ({
    started: new Date().toISOString(),
    prompt: "a task",
    workspace: ws.path,
    ...e,
  }));
  await writeLocked(ws.file, JSON.stringify({ loops }, null, 2));
}

/** Reads the raw entries of the registry file. */
export async function readEntries(ws: TempWorkspace): Promise<RawEntry[]> {
  const doc = JSON.parse(await readLocked(ws.file));
  return doc.loops;
}

/** A running process to register, killed and reaped on dispose. */
export interface Sleeper extends AsyncDisposable {
  pid: number;
  child: Deno.ChildProcess;
  /** Set once the process has exited. */
  exited: () => boolean;
}

/**
 * Spawns `sh -c <script>` (default: sleep for 60 s). When `ready` is set, the
 * script must print a line once it is ready; this waits for it.
 */
export async function sleeper(
  script = "exec sleep 60",
  ready = false,
): Promise<Sleeper> {
  const child = new Deno.Command("sh", {
    args: ["-c", script],
    stdin: "null",
    stdout: ready ? "piped" : "null",
    stderr: "null",
  }).spawn();
  let done = false;
  const status = child.status.then((s) => {
    done = true;
    return s;
  });
  if (ready) {
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
  }
  return {
    pid: child.pid,
    child,
    exited: () => done,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await status;
    },
  };
}

/** Whether a process exists (a zombie counts), probed without a signal. */
export function exists(pid: number): boolean {
  try {
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Polls `check` every 25 ms until it is true; fails after `tries` polls. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  tries = 400,
): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`Timed out waiting for ${what}`);
}

/** Reads a text stream line by line. */
export class Lines {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next line, or `undefined` at the end of the stream. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const end = this.#buffer.indexOf("\n");
      if (end >= 0) {
        const line = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 1);
        return line;
      }
      if (this.#done) {
        const rest = this.#buffer;
        this.#buffer = "";
        return rest === "" ? undefined : rest;
      }
      const { value, done } = await this.#reader.read();
      if (done) this.#done = true;
      else this.#buffer += value;
    }
  }

  /** Everything left, to the end of the stream. */
  async rest(): Promise<string> {
    let text = "";
    for (let line = await this.next(); line !== undefined;) {
      text += line + "\n";
      line = await this.next();
    }
    return text;
  }
}

/**
 * Holds an exclusive flock on `file` (which must exist) in another process,
 * as ralph or a writer of this module would: util-linux `flock(1)` locks
 * the shell's descriptor, which `sleep` then inherits. Released on dispose
 * (the process is killed).
 */
export function holdLock(file: string): Promise<Sleeper> {
  return sleeper(
    `exec 9<>'${
      file.replaceAll("'", "'\\''")
    }' && flock -x 9 && echo locked && exec sleep 60`,
    true,
  );
}
