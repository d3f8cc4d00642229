// The other process of the dashboard-under-load measurement: `list` of one
// file registry, timed in a loop of the async API as the CLI calls it.
//
// Protocol, one line each way: prints "ready"; then for each line "go <ms>"
// it lists for <ms> and prints one JSON line `{ calls, elapsedMs, entries }`.
// Exits when stdin closes.
//
// Usage: deno run -A bench/_serve_lister.ts <workspace>
import { LoopRegistry } from "../mod.ts";
import { lineReader } from "../tests/_helpers/lines.ts";

const registry = new LoopRegistry(Deno.args[0]!);
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
await registry.list(); // warm up
await send("ready");
for (let line = await nextLine(); line !== undefined; line = await nextLine()) {
  const [verb, ms] = line.split(" ");
  if (verb !== "go" || ms === undefined) {
    throw new Error(`Cannot understand command ${JSON.stringify(line)}`);
  }
  let calls = 0;
  let entries = 0;
  const start = performance.now();
  const end = start + Number(ms);
  let now = start;
  while (now < end) {
    entries = (await registry.list()).length;
    calls++;
    now = performance.now();
  }
  await send(JSON.stringify({ calls, elapsedMs: now - start, entries }));
}
