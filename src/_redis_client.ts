// One connection to Redis and the rules for talking to it: permissions are
// checked before connecting (node-redis's connect() never settles without
// them), every call has a deadline (a hung server proves nothing, and a
// command already sent cannot be cancelled, so the caller stops waiting),
// scripts go by EVALSHA with EVAL after a restart, and close never hangs.
import { ErrorReply, RedisClient } from "@redis/client";
import { RedisUnavailableError } from "./redis_errors.ts";
import { type ScriptName, SCRIPTS } from "./_redis_scripts.ts";
import { sha1Hex } from "./_sha1.ts";

/** The environment variables node-redis reads at connect. */
export const REDIS_ENV_NAMES = [
  "REDIS_DEBUG_MAINTENANCE",
  "REDIS_EMIT_DIAGNOSTICS",
] as const;

// The part of node-redis's client used here (its generic types are heavy).
interface Client {
  on(event: "error", listener: (error: Error) => void): unknown;
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  duplicate(): Client;
  close(): Promise<unknown>;
  destroy(): void;
}
type Reply = unknown;

const AUTH_ERROR = /WRONGPASS|NOAUTH|NOPERM|invalid password/;
// A first connect that fails so is not retried: nothing listens there, the
// name does not resolve, or the server turns clients away (protected mode).
const REFUSED = /ECONNREFUSED|ENOTFOUND|ENETUNREACH|^DENIED/;

/** Where a URL points, without credentials, and the net permission it needs. */
export function describeUrl(url: string): { location: string; host: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new TypeError(
      `Cannot open a Redis registry as the URL is not valid: current value is ${
        JSON.stringify(url)
      }`,
      { cause },
    );
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(
      `Cannot open a Redis registry as the URL's scheme is not redis: or rediss:: current value is "${parsed.protocol}"`,
    );
  }
  const port = parsed.port || "6379";
  const host = `${parsed.hostname}:${port}`;
  return { location: `${parsed.protocol}//${host}${parsed.pathname}`, host };
}

/** Throws `NotCapable` naming the flag when a permission is missing. */
export function assertPermissions(host: string, location: string): void {
  const granted = (d: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(d).state === "granted";
  if (!granted({ name: "net", host })) {
    throw new Deno.errors.NotCapable(
      `Cannot connect to Redis at "${location}" as network access is not granted: run again with --allow-net=${host}`,
    );
  }
  const missing = REDIS_ENV_NAMES.filter((variable) =>
    !granted({ name: "env", variable })
  );
  if (missing.length > 0) {
    throw new Deno.errors.NotCapable(
      `Cannot connect to Redis at "${location}" as node-redis reads ${
        missing.join(" and ")
      } at connect and env access is not granted: run again with --allow-env=${
        REDIS_ENV_NAMES.join(",")
      }`,
    );
  }
}

function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Options for {@linkcode RedisConnection.open}. */
export interface ConnectionOptions {
  /** Deadline of the connect and of each call, in milliseconds. */
  timeoutMs: number;
}

/** A connected client with deadlines on every call. */
export class RedisConnection {
  readonly location: string;
  readonly #client: Client;
  readonly #timeoutMs: number;
  readonly #keys: string[];
  #shas = new Map<ScriptName, string>();
  #closed = false;
  #lastError: Error | undefined;

  constructor(
    client: Client,
    location: string,
    keys: string[],
    timeoutMs: number,
  ) {
    this.#client = client;
    this.location = location;
    this.#keys = keys;
    this.#timeoutMs = timeoutMs;
    client.on("error", (error: Error) => {
      this.#lastError = error;
    });
  }

  /** Connects, or throws a clear error within the deadline. */
  static async open(
    url: string,
    keys: string[],
    options: ConnectionOptions,
  ): Promise<RedisConnection> {
    const { location, host } = describeUrl(url);
    assertPermissions(host, location);
    // The bare client class, not createClient(): only sendCommand is used,
    // and createClient() first builds a class with a method for each of
    // several hundred commands, about 110 ms of a CLI call.
    const client = new RedisClient({
      url,
      socket: {
        connectTimeout: options.timeoutMs,
        // Reconnect for ever, at most every 2 s: calls have deadlines.
        reconnectStrategy: (retries: number) => Math.min(100 * retries, 2000),
      },
    }) as unknown as Client;
    const connection = new RedisConnection(
      client,
      location,
      keys,
      options.timeoutMs,
    );
    await connection.#connect();
    return connection;
  }

  async #connect(): Promise<void> {
    // node-redis retries a refused AUTH, a refused connection and a server
    // that turns it away for ever; the first such error ends the connect at
    // once, with the system's or the server's words. (Once connected, a
    // lost connection is retried: calls have deadlines.)
    let refuse: (error: Error) => void = () => {};
    const refused = new Promise<never>((_, reject) => refuse = reject);
    const onError = (error: Error) => {
      if (AUTH_ERROR.test(error.message) || REFUSED.test(error.message)) {
        refuse(error);
      }
    };
    this.#client.on("error", onError);
    try {
      await withDeadline(
        Promise.race([this.#client.connect(), refused]),
        this.#timeoutMs,
        () =>
          new RedisUnavailableError(
            this.location,
            `it did not answer within ${this.#timeoutMs} ms${
              this.#lastError ? ` (${this.#lastError.message})` : ""
            }`,
          ),
      );
    } catch (error) {
      this.#closed = true;
      this.#client.destroy();
      if (error instanceof RedisUnavailableError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new RedisUnavailableError(
        this.location,
        AUTH_ERROR.test(message)
          ? `the server refused the credentials (${message}): check the user and password in the URL`
          : /^DENIED/.test(message)
          ? `the server turned the connection away (${message})`
          : REFUSED.test(message)
          ? `it could not be reached (${message}): check the host and port, and that redis-server runs there`
          : message,
        { cause: error },
      );
    } finally {
      refused.catch(() => {});
      refuse = () => {};
    }
  }

  /** A second connection to the same server (for a blocking read). */
  async duplicate(): Promise<RedisConnection> {
    const copy = new RedisConnection(
      this.#client.duplicate(),
      this.location,
      this.#keys,
      this.#timeoutMs,
    );
    await copy.#connect();
    return copy;
  }

  /** Runs a raw command within `timeoutMs` (default: the connection's). */
  command(args: string[], timeoutMs = this.#timeoutMs): Promise<Reply> {
    if (this.#closed) {
      return Promise.reject(
        new TypeError(
          `Cannot use the Redis registry at "${this.location}" as it is closed`,
        ),
      );
    }
    // What is not the server's own answer (an ErrorReply, such as NOSCRIPT)
    // is the connection failing under the call: a socket closed by a
    // restart, a timeout while reconnecting. Callers retry those.
    const sent = (this.#client.sendCommand(args) as Promise<Reply>).catch(
      (error: unknown) => {
        if (!(error instanceof Error) || error instanceof ErrorReply) {
          throw error;
        }
        throw new RedisUnavailableError(
          this.location,
          `the connection failed during ${args[0]} (${
            error.message || error.constructor.name
          })`,
          { cause: error },
        );
      },
    );
    return withDeadline(
      sent,
      timeoutMs,
      () =>
        new RedisUnavailableError(
          this.location,
          `it did not answer ${args[0]} within ${timeoutMs} ms${
            this.#lastError ? ` (last error: ${this.#lastError.message})` : ""
          }`,
        ),
    );
  }

  /** Runs a script on this namespace's keys: EVALSHA, EVAL if unknown. */
  async script(
    name: ScriptName,
    args: string[],
    timeoutMs = this.#timeoutMs,
  ): Promise<unknown[]> {
    const started = performance.now();
    let sha = this.#shas.get(name);
    if (sha === undefined) {
      sha = sha1Hex(SCRIPTS[name]);
      this.#shas.set(name, sha);
    }
    const keys = [String(this.#keys.length), ...this.#keys];
    try {
      return await this.command(
        ["EVALSHA", sha, ...keys, ...args],
        timeoutMs,
      ) as unknown[];
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) {
        throw error;
      }
    }
    const left = Math.max(1, timeoutMs - (performance.now() - started));
    return await this.command(
      ["EVAL", SCRIPTS[name], ...keys, ...args],
      left,
    ) as unknown[];
  }

  /** Closes; drops the socket when the server does not answer in time. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await withDeadline(
        this.#client.close(),
        Math.min(this.#timeoutMs, 1000),
        () => new Error("close timed out"),
      );
    } catch {
      // A server that does not answer QUIT: drop the connection instead.
      this.#client.destroy();
    }
  }

  /** Drops the connection at once (pending calls fail). */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
  }
}
