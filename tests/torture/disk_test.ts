// Disk trouble: real errors on a small tmpfs (needs root), else only the
// fault-seam scenarios run and the tmpfs ones are reported as ignored.
import { ignoreOutsideCI } from "../_helpers/core.ts";
import { canMountTmpfs, diskScenarios, runDiskScenario } from "./_disk.ts";

const cannotMount = canMountTmpfs();

Deno.test("a failing write leaves the previous registry readable", async (t) => {
  for (const scenario of diskScenarios) {
    await t.step({
      name: `${scenario.name} (${scenario.method})`,
      ignore: ignoreOutsideCI(
        scenario.method === "tmpfs" ? cannotMount : undefined,
      ),
      fn: async () => {
        await runDiskScenario(scenario);
      },
    });
  }
});
