// A real redis-server per test file: started on a free loopback port with
// no persistence, stopped on dispose (and at unload, should a test file
// end without disposing). Also a minimal RESP client for setting state the
// engine would not set (e.g. ending a lease early).
import { skipReason } from "./core.ts";

/** A running redis-server. */
export interface RedisServer extends AsyncDisposable {
  /** `redis://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** The server's pid, for SIGSTOP/SIGCONT. */
  pid: number;
  /** Sends one command and returns the first line of the reply. */
  command(...args: string[]): Promise<string>;
}

/** Why the Redis tests cannot run here (throws under CI=true). */
export function redisSkipReason(): string | undefined {
  return skipReason({ tools: ["redis-server"] });
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** One command over a fresh connection; the first line of the reply. */
export async function redisCommand(
  port: number,
  args: string[],
): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const encoder = new TextEncoder();
  let request = `*${args.length}\r\n`;
  for (const arg of args) {
    request += `$${encoder.encode(arg).length}\r\n${arg}\r\n`;
  }
  await conn.write(encoder.encode(request));
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text.split("\r\n")[0] ?? "";
}

/** Options for {@linkcode startRedis}. */
export interface StartRedisOptions {
  /** More server arguments, e.g. `["--requirepass", "secret"]`. */
  args?: string[];
  /** The port (to restart a server in place); a free one by default. */
  port?: number;
  /**
   * More addresses to listen on besides 127.0.0.1 (which `url` names), e.g.
   * the root side of a veth pair. They must exist before the server starts.
   */
  bind?: string[];
}

/** Starts redis-server on loopback (and `bind`), without persistence. */
export async function startRedis(
  options: StartRedisOptions = {},
): Promise<RedisServer> {
  const port = options.port ?? freePort();
  const extra = options.args ?? [];
  const child = new Deno.Command("redis-server", {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      ...(options.bind ?? []),
      "--save",
      "",
      "--appendonly",
      "no",
      ...extra,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const kill = () => {
    try {
      Deno.kill(child.pid, "SIGCONT");
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  };
  globalThis.addEventListener("unload", kill);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const reply = await redisCommand(port, ["PING"]);
      if (reply === "+PONG" || reply.startsWith("-NOAUTH")) break;
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
    }
    if (Date.now() > deadline) {
      kill();
      await child.status;
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    command: (...args) => redisCommand(port, args),
    async [Symbol.asyncDispose]() {
      globalThis.removeEventListener("unload", kill);
      kill();
      await child.status;
    },
  };
}
