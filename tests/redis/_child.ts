// A child process of the Redis tests: `claim` holds a claim until killed,
// `race` registers one id when told to go on stdin.
//
//   deno run ... _child.ts claim URL NAMESPACE ID TTL_MS [HOST_ID]
//   deno run ... _child.ts claim-signals ... (the same, deregistering on
//   SIGINT and SIGTERM)
//   deno run ... _child.ts race URL NAMESPACE ID
import {
  createLoopEntry,
  defaultRegistryEnv,
  LoopIdTakenError,
} from "../../mod.ts";
import { openRedisRegistry } from "../../redis.ts";

const [mode, url, namespace, id, ttl, hostId] = Deno.args;
const out = (line: string) =>
  Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));

if (mode === "claim" || mode === "claim-signals") {
  const registry = await openRedisRegistry(url!, {
    namespace,
    ttlMs: Number(ttl),
    workspace: "/ws",
    env: hostId === undefined
      ? defaultRegistryEnv
      : { ...defaultRegistryEnv, origin: () => ({ hostId }) },
  });
  const claim = await registry.claim("held", {
    id,
    handleSignals: mode === "claim-signals",
  });
  claim.signal.addEventListener("abort", () => out("lost"));
  out("ready");
  // Keep running (a claim's timers do not hold the process) until killed.
  setInterval(() => {}, 60_000);
} else if (mode === "race") {
  const registry = await openRedisRegistry(url!, { namespace });
  out("ready");
  const reader = Deno.stdin.readable.getReader();
  await reader.read();
  try {
    await registry.register(createLoopEntry("race", { id, workspace: "/ws" }));
    out("won");
  } catch (error) {
    if (!(error instanceof LoopIdTakenError)) throw error;
    out("taken");
  }
  reader.releaseLock();
  await registry.close();
} else {
  throw new TypeError(`Cannot run the child as the mode is unknown: ${mode}`);
}
