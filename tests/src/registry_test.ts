// The Registry contract, run against the file engine (LoopRegistry). Loops
// are fake pids judged by an injected env: alive until `kill` marks them.
import { defaultRegistryEnv, LoopRegistry } from "../../mod.ts";
import { tempWorkspace } from "../_helpers/core.ts";
import { registryContract } from "../_helpers/registry_contract.ts";

registryContract("LoopRegistry", async () => {
  const ws = await tempWorkspace("loops_contract_");
  const dead = new Set<number>();
  let next = 3_000_000;
  const registry = new LoopRegistry(ws.path, {
    env: {
      ...defaultRegistryEnv,
      probe: (pid) => dead.has(pid) ? "dead" : "alive",
      explain: (pid) =>
        dead.has(pid)
          ? { liveness: "dead", reason: "exited" }
          : { liveness: "alive", reason: "alive" },
      identify: () => undefined,
      isDirectory: () => true,
    },
  });
  return {
    registry,
    workspace: ws.path,
    livePid: () => next++,
    kill: (entry) => {
      dead.add(entry.pid);
      return Promise.resolve();
    },
    [Symbol.asyncDispose]: () => ws[Symbol.asyncDispose](),
  };
});
