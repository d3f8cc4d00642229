// `loops get ID`: one loop, as `key: value` lines or a JSON object.
import { LoopNotFoundError } from "../mod.ts";
import { EXIT } from "./_errors.ts";
import { formatDetail, stringifyJson, toJson } from "./_format.ts";
import { defineCommand } from "./_spec.ts";
import { ID_ARGUMENT, positionalsExactly } from "./_values.ts";

/** `loops get ID [--json]` */
export const getCommand = defineCommand({
  name: "get",
  summary: "One loop; exit 1 when not found",
  arguments: [ID_ARGUMENT],
  options: {
    json: { type: "boolean", help: "Print the entry as a JSON object" },
  },
  description: "Shows one loop. Exits 1 when no live loop has this id.",
  async run({ io, registry }, { values, positionals }) {
    positionalsExactly(positionals, 1, "loop ID");
    const id = positionals[0]!;
    const loop = await registry.get(id);
    if (loop === undefined) throw new LoopNotFoundError(id, registry.location);
    io.out(
      values.json
        ? stringifyJson(toJson(loop))
        : formatDetail(loop, new Date()),
    );
    return EXIT.ok;
  },
});
