// The Registry contract, run against the Redis engine on a real server (one
// per test file). Each test gets its own namespace; pids are fake and
// judged alive, so a loop dies the way Redis loops die: its lease ends.
import { ignoreOutsideCI } from "../_helpers/core.ts";
import { defaultRegistryEnv } from "../../mod.ts";
import { openRedisRegistry } from "../../redis.ts";
import { namespaceKeys } from "../../src/_redis_scripts.ts";
import { redisSkipReason, startRedis } from "../_helpers/redis.ts";
import { registryContract } from "../_helpers/registry_contract.ts";

const skip = redisSkipReason();
if (ignoreOutsideCI(skip)) {
  Deno.test({
    name: `RedisRegistry contract (${skip})`,
    ignore: ignoreOutsideCI(skip),
    fn() {},
  });
} else {
  const server = await startRedis();
  let next = 3_000_000;
  let n = 0;
  registryContract("RedisRegistry", async () => {
    const namespace = `contract-${++n}-${crypto.randomUUID()}`;
    const workspace = await Deno.makeTempDir({ prefix: "loops_redis_" });
    const registry = await openRedisRegistry(server.url, {
      namespace,
      workspace,
      env: {
        ...defaultRegistryEnv,
        probe: () => "alive",
        explain: () => ({ liveness: "alive", reason: "alive" }),
        identify: () => undefined,
        origin: () => ({}),
        isDirectory: () => true,
      },
    });
    const [lease] = namespaceKeys("loops:", namespace);
    return {
      registry,
      workspace,
      livePid: () => next++,
      // End the lease now (score 1 ms after the epoch): expired by the
      // server's clock, not yet cleaned.
      kill: async (entry) => {
        await server.command("ZADD", lease!, "XX", "1", entry.id);
      },
      async [Symbol.asyncDispose]() {
        await registry.close();
        await Deno.remove(workspace, { recursive: true });
      },
    };
  });
  Deno.test("RedisRegistry contract: stop the server", async () => {
    await server[Symbol.asyncDispose]();
  });
}
