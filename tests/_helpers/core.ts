// Shared helpers for the core library tests (not a test file itself).
import { defaultRegistryEnv, type RegistryEnv } from "../../mod.ts";

export { lineReader, lines } from "./lines.ts";

/** A temporary workspace removed on dispose. */
export interface TempWorkspace extends AsyncDisposable {
  path: string;
  dir: string;
  file: string;
  journal: string;
}

/** Makes a temporary workspace; use with `await using`. */
export async function tempWorkspace(
  prefix = "loops_core_test_",
): Promise<TempWorkspace> {
  const path = await Deno.makeTempDir({ prefix });
  const dir = `${path}/.ralph`;
  return {
    path,
    dir,
    file: `${dir}/loops.json`,
    journal: `${dir}/loops.json.journal`,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

/**
 * A registry env where every pid is alive, and identity and origin are
 * unknown (so entries are written as ralph writes them).
 */
export const aliveEnv: RegistryEnv = {
  ...defaultRegistryEnv,
  probe: () => "alive",
  identify: () => undefined,
  origin: () => ({}),
  isDirectory: () => true,
};

/** The pid of a process that has exited and been reaped: really dead. */
export async function deadPid(): Promise<number> {
  const child = new Deno.Command("true", {
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await child.status;
  return child.pid;
}

/** Writes a raw registry file (creating `.ralph`). */
export async function writeRegistry(
  ws: TempWorkspace,
  content: string | Uint8Array,
): Promise<void> {
  await Deno.mkdir(ws.dir, { recursive: true });
  await writeLocked(ws.file, content);
}

/**
 * Rewrites `file` in place under its exclusive flock, as ralph writes it, so
 * a reader that locks (a watcher, say) never sees it half written: a plain
 * `Deno.writeTextFile` truncates and writes with no lock, and a watcher that
 * reads between the two sees an empty registry (a CI flake).
 */
export async function writeLocked(
  file: string,
  content: string | Uint8Array,
): Promise<void> {
  const bytes = typeof content === "string"
    ? new TextEncoder().encode(content)
    : content;
  using handle = await Deno.open(file, { write: true, create: true });
  await handle.lock(true);
  await handle.truncate(0);
  let done = 0;
  while (done < bytes.length) done += await handle.write(bytes.subarray(done));
}

/**
 * Reads `file` under a shared flock, as the library's readers do, so that a
 * change in progress (a writer rewrites the file in place under its
 * exclusive lock) is never seen half done.
 */
export async function readLocked(file: string): Promise<string> {
  using handle = await Deno.open(file, { read: true });
  await handle.lock(false);
  const decoder = new TextDecoder();
  const chunk = new Uint8Array(64 * 1024);
  let text = "";
  for (;;) {
    const n = await handle.read(chunk);
    if (n === null) return text + decoder.decode();
    text += decoder.decode(chunk.subarray(0, n), { stream: true });
  }
}

/** A minimal raw entry in the file's snake_case form. */
export function rawEntry(
  id: string,
  pid: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id,
    pid,
    started: "2026-11-30T13:16:33.123Z",
    prompt: `prompt of ${id}`,
    workspace: "/ws",
    ...extra,
  };
}

/** Parses the registry file as JSON. */
export async function readJson(
  ws: TempWorkspace,
): Promise<{ loops: Record<string, unknown>[]; [key: string]: unknown }> {
  return JSON.parse(await Deno.readTextFile(ws.file));
}

/** The ids in the registry file, in order. */
export async function fileIds(ws: TempWorkspace): Promise<string[]> {
  return (await readJson(ws)).loops.map((e) => e.id as string);
}

/** Outcome of a child op run with `registry_op.ts`. */
export interface OpResult {
  code: number;
  stdout: string;
  stderr: string;
  // deno-lint-ignore no-explicit-any
  ok?: any;
  error?: {
    name: string;
    className: string;
    message: string;
    cause?: { name: string; className: string };
  };
}

const OP_SCRIPT =
  new URL("../fixtures/registry_op.ts", import.meta.url).pathname;

/** Options of {@linkcode runOp}. */
export interface RunOpOptions {
  /** Deno permission flags of the child. @default {["-A"]} */
  flags?: string[];
  /** `real` or `alive` registry env. @default {"real"} */
  env?: "real" | "alive";
  /** Run the child through `setpriv` as this uid (and gid). */
  uid?: number;
  /** DENO_DIR for the child (needed for another uid). */
  denoDir?: string;
  /** Working directory. */
  cwd?: string;
  /** More environment variables of the child (e.g. `LOOPS_HOST_ID`). */
  vars?: Record<string, string>;
}

function childEnv(options: RunOpOptions): Record<string, string> | undefined {
  const env = { ...options.vars };
  if (options.denoDir) env.DENO_DIR = options.denoDir;
  return Object.keys(env).length === 0 ? undefined : env;
}

/** Runs `registry_op.ts` in a child `deno run`, parses its JSON line. */
export async function runOp(
  workspace: string,
  op: string[],
  options: RunOpOptions = {},
): Promise<OpResult> {
  const denoArgs = [
    "run",
    "--quiet",
    "--no-config",
    ...(options.flags ?? ["-A"]),
    OP_SCRIPT,
    workspace,
    options.env ?? "real",
    ...op,
  ];
  const command = options.uid === undefined
    ? new Deno.Command(Deno.execPath(), {
      args: denoArgs,
      stdin: "null",
      cwd: options.cwd,
      env: childEnv(options),
    })
    : new Deno.Command("setpriv", {
      args: [
        `--reuid=${options.uid}`,
        `--regid=${options.uid}`,
        "--clear-groups",
        Deno.execPath(),
        ...denoArgs,
      ],
      stdin: "null",
      cwd: options.cwd,
      env: childEnv(options),
    });
  const output = await command.output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  const last = stdout.trim().split("\n").at(-1);
  let parsed: Pick<OpResult, "ok" | "error"> = {};
  try {
    parsed = last ? JSON.parse(last) : {};
  } catch {
    // Left empty: the assertions on `ok`/`error` report stdout and stderr.
  }
  return { code: output.code, stdout, stderr, ...parsed };
}

/**
 * Why a test that needs `tools` (and root, when `root`) cannot run here, or
 * `undefined` when it can. Pass it to {@linkcode ignoreOutsideCI}.
 */
export function skipReason(
  options: { root?: boolean; tools?: string[] },
): string | undefined {
  if (options.root) {
    const uid = new Deno.Command("id", { args: ["-u"] }).outputSync().stdout;
    if (new TextDecoder().decode(uid).trim() !== "0") return "needs root";
  }
  for (const tool of options.tools ?? []) {
    const found = new Deno.Command("sh", {
      args: ["-c", `command -v ${tool}`],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
    if (!found) return `needs ${tool}`;
  }
  return undefined;
}

/**
 * The `ignore` of a test that cannot run for `reason` (`undefined`: it can).
 * Outside CI the test is skipped with that one-line reason; under `CI=true`
 * nothing may skip, so a missing requirement throws instead.
 */
export function ignoreOutsideCI(reason: string | undefined): boolean {
  if (reason === undefined) return false;
  if (Deno.env.get("CI") === "true") {
    throw new Error(`Cannot run this test under CI=true as it ${reason}`);
  }
  // deno-lint-ignore no-console
  console.error(`skipped: ${reason}`);
  return true;
}

/** {@linkcode skipReason} for a test that needs root and `tools`. */
export function rootSkipReason(...tools: string[]): string | undefined {
  return skipReason({ root: true, tools });
}
