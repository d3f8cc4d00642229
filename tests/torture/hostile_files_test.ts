// Hostile registry files: see _hostile.ts for the table of cases.
import { hostileCases, runHostileCase } from "./_hostile.ts";

Deno.test("hostile registry files give the documented result", async (t) => {
  for (const hostile of hostileCases) {
    await t.step(
      `${hostile.name}: ${hostile.what}`,
      () => runHostileCase(hostile),
    );
  }
});
