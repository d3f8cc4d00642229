// `loops repair`: keep what still decodes of a corrupt registry, copy the
// whole file aside.
import { EXIT } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import { defineCommand } from "./_spec.ts";
import { positionalsExactly } from "./_values.ts";

/** `loops repair` */
export const repairCommand = defineCommand({
  name: "repair",
  summary: "Salvage a corrupt registry, copying the bad file aside",
  arguments: [],
  options: {},
  description:
    `Keeps every entry of a corrupt registry that still decodes (before a cut,
around a bad entry, before trailing garbage) and copies the whole file to
.ralph/loops.json.corrupt-<time> first; a directory, FIFO or link in the
file's or journal's place is moved aside. A healthy registry is left alone.`,
  async run({ io, registry }, { positionals }) {
    positionalsExactly(positionals, 0, "");
    const where = escapeText(registry.location);
    if (registry.repair === undefined) {
      io.out(`Registry "${where}" cannot be corrupt: nothing to repair`);
      return EXIT.ok;
    }
    const aside = await registry.repair();
    io.out(
      aside === undefined
        ? `Registry "${where}" is healthy: nothing to repair`
        : `Repaired the registry: every entry that still decoded was kept; the bad file is copied to "${
          escapeText(aside)
        }"`,
    );
    return EXIT.ok;
  },
});
