// `loops list`: the table of loops, or a JSON array.
import type { LoopInfo } from "../mod.ts";
import { EXIT } from "./_errors.ts";
import { escapeText, formatTable, stringifyJson, toJson } from "./_format.ts";
import { defineCommand } from "./_spec.ts";
import { positionalsExactly } from "./_values.ts";
import type { CliIo } from "./io.ts";

/** How {@linkcode printLoops} prints. */
export interface PrintOptions {
  /** A JSON array instead of the table. */
  json: boolean;
  /** The workspace, named when there is no loop. */
  workspace: string;
}

/** Prints `loops` as the table (or a line saying there is none) or JSON. */
export function printLoops(
  io: CliIo,
  loops: LoopInfo[],
  options: PrintOptions,
): void {
  if (options.json) {
    io.out(stringifyJson(loops.map(toJson)));
  } else if (loops.length === 0) {
    io.out(`No loops registered in ${escapeText(options.workspace)}`);
  } else {
    io.out(
      formatTable(loops, {
        color: io.color,
        columns: io.columns,
        now: new Date(),
      }),
    );
  }
}

/** `loops list [--json]` */
export const listCommand = defineCommand({
  name: "list",
  summary: "Table of loops; --json prints a JSON array",
  arguments: [],
  options: {
    json: {
      type: "boolean",
      help: "Print a JSON array of entries (the file's fields plus status)",
    },
  },
  description:
    `Lists the loops: ID  STATUS  PID  AGE  WORKTREE  PROMPT. STATUS is running,
orphan (alive, worktree gone) or unknown (liveness cannot be checked). Dead
entries are left out (and removed when the file is writable).`,
  async run(context, { values, positionals }) {
    positionalsExactly(positionals, 0, "");
    printLoops(context.io, await context.registry.list(), {
      json: values.json ?? false,
      workspace: context.workspace,
    });
    return EXIT.ok;
  },
});
