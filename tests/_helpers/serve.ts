// `loops serve` as a real process for the serve tests: started on a free
// loopback port, its URL and token read from its first line of stdout,
// ended by a signal on dispose.
import assert from "node:assert/strict";
import { Lines, spawnLoops, type TempWorkspace } from "./cli.ts";

/** A running `loops serve`. */
export interface Server extends AsyncDisposable {
  base: string;
  token: string;
  host: string;
  child: Deno.ChildProcess;
  /** Ends it with `signal`; its exit code and stderr. */
  end(signal: Deno.Signal): Promise<{ code: number; stderr: string }>;
}

/** Starts `loops serve <args>` in `ws` and waits for its URL. */
export async function serve(
  ws: TempWorkspace,
  args: string[] = [],
): Promise<Server> {
  const child = spawnLoops(["serve", ...args], { ws: ws.path });
  const stdout = new Lines(child.stdout);
  const line = await stdout.next() ?? "";
  const match = line.match(/ at (http:\/\/([^/]+))\/#token=(\S+)$/);
  assert.ok(match, line);
  let ended: Promise<{ code: number; stderr: string }> | undefined;
  const end = (signal: Deno.Signal) =>
    ended ??= (async () => {
      child.kill(signal);
      const [status, stderr] = await Promise.all([
        child.status,
        new Response(child.stderr).text(),
        stdout.rest(),
      ]);
      return { code: status.code, stderr };
    })();
  return {
    base: match[1]!,
    host: match[2]!,
    token: match[3]!,
    child,
    end,
    async [Symbol.asyncDispose]() {
      await end("SIGTERM");
    },
  };
}

const DRIVER = new URL("../cli/_dashboard_browser.ts", import.meta.url)
  .pathname;

/** The page of a {@linkcode Server} in Chromium, driven step by step. */
export interface Dashboard extends AsyncDisposable {
  /**
   * Sends one step of tests/cli/_dashboard_browser.ts and returns its
   * answer, parsed.
   */
  // deno-lint-ignore no-explicit-any
  ask(step: string): Promise<any>;
}

/**
 * Opens `server`'s page in Chromium (tests/cli/_dashboard_browser.ts as a
 * child with -A). Dispose ends the driver and asserts it exited with 0.
 */
export function browse(server: Server): Dashboard {
  const browser = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", DRIVER, `${server.base}/#token=${server.token}`],
    stdin: "piped",
    stdout: "piped",
    // Inherited: with its stderr piped, the driver's first page wait hung
    // (even with the pipe drained), on Deno 2.9.6 and playwright-core 1.65.1.
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = browser.stdin.getWriter();
  const answers = new Lines(browser.stdout);
  return {
    async ask(step) {
      await writer.write(new TextEncoder().encode(step + "\n"));
      const answer = await answers.next();
      assert.ok(answer, `No answer to ${step} (see the test's stderr)`);
      return JSON.parse(answer);
    },
    async [Symbol.asyncDispose]() {
      await writer.close();
      const [status] = await Promise.all([browser.status, answers.rest()]);
      assert.equal(status.code, 0, "the driver failed (see the test's stderr)");
    },
  };
}
