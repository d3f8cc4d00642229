// A contention worker: register/deregister pairs of its own pid on one
// registry for a fixed time, timing each call of the async API.
//
// Protocol, one line each way: prints "ready"; then for each line
// "go <ms> <workspace> [stubbed]" it runs pairs on that workspace for <ms>
// (with liveness probes stubbed out when "stubbed": a diagnostic), registers
// `final-<n>` there (left in place, so the parent can check that no update
// was lost) and prints one JSON line of results. It stays alive until stdin
// closes, so that its final entries are never cleaned as dead.
//
// Usage: deno run -A bench/_worker.ts <n>
import {
  createLoopEntry,
  defaultRegistryEnv,
  LoopRegistry,
  type RegistryEnv,
} from "../mod.ts";
import { lineReader } from "../tests/_helpers/lines.ts";

const n = Number(Deno.args[0]);
const encoder = new TextEncoder();

async function send(line: string): Promise<void> {
  const writer = Deno.stdout.writable.getWriter();
  try {
    await writer.write(encoder.encode(`${line}\n`));
  } finally {
    writer.releaseLock();
  }
}

const nextLine = lineReader(Deno.stdin.readable);

const stubbedEnv: RegistryEnv = {
  ...defaultRegistryEnv,
  probe: () => "alive",
  identify: () => undefined,
};

async function phase(
  durationMs: number,
  workspace: string,
  stubbed: boolean,
): Promise<string> {
  const registry = new LoopRegistry(workspace, {
    lockTimeoutMs: 60_000,
    env: stubbed ? stubbedEnv : defaultRegistryEnv,
  });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const end = start + durationMs;
  for (let i = 0; performance.now() < end; i++) {
    const id = `w${n}-${i}`;
    const entry = createLoopEntry("contention", { id, workspace });
    try {
      let t = performance.now();
      await registry.register(entry);
      latencies.push(performance.now() - t);
      t = performance.now();
      await registry.deregister(id); // LoopNotFoundError if it was lost
      latencies.push(performance.now() - t);
    } catch (error) {
      errors++;
      firstError ??= String(error);
    }
  }
  const elapsedMs = performance.now() - start;
  await registry.register(
    createLoopEntry("contention", { id: `final-${n}`, workspace }),
  );
  return JSON.stringify({ n, elapsedMs, latencies, errors, firstError });
}

await send("ready");
for (let line = await nextLine(); line !== undefined; line = await nextLine()) {
  const [verb, ms, workspace, mode] = line.split(" ");
  if (verb !== "go" || workspace === undefined) {
    throw new Error(`Cannot understand command ${JSON.stringify(line)}`);
  }
  await send(await phase(Number(ms), workspace, mode === "stubbed"));
}
