// What the CLI needs from the outside world, behind one interface: the real
// one by default, a fake one in tests (no global is replaced). The only
// `console.*` calls of the CLI are the two sinks below.
import { writeAll } from "../src/_files.ts";
import { isAbsolute } from "../src/_path.ts";

/**
 * The outside world of {@linkcode main}: where output goes, the
 * environment, the current directory and the terminal. Every member is
 * optional in `main`'s argument; a missing one is the real one, except that
 * when `out` is given (output captured) stdout counts as no terminal.
 *
 * @example Capture the output of a command
 * ```ts
 * import { type CliIo, main } from "@loops/registry/cli";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const io: Partial<CliIo> = { out: (text) => lines.push(text) };
 * assert.equal(await main(["help", "list"], io), 0);
 * assert.match(lines[0]!, /^USAGE:/);
 * ```
 */
export interface CliIo {
  /** Writes `text` and a newline to stdout: data, help and version. */
  out(text: string): void;
  /** Writes `text` and a newline to stderr: diagnostics. */
  err(text: string): void;
  /**
   * Reads an environment variable.
   *
   * @returns Its value, or `undefined` when unset or not permitted.
   */
  env(name: string): string | undefined;
  /**
   * The current directory, for relative paths and finding the workspace.
   * Called only when needed (it needs `--allow-read`). Under `deno task`,
   * `main` starts from the caller's directory (`INIT_CWD`) instead.
   */
  cwd(): string;
  /**
   * Whether to colour the output with ANSI escapes when `--color=auto`
   * (the default): stdout is a terminal and `NO_COLOR` is unset.
   */
  color: boolean;
  /** Whether stdout is a terminal (`watch` then redraws in place). */
  terminal: boolean;
  /** The terminal's width; `undefined` when stdout is not a terminal. */
  columns: number | undefined;
}

const encoder = new TextEncoder();
let stdoutGone = false;

/**
 * Writes `text` and a newline to stdout, as `console.log` would but
 * without its copies: for 10,000 entries of `list --json`, 9 MB less peak
 * memory here (docs/performance.md). A reader that went away (`| head`)
 * ends the output quietly, as with `console.log`.
 */
function writeStdout(text: string): void {
  if (stdoutGone) return;
  try {
    writeAll(Deno.stdout, encoder.encode(`${text}\n`));
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    stdoutGone = true;
  }
}

/** The real outside world, for `io`'s missing members. */
export function withRealIo(io: Partial<CliIo>): CliIo {
  const captured = io.out !== undefined;
  let tty: boolean | undefined;
  const isTerminal = () => tty ??= !captured && Deno.stdout.isTerminal();
  const terminal = io.terminal ?? isTerminal();
  return {
    out: io.out ?? writeStdout,
    // deno-lint-ignore no-console
    err: io.err ?? ((text) => console.error(text)),
    env: io.env ?? realEnv,
    cwd: io.cwd ?? (() => Deno.cwd()),
    color: io.color ?? (isTerminal() && !Deno.noColor),
    terminal,
    columns: "columns" in io
      ? io.columns
      : terminal && !captured
      ? realColumns()
      : undefined,
  };
}

/**
 * `io` whose `cwd()` is the directory the user ran the command from.
 * `deno task` runs every task in the folder of its `deno.json` and passes
 * the caller's directory as `INIT_CWD`. This checkout's `loops` task hands
 * it on explicitly as `LOOPS_CALLER_CWD`; another task is recognised by
 * `npm_config_user_agent=deno/...` (which Deno sets only when npm has not:
 * under `npx`/`npm run` an inherited `INIT_CWD` is npm's, so it is not
 * trusted). Else the current directory.
 */
export function fromCallerDirectory(io: CliIo): CliIo {
  const agent = io.env("npm_config_user_agent") ?? "";
  const caller = io.env("LOOPS_CALLER_CWD") ||
    (agent.startsWith("deno/") ? io.env("INIT_CWD") : undefined);
  if (caller === undefined || !isAbsolute(caller)) return io;
  return { ...io, cwd: () => caller };
}

function realColumns(): number | undefined {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return undefined;
  }
}

function realEnv(name: string): string | undefined {
  const granted =
    Deno.permissions.querySync({ name: "env", variable: name }).state ===
      "granted";
  return granted ? Deno.env.get(name) : undefined;
}
