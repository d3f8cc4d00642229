// `loops clean`: remove the entries of dead processes, and orphans.
import { EXIT } from "./_errors.ts";
import { defineCommand } from "./_spec.ts";
import { positionalsExactly } from "./_values.ts";

/** `loops clean` */
export const cleanCommand = defineCommand({
  name: "clean",
  summary: "Remove dead and orphan entries; prints how many",
  arguments: [],
  options: {},
  description:
    `Removes entries whose process is dead and orphans (alive, worktree gone).
Entries whose liveness cannot be checked are kept. Prints how many were removed.`,
  async run({ io, registry }, { positionals }) {
    positionalsExactly(positionals, 0, "");
    const removed = await registry.cleanStale();
    io.out(`Removed ${removed} stale ${removed === 1 ? "entry" : "entries"}`);
    return EXIT.ok;
  },
});
