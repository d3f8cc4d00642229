// `loops repair`: move a corrupt registry aside and start an empty one.
import { EXIT } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import { defineCommand } from "./_spec.ts";
import { positionalsExactly } from "./_values.ts";

/** `loops repair` */
export const repairCommand = defineCommand({
  name: "repair",
  summary: "Move a corrupt registry aside and start empty",
  arguments: [],
  options: {},
  description:
    `Moves a corrupt registry aside to .ralph/loops.json.corrupt-<time> and starts an
empty one. A healthy registry is left alone.`,
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
        : `Moved the corrupt registry to "${
          escapeText(aside)
        }" and started an empty one`,
    );
    return EXIT.ok;
  },
});
