// `loops get ID`: one loop, as `key: value` lines or a JSON object.
import { EXIT } from "./_errors.ts";
import { formatDetail, stringifyJson, toJson } from "./_format.ts";
import { findLoop } from "./_select.ts";
import { defineCommand } from "./_spec.ts";
import { ID_ARGUMENT, positionalsExactly } from "./_values.ts";

/** `loops get ID [--json]` */
export const getCommand = defineCommand({
  name: "get",
  summary: "One loop; exit 3 when not found",
  arguments: [ID_ARGUMENT],
  options: {
    json: { type: "boolean", help: "Print the entry as a JSON object" },
  },
  description:
    `Shows one loop, whatever its status. Exits 3 when no live loop has this id
(or an id it is the start of). To ask whether it runs, use 'loops running'.`,
  async run({ io, registry }, { values, positionals }) {
    positionalsExactly(positionals, 1, "loop ID");
    const loop = await findLoop(registry, positionals[0]!);
    io.out(
      values.json
        ? stringifyJson(toJson(loop))
        : formatDetail(loop, new Date()),
    );
    return EXIT.ok;
  },
});
