// `loops watch`: the loops, shown again on every change until Ctrl+C.
import { EXIT } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import { defineCommand } from "./_spec.ts";
import { positionalsExactly } from "./_values.ts";
import { printLoops } from "./list.ts";

/** `loops watch [--json]` */
export const watchCommand = defineCommand({
  name: "watch",
  summary: "Live view until Ctrl+C",
  arguments: [],
  options: {
    json: {
      type: "boolean",
      help: "Print one JSON array per line on each change",
    },
  },
  description:
    `Shows the loops and redraws when the registry changes or a loop's liveness
changes (checked every 2 s), until Ctrl+C (exit 130).`,
  async run({ io, registry, workspace }, { values, positionals }) {
    positionalsExactly(positionals, 0, "");
    const controller = new AbortController();
    let interrupted = false;
    const onInterrupt = () => {
      interrupted = true;
      controller.abort();
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
    try {
      for await (const loops of registry.watch({ signal: controller.signal })) {
        const json = values.json ?? false;
        if (!json && io.color) io.out("\x1b[H\x1b[2J");
        printLoops(io, loops, { json, workspace });
        if (!json) {
          io.out(
            `\nWatching ${escapeText(registry.location)} (Ctrl+C to stop)`,
          );
        }
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
    }
    return interrupted ? EXIT.interrupted : EXIT.ok;
  },
});
