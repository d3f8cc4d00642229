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
