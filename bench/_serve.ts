// The dashboard under load (issue 14): `list` of a file registry in one
// process, while `loops serve` of the same workspace pushes every change to
// 200 event-stream clients of a third process, against the same with no
// client connected.
//
// Four processes: this one changes the registry (a register or a deregister
// of its own loop every CHANGE_EVERY_MS, in every phase, so that the server
// re-lists and publishes throughout); `loops serve` (cli.ts, as a user runs
// it); the clients (bench/_serve_clients.ts); the lister
// (bench/_serve_lister.ts). Each round runs one phase without clients and
// one with them, in alternating order; the ratio is the median of the
// rounds' ratios.
import { fileURLToPath } from "node:url";
import { createLoopEntry, LoopRegistry } from "../mod.ts";
import { lineReader } from "../tests/_helpers/lines.ts";
import { type Holders, readFixture, writeFixture } from "./_fixture.ts";
import { median } from "./_measure.ts";
import type { ServeSection } from "./report/results.ts";

/** How long the dashboard section runs. */
export interface ServeSettings {
  rounds: number;
  /** Length of each phase, ms. */
  phaseMs: number;
  onRound?: (n: number) => void;
}

/** Event-stream clients of the loaded phases. */
export const SERVE_CLIENTS = 200;
/** Entries of the registry served and listed. */
export const SERVE_ENTRIES = 100;
/** One registry change (register or deregister) this often, ms. */
export const CHANGE_EVERY_MS = 100;

const root = fileURLToPath(new URL("..", import.meta.url));

interface Child extends AsyncDisposable {
  child: Deno.ChildProcess;
  send(line: string): Promise<void>;
  read(): Promise<string>;
}

/** `deno run -A <args>` from the repository root, spoken to by lines. */
function spawn(args: string[]): Child {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const next = lineReader(child.stdout);
  const encoder = new TextEncoder();
  return {
    child,
    send: (line) => writer.write(encoder.encode(`${line}\n`)),
    async read() {
      const line = await next();
      if (line === undefined) {
        throw new Error(`Cannot read from "${args.join(" ")}" as it exited`);
      }
      return line;
    },
    async [Symbol.asyncDispose]() {
      await writer.close().catch(() => {});
      try {
        child.kill("SIGTERM");
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // already exited
      }
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

async function expect(child: Child, line: string): Promise<void> {
  const got = await child.read();
  if (got !== line) throw new Error(`Unexpected line ${JSON.stringify(got)}`);
}

/** Registers and deregisters one loop in turn until stopped. */
function churn(workspace: string): {
  stop(): Promise<{ changes: number; ms: number }>;
} {
  const registry = new LoopRegistry(workspace);
  const entry = createLoopEntry("benchmark churn", {
    id: "loop-bench-churn",
    workspace,
  });
  let running = true;
  let changes = 0;
  const start = performance.now();
  const done = (async () => {
    let registered = false;
    while (running) {
      const next = performance.now() + CHANGE_EVERY_MS;
      if (registered) await registry.deregister(entry.id);
      else await registry.register(entry);
      registered = !registered;
      changes++;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const ms = performance.now() - start;
    if (registered) await registry.deregister(entry.id);
    return { changes, ms };
  })();
  return {
    stop() {
      running = false;
      return done;
    },
  };
}

/** list calls per second in the lister over one phase. */
async function listRate(lister: Child, phaseMs: number): Promise<number> {
  await lister.send(`go ${phaseMs}`);
  const report = JSON.parse(await lister.read());
  if (report.entries < SERVE_ENTRIES) {
    throw new Error(
      `Cannot trust the run as list gave ${report.entries} entries`,
    );
  }
  return report.calls / (report.elapsedMs / 1000);
}

/** The interleaved rounds: each one phase without clients, one with. */
async function rounds(
  clients: Child,
  lister: Child,
  settings: ServeSettings,
): Promise<
  Pick<
    ServeSection,
    | "idleRate"
    | "loadedRate"
    | "ratio"
    | "ratios"
    | "eventsPerSecond"
    | "bytesPerSecond"
    | "streaming"
  >
> {
  const idle: number[] = [];
  const loaded: number[] = [];
  const ratios: number[] = [];
  let events = 0;
  let bytes = 0;
  let loadedMs = 0;
  let streaming = SERVE_CLIENTS;
  for (let round = 0; round < settings.rounds; round++) {
    let idleRate = 0;
    let loadedRate = 0;
    for (const withClients of round % 2 ? [true, false] : [false, true]) {
      if (!withClients) {
        idleRate = await listRate(lister, settings.phaseMs);
        continue;
      }
      await clients.send("open");
      await expect(clients, "open");
      await clients.send("count");
      await clients.read();
      const start = performance.now();
      loadedRate = await listRate(lister, settings.phaseMs);
      await clients.send("count");
      const counts = JSON.parse(await clients.read());
      loadedMs += performance.now() - start;
      events += counts.events;
      bytes += counts.bytes;
      streaming = Math.min(streaming, counts.streaming);
      await clients.send("close");
      await expect(clients, "closed");
    }
    idle.push(idleRate);
    loaded.push(loadedRate);
    ratios.push(idleRate / loadedRate);
    settings.onRound?.(round + 1);
  }
  return {
    idleRate: median(idle),
    loadedRate: median(loaded),
    ratio: median([...ratios]),
    ratios,
    eventsPerSecond: events / (loadedMs / 1000),
    bytesPerSecond: bytes / (loadedMs / 1000),
    streaming,
  };
}

/** The dashboard section: list with and without 200 clients streaming. */
export async function serveBench(
  tmp: string,
  holders: Holders,
  settings: ServeSettings,
): Promise<ServeSection> {
  const workspace = await Deno.makeTempDir({ dir: tmp, prefix: "serve_" });
  const file = writeFixture(workspace, SERVE_ENTRIES, holders);
  await using server = spawn([
    "cli.ts",
    "--workspace",
    workspace,
    "serve",
    "--port",
    "0",
    "--read-only",
  ]);
  const first = await server.read();
  const match = first.match(/ at http:\/\/127\.0\.0\.1:(\d+)\/#token=(\S+)$/);
  if (match === null) {
    throw new Error(`Cannot read the server's URL from ${first}`);
  }
  await using clients = spawn([
    "bench/_serve_clients.ts",
    match[1]!,
    match[2]!,
    String(SERVE_CLIENTS),
  ]);
  await using lister = spawn(["bench/_serve_lister.ts", workspace]);
  await expect(clients, "ready");
  await expect(lister, "ready");
  const changer = churn(workspace);
  const measured = await rounds(clients, lister, settings).catch(
    async (error) => {
      await changer.stop();
      throw error;
    },
  );
  const changed = await changer.stop();
  const left = readFixture(file).length;
  if (left !== SERVE_ENTRIES) {
    throw new Error(
      `Cannot trust the run as the ${SERVE_ENTRIES}-entry registry changed: ${left} entries`,
    );
  }
  return {
    clients: SERVE_CLIENTS,
    entries: SERVE_ENTRIES,
    rounds: settings.rounds,
    phaseMs: settings.phaseMs,
    changesPerSecond: changed.changes / (changed.ms / 1000),
    ...measured,
  };
}
