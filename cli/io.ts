// What the CLI needs from the outside world, behind one interface: the real
// one by default, a fake one in tests (no global is replaced). The only
// `console.*` calls of the CLI are the two sinks below.

/**
 * The outside world of {@linkcode main}: where output goes, the
 * environment, the current directory and the terminal. Every member is
 * optional in `main`'s argument; a missing one is the real one.
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
   * Called only when needed (it needs `--allow-read`).
   */
  cwd(): string;
  /** Whether to colour the output with ANSI escapes. */
  color: boolean;
  /** The terminal's width; `undefined` when stdout is not a terminal. */
  columns: number | undefined;
}

/** The real outside world, for `io`'s missing members. */
export function withRealIo(io: Partial<CliIo>): CliIo {
  const terminal = io.color === undefined || !("columns" in io)
    ? Deno.stdout.isTerminal()
    : false;
  return {
    // deno-lint-ignore no-console
    out: io.out ?? ((text) => console.log(text)),
    // deno-lint-ignore no-console
    err: io.err ?? ((text) => console.error(text)),
    env: io.env ?? realEnv,
    cwd: io.cwd ?? (() => Deno.cwd()),
    color: io.color ?? (terminal && !Deno.noColor),
    columns: "columns" in io
      ? io.columns
      : terminal
      ? realColumns()
      : undefined,
  };
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
