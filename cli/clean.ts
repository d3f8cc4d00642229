// `loops clean`: remove the entries of dead processes, and orphans; with
// --dry-run, only say which would go.
import { previewClean } from "./_engine.ts";
import { EXIT, UsageError } from "./_errors.ts";
import { formatTable, stringifyJson, toJson } from "./_format.ts";
import { defineCommand } from "./_spec.ts";
import { positionalsExactly } from "./_values.ts";

function entries(count: number): string {
  return `${count} stale ${count === 1 ? "entry" : "entries"}`;
}

/** `loops clean [--dry-run [--json]]` */
export const cleanCommand = defineCommand({
  name: "clean",
  summary: "Remove dead and orphan entries; prints how many",
  arguments: [],
  options: {
    "dry-run": {
      type: "boolean",
      help: "Change nothing: list the entries that would be removed",
    },
    json: {
      type: "boolean",
      help:
        "With --dry-run: print them as a JSON array (status dead or orphan)",
    },
  },
  description:
    `Removes entries whose process is dead and orphans (alive, worktree gone).
Entries whose liveness cannot be checked, and those of another host or pid
namespace, are kept. Prints how many were removed.`,
  async run(context, { values, positionals }) {
    positionalsExactly(positionals, 0, "");
    const { io, registry } = context;
    if (!values["dry-run"]) {
      if (values.json) {
        throw new UsageError("Cannot use --json without --dry-run");
      }
      io.out(`Removed ${entries(await registry.cleanStale())}`);
      return EXIT.ok;
    }
    const stale = await previewClean(registry, {
      lockTimeoutMs: context.lockTimeoutMs,
    });
    if (values.json) {
      io.out(stringifyJson(stale.map((loop) => toJson(loop))));
    } else if (stale.length === 0) {
      io.out(`Would remove no stale entries`);
    } else {
      io.out(
        `Would remove ${entries(stale.length)}:\n${
          formatTable(stale, {
            color: io.color,
            columns: io.columns,
            now: new Date(),
          })
        }`,
      );
    }
    return EXIT.ok;
  },
});
