// `loops list`: the table of loops, their ids, or a JSON array; filtered
// and ordered by the selection options.
import { type LoopInfo, readLocalOrigin } from "../mod.ts";
import { isShared } from "./_engine.ts";
import { EXIT, UsageError } from "./_errors.ts";
import { escapeText, formatTable, stringifyJson, toJson } from "./_format.ts";
import { filters, select, SELECT_OPTIONS } from "./_select.ts";
import { defineCommand } from "./_spec.ts";
import { positionalsExactly } from "./_values.ts";
import type { CliIo } from "./io.ts";

/** How {@linkcode printLoops} prints. */
export interface PrintOptions {
  /** A JSON array instead of the table. */
  json: boolean;
  /** The ids alone, one a line. */
  quiet?: boolean;
  /** The workspace, named when there is no loop. */
  workspace: string;
  /** Whether a filter was given: "no loop matches" then, not "none". */
  filtered?: boolean;
  /** Always show the HOST column (an engine shared by several machines). */
  hosts?: boolean;
}

/** The loops as the table (or a line saying there is none), ids or JSON. */
export function renderLoops(
  io: Pick<CliIo, "color" | "columns">,
  loops: LoopInfo[],
  options: PrintOptions,
): string | undefined {
  if (options.json) return stringifyJson(loops.map(toJson));
  if (options.quiet) {
    return loops.length === 0
      ? undefined
      : loops.map((loop) => escapeText(loop.id)).join("\n");
  }
  if (loops.length === 0) {
    return `No loops ${options.filtered ? "match" : "registered"} in ${
      escapeText(options.workspace)
    }`;
  }
  return formatTable(loops, {
    color: io.color,
    columns: io.columns,
    now: new Date(),
    hosts: options.hosts,
    localHostId: loops.some((loop) => loop.origin !== undefined)
      ? readLocalOrigin().hostId
      : undefined,
  });
}

/** `loops list [--json | -q] [selection]` */
export const listCommand = defineCommand({
  name: "list",
  summary: "Table of loops; --json prints a JSON array, -q the ids",
  arguments: [],
  options: {
    json: {
      type: "boolean",
      help: "Print a JSON array of entries (the file's fields plus status)",
    },
    quiet: { type: "boolean", short: "q", help: "Print the ids alone" },
    ...SELECT_OPTIONS,
  },
  description:
    `Lists the loops: ID  STATUS  PID  AGE  WORKTREE  PROMPT, with HOST after
STATUS for Redis or when loops of other hosts are listed. STATUS is running,
orphan (alive, worktree gone), remote (another host or pid namespace: not
probed here), unknown (liveness cannot be checked) or stale (Redis: the lease
was not renewed for two thirds of its length). Dead entries are left out
(and removed when the file is writable). Exits 0 even when no loop matches.`,
  async run(context, { values, positionals }) {
    positionalsExactly(positionals, 0, "");
    if (values.json && values.quiet) {
      throw new UsageError("Cannot use --json with --quiet: choose one");
    }
    const { json = false, quiet = false, ...selection } = values;
    const loops = select(await context.registry.list(), selection, context.io);
    const text = renderLoops(context.io, loops, {
      json,
      quiet,
      workspace: context.workspace,
      filtered: filters(selection),
      hosts: isShared(context.registry),
    });
    if (text !== undefined) context.io.out(text);
    return EXIT.ok;
  },
});
