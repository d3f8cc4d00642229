// The Redis engine: the Registry interface over one Redis namespace, for
// loops on several machines. Every operation is one Lua script of
// _redis_scripts.ts (the layout and the lease rule live there); this file
// judges what the server returns (a pid of this host and pid namespace is
// probed as the file engine probes it), renews claims, and watches.
import {
  identityOf,
  originOf,
  type RequiredFields,
  storedEntry,
} from "./_codec.ts";
import { releasedClaimError } from "./loop_claim.ts";
import { Judge, removedByClean } from "./_liveness.ts";
import { RedisConnection } from "./_redis_client.ts";
import { namespaceKeys, staleAt } from "./_redis_scripts.ts";
import { LoopIdTakenError, LoopNotFoundError } from "./errors.ts";
import {
  createLoopEntry,
  isValidLoopId,
  type LoopEntry,
  type LoopInfo,
  type LoopStatus,
} from "./loop_entry.ts";
import { isValidPid, type ProcessVerdict } from "./process.ts";
import { defaultRegistryEnv, type RegistryEnv } from "./registry_env.ts";
import type {
  Claim,
  ClaimOptions,
  HeartbeatResult,
  LoopInspection,
  Registry,
  WatchOptions,
} from "./registry.ts";
import { RedisUnavailableError } from "./redis_errors.ts";
import { CLAIM_SIGNALS, signalExitCode } from "./_signals.ts";

/** Options for {@linkcode openRedisRegistry}. */
export interface RedisRegistryOptions {
  /**
   * The namespace: teams or workspaces sharing one server each use their
   * own. All its keys share the hash tag `{namespace}` (one Cluster slot).
   *
   * @default {"default"}
   */
  namespace?: string;
  /**
   * Prefix of every key, before the `{namespace}` tag.
   *
   * @default {"loops:"}
   */
  keyPrefix?: string;
  /**
   * Lease length of registered loops, in milliseconds. A claim renews it
   * every third of it; an entry registered with `register()` lives one
   * lease unless renewed by a claim of the same token.
   *
   * @default {15000}
   */
  ttlMs?: number;
  /**
   * Deadline of the connect and of each call, in milliseconds.
   *
   * @default {5000}
   */
  timeoutMs?: number;
  /**
   * The workspace claims are registered for.
   *
   * @default {Deno.cwd()}
   */
  workspace?: string;
  /**
   * How pids of this host are probed and where this process runs.
   *
   * @default {defaultRegistryEnv}
   */
  env?: RegistryEnv;
  /**
   * Cap of the event stream (approximate, `MAXLEN ~`).
   *
   * @default {10000}
   */
  streamLength?: number;
}

/** Options for {@linkcode RedisRegistry.prototype.claim}. */
export interface RedisClaimOptions extends ClaimOptions {
  /**
   * What a claim does when it loses its lease (not confirmed in time, or
   * gone from the server): `stop` aborts `signal` and stops renewing;
   * `re-register` dispatches `lost`, registers the same entry again every
   * third of the TTL until it succeeds (then dispatches `regained`), and
   * aborts `signal` only when another registration holds the id.
   *
   * @default {"stop"}
   */
  onLost?: "stop" | "re-register";
}

/** An entry with its liveness verdict and its lease, from `inspect`. */
export interface RedisInspection extends LoopInspection {
  /**
   * When the lease ends (or ended), by the server's clock, RFC 3339 UTC.
   * An expired lease is `dead` with reason `exited`: its owner stopped
   * renewing it; see `outlivedLease` for its process.
   */
  leaseExpiresAt: string;
  /**
   * Set when the lease has ended, by the server's clock, while the loop's
   * process, on this host and in this pid namespace, still runs (its owner
   * hung, or was cut off from the server): that process's verdict. The loop
   * is `dead` as `list()` and `get()` have it; `loops stop` still signals
   * such a process rather than report it gone.
   */
  outlivedLease?: ProcessVerdict;
  /**
   * When the lease was last registered or renewed, by the server's clock,
   * RFC 3339 UTC; left out for a lease that does not record it. Two renewal
   * intervals (two thirds of the lease) later the loop is listed `stale`.
   */
  renewedAt?: string;
}

/**
 * A loop claimed in a Redis registry: a {@linkcode Claim} whose lease is
 * renewed every third of its TTL. When a renewal is not confirmed before
 * the lease's deadline (measured on this process's monotonic clock from
 * when the last confirmed renewal was sent), or the server answers that
 * the registration is gone or taken over, `signal` aborts with a
 * {@linkcode LeaseLostError} and renewals stop: the loop should stop, or
 * claim again. With `onLost: "re-register"` the claim instead dispatches a
 * `lost` event (a `CustomEvent` whose `detail` is the `LeaseLostError`),
 * registers again, and dispatches `regained` once it holds the id again.
 *
 * @example React to a lost lease
 * ```ts ignore
 * import { openRedisRegistry } from "@loops/registry/redis";
 *
 * const registry = await openRedisRegistry("redis://127.0.0.1:6379");
 * await using claim = await registry.claim("nightly build");
 * claim.signal.addEventListener("abort", () => {
 *   console.error(claim.signal.reason.message);
 * });
 * ```
 */
export interface RedisClaim extends Claim, EventTarget {
  /**
   * Aborted, with a {@linkcode LeaseLostError}, when the claim has lost its
   * registration for good (under `onLost: "stop"`, at the first loss).
   */
  readonly signal: AbortSignal;
}

/**
 * What a claim learnt when it lost its lease, in
 * {@linkcode LeaseLostError.prototype.kind}:
 *
 * - `lost`: the server has no registration of this claim (expired, cleaned
 *   or deregistered by someone else).
 * - `taken-over`: the id now names another registration.
 * - `unconfirmed`: no renewal was confirmed before the lease's deadline (the
 *   server or the network is down, slow or stopped).
 */
export type LeaseLostKind = "lost" | "taken-over" | "unconfirmed";

/**
 * The reason of a {@linkcode RedisClaim}'s aborted signal.
 *
 * @example Inspect a lost lease
 * ```ts
 * import { LeaseLostError } from "@loops/registry/redis";
 * import assert from "node:assert/strict";
 *
 * const error = new LeaseLostError("loop-1-abcd", "unconfirmed");
 * assert.equal(error.name, "LeaseLostError");
 * assert.equal(error.kind, "unconfirmed");
 * assert.match(error.message, /loop-1-abcd/);
 * ```
 */
export class LeaseLostError extends Error {
  /** The loop id. */
  readonly id: string;
  /** How the lease was lost. */
  readonly kind: LeaseLostKind;

  /**
   * Constructs a new instance.
   *
   * @param id The loop id.
   * @param kind How the lease was lost.
   * @param options Standard error options, e.g. `cause`.
   */
  constructor(id: string, kind: LeaseLostKind, options?: ErrorOptions) {
    const why = kind === "lost"
      ? "the server no longer holds its registration"
      : kind === "taken-over"
      ? "its id now names another registration"
      : "no renewal was confirmed before the lease's deadline";
    super(`Lost the lease of loop ${JSON.stringify(id)} as ${why}`, options);
    this.name = "LeaseLostError";
    this.id = id;
    this.kind = kind;
  }
}

/**
 * The registry of agent loops in one Redis namespace (see
 * {@linkcode openRedisRegistry}).
 *
 * @example List the loops of a namespace
 * ```ts ignore
 * import { openRedisRegistry } from "@loops/registry/redis";
 *
 * const registry = await openRedisRegistry("redis://127.0.0.1:6379");
 * for (const loop of await registry.list()) console.log(loop.id, loop.status);
 * await registry.close();
 * ```
 */
export interface RedisRegistry extends Registry {
  /** The namespace. */
  readonly namespace: string;
  /** Lease length, in milliseconds. */
  readonly ttlMs: number;
  /**
   * Registers a loop under a lease renewed automatically; see
   * {@linkcode RedisClaim}.
   *
   * @param prompt The prompt or task of the loop.
   * @param options The id, pid, worktree, signal handling and what to do
   *   when the lease is lost.
   * @returns The claim.
   * @throws {LoopIdTakenError} If a live loop has the same id.
   */
  claim(prompt: string, options?: RedisClaimOptions): Promise<RedisClaim>;
  /**
   * One entry with its verdict and lease, expired or not; changes nothing.
   *
   * @param id The loop id.
   * @returns The entry, or `undefined` when the server has none.
   */
  inspect(id: string): Promise<RedisInspection | undefined>;
}

interface Snapshot {
  last: string;
  loops: LoopInfo[];
  /** Server ms until the earliest lease ends or turns stale. */
  nextChangeMs: number;
}

/**
 * The listed status: the verdict, or `stale` for a live loop whose lease
 * turned stale (see `staleAt`) at or before `now`.
 */
function withLease(
  verdict: LoopStatus | "dead",
  stale: number | undefined,
  now: number,
): LoopStatus | "dead" {
  if (verdict === "dead") return verdict;
  return stale !== undefined && stale <= now ? "stale" : verdict;
}

function procKey(entry: LoopEntry): string {
  const origin = entry.origin;
  return `${origin?.hostId ?? ""}:${origin?.pidNamespace ?? ""}:${entry.pid}`;
}

function validate(entry: LoopEntry): void {
  if (!isValidLoopId(entry.id)) {
    throw new RangeError(
      `Cannot register the loop as its id is not 1 to 256 characters without control characters: current value is ${
        JSON.stringify(entry.id)
      }`,
    );
  }
  if (!isValidPid(entry.pid)) {
    throw new RangeError(
      `Cannot register the loop as its pid is not an integer from 1 to 4194304: current value is ${entry.pid}`,
    );
  }
}

/**
 * An entry read back from the server, or `undefined` when the stored text
 * is not one (written by something else): such an entry is never listed.
 */
function parseEntry(json: string): LoopEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const raw = value as Record<string, unknown>;
  const ok = typeof raw.id === "string" && typeof raw.pid === "number" &&
    typeof raw.started === "string" && typeof raw.prompt === "string" &&
    typeof raw.workspace === "string";
  if (!ok) return undefined;
  // Only the fields of a LoopEntry, each of its type: as the file's codec
  // does, a malformed origin or identity counts as none (so it is never
  // shown or compared as something it is not).
  const stored = (value: unknown): Record<string, unknown> =>
    typeof value === "object" && value !== null
      ? value as Record<string, unknown>
      : {};
  const identity = stored(raw.identity);
  const origin = stored(raw.origin);
  return storedEntry(
    raw as unknown as RequiredFields,
    raw.worktreePath,
    identityOf(identity.startTime, identity.bootId),
    originOf(origin.hostId, origin.hostname, origin.pidNamespace),
  );
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class RedisEngine implements RedisRegistry {
  readonly namespace: string;
  readonly ttlMs: number;
  readonly #connection: RedisConnection;
  readonly #env: RegistryEnv;
  readonly #workspace: string | undefined;
  readonly #cap: string;
  readonly #events: string;

  constructor(
    connection: RedisConnection,
    namespace: string,
    keys: string[],
    options: RedisRegistryOptions,
  ) {
    this.#connection = connection;
    this.namespace = namespace;
    this.ttlMs = options.ttlMs ?? 15_000;
    this.#env = options.env ?? defaultRegistryEnv;
    this.#workspace = options.workspace;
    this.#cap = String(options.streamLength ?? 10_000);
    this.#events = keys[4]!;
  }

  get location(): string {
    return `${this.#connection.location} [namespace ${this.namespace}]`;
  }

  #script(
    name: Parameters<RedisConnection["script"]>[0],
    args: string[],
    timeoutMs?: number,
  ): Promise<unknown[]> {
    return this.#connection.script(name, [this.#cap, ...args], timeoutMs);
  }

  /** The entry as stored: with this host's origin and identity if known. */
  #complete(entry: LoopEntry): LoopEntry {
    const stored: LoopEntry = { ...entry };
    if (stored.origin === undefined) {
      const local = this.#env.origin?.() ?? {};
      if (local.hostId !== undefined) {
        stored.origin = { hostId: local.hostId };
        if (local.hostname !== undefined) {
          stored.origin.hostname = local.hostname;
        }
        if (local.pidNamespace !== undefined) {
          stored.origin.pidNamespace = local.pidNamespace;
        }
      }
    }
    if (stored.identity === undefined) {
      const identity = this.#env.identify(stored.pid);
      if (identity !== undefined) stored.identity = identity;
    }
    return stored;
  }

  /** The judges of one call: one per workspace (worktrees resolve there). */
  #judges(): (entry: LoopEntry) => Judge {
    const judges = new Map<string, Judge>();
    return (entry) => {
      let judge = judges.get(entry.workspace);
      if (judge === undefined) {
        judge = new Judge(this.#env, entry.workspace);
        judges.set(entry.workspace, judge);
      }
      return judge;
    };
  }

  async #register(entry: LoopEntry, token: string): Promise<LoopEntry> {
    validate(entry);
    const stored = this.#complete(entry);
    const json = JSON.stringify(stored);
    const args = [
      stored.id,
      json,
      token,
      String(this.ttlMs),
      procKey(stored),
    ];
    let [reply] = await this.#script("register", args);
    if (reply === "taken") {
      // A live lease whose pid is of this host and proven dead does not
      // keep the id: remove exactly that entry, then try once more.
      const holder = await this.#read(stored.id, false);
      const judge = holder && this.#judges()(holder.entry);
      if (holder && judge?.here(holder.entry) && judge.dead(holder.entry)) {
        await this.#script("dropIf", [stored.id, holder.json]);
        [reply] = await this.#script("register", args);
      }
    }
    if (reply === "taken") {
      throw new LoopIdTakenError(stored.id, this.location);
    }
    return stored;
  }

  async #read(
    id: string,
    all: boolean,
  ): Promise<
    | {
      entry: LoopEntry;
      json: string;
      deadline: number;
      now: number;
      beat: string;
    }
    | undefined
  > {
    const reply = await this.#script("get", [id, all ? "1" : "0"]);
    if (reply.length < 3) return undefined;
    const json = String(reply[1]);
    const entry = parseEntry(json);
    if (entry === undefined) return undefined;
    return {
      entry,
      json,
      deadline: Number(reply[2]),
      now: Number(reply[0]),
      beat: String(reply[3] ?? ""),
    };
  }

  register(entry: LoopEntry): Promise<string> {
    return this.#register(entry, crypto.randomUUID()).then((e) => e.id);
  }

  async deregister(id: string): Promise<void> {
    const [removed] = await this.#script("deregister", [id, ""]);
    if (removed !== 1) throw new LoopNotFoundError(id, this.location);
  }

  async deregisterPid(pid: number): Promise<boolean> {
    const local = this.#env.origin?.() ?? {};
    const keys = new Set([`::${pid}`]);
    if (local.hostId !== undefined) {
      keys.add(`${local.hostId}::${pid}`);
      keys.add(`${local.hostId}:${local.pidNamespace ?? ""}:${pid}`);
    }
    const [removed] = await this.#script("deregisterProc", [...keys]);
    return Number(removed) > 0;
  }

  async get(id: string): Promise<LoopInfo | undefined> {
    const read = await this.#read(id, false);
    if (read === undefined) return undefined;
    const verdict = this.#judges()(read.entry).verdict(read.entry);
    const stale = staleAt(read.beat, read.deadline);
    const status = withLease(verdict, stale, read.now);
    return status === "dead" ? undefined : { ...read.entry, status };
  }

  async #snapshot(): Promise<Snapshot & { raw: [LoopEntry, string][] }> {
    const reply = await this.#script("list", []);
    const now = Number(reply[1]);
    const judgeOf = this.#judges();
    const loops: LoopInfo[] = [];
    const raw: [LoopEntry, string][] = [];
    let next = Infinity;
    for (let i = 2; i + 3 < reply.length; i += 4) {
      const json = String(reply[i + 1]);
      const entry = parseEntry(json);
      const beat = String(reply[i + 3]);
      const deadline = Number(reply[i + 2]);
      next = Math.min(next, deadline - now);
      const stale = staleAt(beat, deadline);
      if (stale !== undefined && stale > now) {
        next = Math.min(next, stale - now);
      }
      if (entry === undefined) continue;
      raw.push([entry, json]);
      const status = withLease(judgeOf(entry).verdict(entry), stale, now);
      if (status !== "dead") loops.push({ ...entry, status });
    }
    // The server answers in lease order, which every renewal changes: list
    // in registration order instead (start time, then id), as stable as
    // the file's.
    loops.sort((a, b) =>
      a.started < b.started
        ? -1
        : a.started > b.started
        ? 1
        : a.id < b.id
        ? -1
        : a.id > b.id
        ? 1
        : 0
    );
    return { last: String(reply[0]), loops, nextChangeMs: next, raw };
  }

  async list(): Promise<LoopInfo[]> {
    return (await this.#snapshot()).loops;
  }

  async inspect(id: string): Promise<RedisInspection | undefined> {
    const read = await this.#read(id, true);
    if (read === undefined) return undefined;
    const lease: Pick<RedisInspection, "leaseExpiresAt" | "renewedAt"> = {
      leaseExpiresAt: new Date(read.deadline).toISOString(),
    };
    if (staleAt(read.beat, read.deadline) !== undefined) {
      const renewedAt = Number(read.beat.split(" ")[0]);
      lease.renewedAt = new Date(renewedAt).toISOString();
    }
    const verdict = this.#judges()(read.entry).explain(read.entry);
    if (read.deadline <= read.now) {
      // The lease decides; a process judged here that lives on is said
      // (elsewhere the verdict is `unknown`).
      const dead = { liveness: "dead", reason: "exited" } as const;
      return verdict.liveness === "alive"
        ? { ...read.entry, ...dead, ...lease, outlivedLease: verdict }
        : { ...read.entry, ...dead, ...lease };
    }
    return { ...read.entry, ...verdict, ...lease };
  }

  async cleanStale(): Promise<number> {
    const [expired] = await this.#script("clean", []);
    let removed = Number(expired);
    const { raw } = await this.#snapshot();
    const judgeOf = this.#judges();
    for (const [entry, json] of raw) {
      const judge = judgeOf(entry);
      if (!removedByClean(judge, { orphans: true })(entry)) continue;
      const [dropped] = await this.#script("dropIf", [entry.id, json]);
      removed += Number(dropped);
    }
    return removed;
  }

  async claim(
    prompt: string,
    options: RedisClaimOptions = {},
  ): Promise<RedisClaim> {
    const entry = createLoopEntry(prompt, {
      id: options.id,
      pid: options.pid,
      worktreePath: options.worktreePath,
      workspace: this.#workspace,
    });
    const token = crypto.randomUUID();
    const sent = performance.now();
    const stored = await this.#register(entry, token);
    return new LeasedClaim(this.#claimOps(), stored, token, {
      ttlMs: this.ttlMs,
      sent,
      handleSignals: options.handleSignals ?? true,
      reRegister: options.onLost === "re-register",
    });
  }

  #claimOps(): ClaimOps {
    return {
      heartbeat: async (id, token, timeoutMs) => {
        const [reply] = await this.#script(
          "heartbeat",
          [id, token, String(this.ttlMs)],
          timeoutMs,
        );
        return reply as HeartbeatResult;
      },
      reassign: async (entry, token) => {
        validate(entry);
        const stored = this.#complete(entry);
        const [reply] = await this.#script("reassign", [
          stored.id,
          token,
          JSON.stringify(stored),
          procKey(stored),
          String(this.ttlMs),
        ]);
        if (reply === "lost") {
          throw new LoopNotFoundError(stored.id, this.location);
        }
        if (reply === "taken-over") {
          throw new LoopIdTakenError(stored.id, this.location);
        }
        return stored;
      },
      register: (entry, token) => this.#register(entry, token),
      release: async (id, token) => {
        const [removed] = await this.#script("deregister", [id, token]);
        return removed === 1;
      },
      identify: (pid) => this.#env.identify(pid),
    };
  }

  async *watch(options: WatchOptions = {}): AsyncGenerator<LoopInfo[]> {
    const { signal } = options;
    const intervalMs = options.intervalMs ?? 2000;
    if (signal?.aborted) return;
    const reader = await this.#connection.duplicate();
    const stop = () => reader.destroy();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      let snapshot = await this.#snapshot();
      let shown = JSON.stringify(snapshot.loops);
      yield snapshot.loops;
      while (!signal?.aborted) {
        // Wake for the next event, the next lease's end or staleness (an
        // expiry writes no event until a clean), or the liveness refresh.
        const wait = Math.max(
          1,
          Math.min(intervalMs, Math.ceil(snapshot.nextChangeMs) + 1),
        );
        try {
          await reader.command(
            [
              "XREAD",
              "BLOCK",
              String(wait),
              "STREAMS",
              this.#events,
              snapshot.last,
            ],
            wait + 5000,
          );
        } catch (error) {
          if (signal?.aborted) return;
          if (!(error instanceof RedisUnavailableError)) throw error;
          // Resume: the snapshot below re-lists and takes the stream's
          // current last id, so a trimmed stream or a restarted server
          // (ids started again) loses nothing and repeats nothing.
          await delay(Math.min(intervalMs, 1000));
        }
        if (signal?.aborted) return;
        try {
          snapshot = await this.#snapshot();
        } catch (error) {
          if (!(error instanceof RedisUnavailableError)) throw error;
          continue;
        }
        const now = JSON.stringify(snapshot.loops);
        if (now !== shown) {
          shown = now;
          yield snapshot.loops;
        }
      }
    } finally {
      signal?.removeEventListener("abort", stop);
      reader.destroy();
    }
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}

interface ClaimOps {
  heartbeat(
    id: string,
    token: string,
    timeoutMs: number,
  ): Promise<HeartbeatResult>;
  reassign(entry: LoopEntry, token: string): Promise<LoopEntry>;
  register(entry: LoopEntry, token: string): Promise<LoopEntry>;
  release(id: string, token: string): Promise<boolean>;
  identify: RegistryEnv["identify"];
}

// A claim's states: held (renewing; the lost timer fires at the lease's
// deadline), lost (under re-register: registering again), ended (released,
// or lost for good: `signal` aborted). Only a confirmed renewal or
// registration moves the deadline, to the time its call was sent + TTL.
class LeasedClaim extends EventTarget implements RedisClaim {
  readonly #ops: ClaimOps;
  readonly #ttlMs: number;
  readonly #reRegister: boolean;
  readonly #controller = new AbortController();
  #token: string;
  #regainToken: string | undefined;
  #entry: LoopEntry;
  #deadline: number;
  #held = true;
  #released = false;
  #busy = false;
  #renewTimer: ReturnType<typeof setInterval> | undefined;
  #lostTimer: ReturnType<typeof setTimeout> | undefined;
  #cleanups: (() => void)[] = [];

  constructor(
    ops: ClaimOps,
    entry: LoopEntry,
    token: string,
    options: {
      ttlMs: number;
      sent: number;
      handleSignals: boolean;
      reRegister: boolean;
    },
  ) {
    super();
    this.#ops = ops;
    this.#entry = entry;
    this.#token = token;
    this.#ttlMs = options.ttlMs;
    this.#reRegister = options.reRegister;
    this.#deadline = options.sent + options.ttlMs;
    this.#armLost();
    const renewTimer = setInterval(
      () => this.#tick(),
      Math.max(1, Math.floor(options.ttlMs / 3)),
    );
    Deno.unrefTimer(renewTimer);
    this.#renewTimer = renewTimer;
    if (options.handleSignals) this.#handleSignals();
  }

  #handleSignals(): void {
    for (const signal of CLAIM_SIGNALS) {
      const handler = () => {
        this.release().catch(() => {}).finally(() =>
          Deno.exit(signalExitCode(signal))
        );
      };
      try {
        Deno.addSignalListener(signal, handler);
        this.#cleanups.push(() => Deno.removeSignalListener(signal, handler));
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
      }
    }
  }

  get id(): string {
    return this.#entry.id;
  }

  get entry(): LoopEntry {
    return { ...this.#entry };
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get #ended(): boolean {
    return this.#released || this.#controller.signal.aborted;
  }

  #armLost(): void {
    clearTimeout(this.#lostTimer);
    const lostTimer = setTimeout(
      () => this.#lose("unconfirmed"),
      Math.max(0, this.#deadline - performance.now()),
    );
    Deno.unrefTimer(lostTimer);
    this.#lostTimer = lostTimer;
  }

  #end(): void {
    clearInterval(this.#renewTimer);
    clearTimeout(this.#lostTimer);
  }

  #lose(kind: LeaseLostKind, cause?: unknown): void {
    if (this.#ended || !this.#held) return;
    clearTimeout(this.#lostTimer);
    const error = new LeaseLostError(this.#entry.id, kind, { cause });
    if (this.#reRegister && kind !== "taken-over") {
      this.#held = false;
      this.dispatchEvent(new CustomEvent("lost", { detail: error }));
      return;
    }
    this.#end();
    this.#controller.abort(error);
  }

  #tick(): void {
    if (this.#busy || this.#ended) return;
    this.#busy = true;
    const step = this.#held ? this.heartbeat() : this.#regain();
    step.catch(() => {
      // Not confirmed: the lost timer decides at the deadline.
    }).finally(() => this.#busy = false);
  }

  /**
   * Under re-register: registers the entry again, with one new token per
   * loss, so that a try that timed out but was applied makes the next try
   * succeed rather than find the id taken.
   */
  async #regain(): Promise<void> {
    this.#regainToken ??= crypto.randomUUID();
    const token = this.#regainToken;
    const sent = performance.now();
    try {
      this.#entry = await this.#ops.register(this.#entry, token);
    } catch (error) {
      if (error instanceof LoopIdTakenError) {
        this.#end();
        this.#controller.abort(
          new LeaseLostError(this.#entry.id, "taken-over", { cause: error }),
        );
      }
      return;
    }
    if (this.#ended) {
      await this.#ops.release(this.#entry.id, token);
      return;
    }
    this.#token = token;
    this.#regainToken = undefined;
    this.#deadline = sent + this.#ttlMs;
    this.#held = true;
    this.#armLost();
    this.dispatchEvent(new Event("regained"));
  }

  async heartbeat(): Promise<HeartbeatResult> {
    const sent = performance.now();
    const live = !this.#ended && this.#held;
    const budget = live ? Math.max(1, this.#deadline - sent) : 5000;
    let result: HeartbeatResult;
    try {
      result = await this.#ops.heartbeat(this.#entry.id, this.#token, budget);
    } catch (error) {
      if (live && performance.now() >= this.#deadline) {
        this.#lose("unconfirmed", error);
        return "lost";
      }
      throw error;
    }
    if (result !== "renewed") {
      this.#lose(result);
    } else if (live && this.#held) {
      this.#deadline = sent + this.#ttlMs;
      this.#armLost();
    }
    return result;
  }

  async reassign(pid: number): Promise<void> {
    if (this.#released) throw releasedClaimError(this.#entry.id);
    const moved: LoopEntry = {
      ...this.#entry,
      pid,
      started: new Date().toISOString(),
    };
    delete moved.identity;
    const identity = isValidPid(pid) ? this.#ops.identify(pid) : undefined;
    if (identity !== undefined) moved.identity = identity;
    const sent = performance.now();
    try {
      this.#entry = await this.#ops.reassign(moved, this.#token);
    } catch (error) {
      if (error instanceof LoopIdTakenError) this.#lose("taken-over", error);
      else if (error instanceof LoopNotFoundError) this.#lose("lost", error);
      throw error;
    }
    if (!this.#ended && this.#held) {
      this.#deadline = sent + this.#ttlMs;
      this.#armLost();
    }
  }

  async release(): Promise<boolean> {
    const first = !this.#released;
    this.#released = true;
    this.#end();
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    const removed = await this.#ops.release(this.#entry.id, this.#token);
    return first && removed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/**
 * Opens the registry of one namespace on a Redis (or Valkey) server, for
 * loops on several machines. Each loop holds a lease judged by the
 * server's clock: `list` and `get` never return an expired one, `register`
 * takes an expired id over, and a {@linkcode RedisClaim} renews its lease
 * every third of `ttlMs`. A pid of this host and pid namespace is probed as
 * the file engine probes it (a dead pid hides its loop at once); loops of
 * other hosts are `remote`, and only their lease decides. Every operation
 * is one atomic Lua script; every call has a deadline (`timeoutMs`). Needs
 * Redis 6.2 or later (or Valkey).
 *
 * Requires `--allow-net=HOST:PORT` and
 * `--allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS` (node-redis
 * reads them at connect); probing pids needs `--allow-run` as for the file
 * engine.
 *
 * @param url `redis://[user:password@]host[:port][/db]`, or `rediss://`
 *   for TLS.
 * @param options The namespace, key prefix, lease length and deadlines.
 * @returns The connected registry; `close()` it when done.
 * @throws {TypeError} If the URL or namespace is not valid.
 * @throws {Deno.errors.NotCapable} If a permission is missing (the message
 *   names the flag).
 * @throws {RedisUnavailableError} If the server cannot be reached within
 *   `timeoutMs` or refuses the credentials.
 *
 * @example Claim a loop on a shared server
 * ```ts ignore
 * import { openRedisRegistry } from "@loops/registry/redis";
 *
 * const registry = await openRedisRegistry("redis://127.0.0.1:6379", {
 *   namespace: "team-a",
 * });
 * await using claim = await registry.claim("implement auth");
 * console.log((await registry.list()).map((loop) => loop.id));
 * ```
 */
export async function openRedisRegistry(
  url: string,
  options: RedisRegistryOptions = {},
): Promise<RedisRegistry> {
  const namespace = options.namespace ?? "default";
  // deno-lint-ignore no-control-regex
  if (namespace === "" || /[{}\u0000-\u001f]/.test(namespace)) {
    throw new TypeError(
      `Cannot open a Redis registry as the namespace is empty or holds braces or control characters: current value is ${
        JSON.stringify(namespace)
      }`,
    );
  }
  const ttlMs = options.ttlMs ?? 15_000;
  if (!Number.isInteger(ttlMs) || ttlMs < 3) {
    throw new RangeError(
      `Cannot open a Redis registry as ttlMs is not an integer of at least 3: current value is ${ttlMs}`,
    );
  }
  const keys = namespaceKeys(options.keyPrefix ?? "loops:", namespace);
  const connection = await RedisConnection.open(url, keys, {
    timeoutMs: options.timeoutMs ?? 5000,
  });
  return new RedisEngine(connection, namespace, keys, options);
}
