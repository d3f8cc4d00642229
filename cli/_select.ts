// Picking loops: the filters and order of `list` and `watch` (--status,
// --host, --worktree, --sort), and a loop named by its id or a unique
// prefix of it, for the commands that take an ID.
import type { LoopInfo, LoopStatus, Registry } from "../mod.ts";
import { LoopNotFoundError } from "../mod.ts";
import type { ArgValues } from "./_args.ts";
import { UsageError } from "./_errors.ts";
import { resolve } from "../src/_path.ts";
import type { OptionSpecs } from "./_spec.ts";
import { absolute } from "./_values.ts";
import type { CliIo } from "./io.ts";

/** Every status a listed loop can have. */
export const STATUSES: readonly LoopStatus[] = [
  "running",
  "orphan",
  "remote",
  "unknown",
  "stale",
];

/** The orders of `--sort`. */
export const SORTS = ["started", "id", "age"] as const;

/** The selection options of `list` and `watch`. */
export const SELECT_OPTIONS = {
  status: {
    type: "string",
    value: "S",
    multiple: true,
    choices: STATUSES,
    help:
      "Only loops of this status (repeatable): running, orphan, remote, unknown",
  },
  host: {
    type: "string",
    value: "H",
    help: "Only loops registered on this host (its name or host id)",
  },
  worktree: {
    type: "string",
    value: "PATH",
    help: "Only the loop whose worktree is PATH or holds it",
  },
  sort: {
    type: "string",
    value: "KEY",
    choices: SORTS,
    help: "Order: started (oldest first), id, age (youngest first)",
  },
} as const satisfies OptionSpecs;

/** The parsed selection options. */
export type Selection = ArgValues<typeof SELECT_OPTIONS>;

/** Whether `selection` leaves loops out (rather than only sorting). */
export function filters(selection: Selection): boolean {
  return selection.status !== undefined || selection.host !== undefined ||
    selection.worktree !== undefined;
}

/** Whether `path` is `dir` or inside it (both absolute, normalized). */
function within(path: string, dir: string): boolean {
  const root = dir.endsWith("/") ? dir : `${dir}/`;
  return path === dir || path.startsWith(root);
}

/** The loops `selection` keeps, in its order. */
export function select(
  loops: readonly LoopInfo[],
  selection: Selection,
  io: Pick<CliIo, "cwd">,
): LoopInfo[] {
  // Normalized, so that `wt/` and `wt/./` are `wt`.
  const worktree = selection.worktree === undefined
    ? undefined
    : resolve(absolute(selection.worktree, io));
  const kept = loops.filter((loop) =>
    (selection.status === undefined ||
      selection.status.includes(loop.status)) &&
    (selection.host === undefined ||
      loop.origin?.hostname === selection.host ||
      loop.origin?.hostId === selection.host) &&
    (worktree === undefined ||
      (loop.worktreePath !== undefined &&
        within(
          worktree,
          resolve(loop.workspace, loop.worktreePath),
        )))
  );
  const started = (loop: LoopInfo) => {
    const time = Date.parse(loop.started);
    return Number.isNaN(time) ? Infinity : time;
  };
  switch (selection.sort) {
    case "id":
      return kept.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    case "started":
      return kept.sort((a, b) => started(a) - started(b));
    case "age":
      return kept.sort((a, b) => started(b) - started(a));
    default:
      return kept;
  }
}

/** How many candidates an ambiguous prefix names in its error. */
const SHOWN = 10;

/**
 * The one id of `ids` that is `id` or starts with it.
 *
 * @throws {UsageError} If `id` is empty, or the start of several ids.
 * @throws {LoopNotFoundError} If no id starts with it.
 */
export function matchId(
  ids: readonly string[],
  id: string,
  location: string,
): string {
  if (ids.includes(id)) return id;
  const matches = ids.filter((candidate) => candidate.startsWith(id));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new LoopNotFoundError(id, location);
  const shown = matches.slice(0, SHOWN).map((m) => JSON.stringify(m));
  if (matches.length > SHOWN) shown.push(`${matches.length - SHOWN} more`);
  throw new UsageError(
    `Cannot choose a loop as ${
      JSON.stringify(id)
    } is the start of ${matches.length} ids: ${
      shown.join(", ")
    }; give more of the id`,
  );
}

/** Throws unless `id` can name a loop (an empty prefix would name all). */
function checkSelector(id: string): void {
  if (id === "") {
    throw new UsageError(
      'Cannot use "" as a loop ID as it would match every loop',
    );
  }
}

/**
 * The live loop named by `id`: the entry with this id (dead or not: a dead
 * one is not running, whatever other ids start with it), else the one live
 * loop whose id starts with it.
 *
 * @throws {LoopNotFoundError} If there is none, or it is proven dead.
 * @throws {UsageError} If `id` is empty or an ambiguous prefix.
 */
export async function findLoop(
  registry: Registry,
  id: string,
): Promise<LoopInfo> {
  const full = await resolveId(registry, id);
  const loop = await registry.get(full);
  if (loop === undefined) throw new LoopNotFoundError(full, registry.location);
  return loop;
}

/**
 * The id of the entry named by `id`, dead or not: `id` itself when an entry
 * has it, else the one live loop's whose id starts with it. For `stop`,
 * `deregister` and `wait`, which then act on that exact id.
 *
 * @throws {LoopNotFoundError} If there is none.
 * @throws {UsageError} If `id` is empty or an ambiguous prefix.
 */
export async function resolveId(
  registry: Registry,
  id: string,
): Promise<string> {
  checkSelector(id);
  if (await registry.inspect(id) !== undefined) return id;
  const loops = await registry.list();
  return matchId(loops.map((loop) => loop.id), id, registry.location);
}
