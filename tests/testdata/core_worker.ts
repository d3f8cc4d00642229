// A child process that hammers one registry, for the concurrency and kill -9
// tests. Each completed (returned) operation is logged to stdout as one line,
// written synchronously, so a line seen by the parent is an acknowledged
// change.
//
// Usage: deno run <flags> core_worker.ts <workspace> <mode> <n> <count>
//   fake  registers <count> entries with distinct fake pids (every pid counts
//         as alive) and deregisters every odd one; prints "done".
//   own   registers and deregisters an entry of its own pid <count> times,
//         then registers `final-<n>`, prints "done" and waits for stdin EOF.
//   crash like `fake` but forever, logging "+ <id>" and "- <id>"; the parent
//         kills it with SIGKILL.
import {
  createLoopEntry,
  defaultRegistryEnv,
  LoopRegistry,
  type RegistryEnv,
} from "../../mod.ts";

const [workspace, mode, nText, countText] = Deno.args;
const n = Number(nText);
const count = Number(countText);
const encoder = new TextEncoder();

function log(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let offset = 0;
  while (offset < bytes.length) {
    offset += Deno.stdout.writeSync(bytes.subarray(offset));
  }
}

const alive: RegistryEnv = {
  ...defaultRegistryEnv,
  probe: () => "alive",
  identify: () => undefined,
  isDirectory: () => true,
};
const registry = new LoopRegistry(workspace!, {
  env: mode === "own" ? defaultRegistryEnv : alive,
  lockTimeoutMs: 60_000,
});

function fakePid(i: number): number {
  return 1_000_000 + n * 100_000 + i;
}

if (mode === "fake") {
  for (let i = 0; i < count; i++) {
    const id = `w${n}-${i}`;
    // Alternate the async and sync APIs: both must exclude each other.
    const entry = createLoopEntry("fake", { id, pid: fakePid(i), workspace });
    if (i % 4 === 0) registry.registerSync(entry);
    else await registry.register(entry);
    if (i % 2 === 1) await registry.deregister(id);
  }
  log("done");
} else if (mode === "own") {
  for (let i = 0; i < count; i++) {
    const id = `w${n}-${i}`;
    await registry.register(createLoopEntry("own", { id, workspace }));
    await registry.deregister(id);
  }
  await registry.register(
    createLoopEntry("own", { id: `final-${n}`, workspace }),
  );
  log("done");
  // Stay alive (so the final entry is not cleaned as dead) until the parent
  // closes stdin.
  for await (const _ of Deno.stdin.readable) { /* drain */ }
} else if (mode === "crash") {
  for (let i = 0;; i++) {
    const id = `k${n}-${i}`;
    await registry.register(
      createLoopEntry("crash", { id, pid: fakePid(i), workspace }),
    );
    log(`+ ${id}`);
    if (i % 2 === 1) {
      await registry.deregister(id);
      log(`- ${id}`);
    }
  }
} else {
  throw new TypeError(`Unknown mode ${JSON.stringify(mode)}`);
}
