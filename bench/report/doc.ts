// Regenerates the marked blocks of docs/performance.md. The prose of that file
// is written by hand; the bench rewrites only what lies between a pair of
// markers `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`, and
// keeps every byte outside them.
import {
  cliFigures,
  contentionFigures,
  linearFigures,
  pairFigures,
  readFigures,
} from "./figures.ts";
import type { Results } from "./results.ts";
import {
  breakdownTable,
  cliTable,
  contentionTable,
  redisTable,
  runTable,
  serveTable,
  singleTable,
  targetTable,
} from "./tables.ts";

/** Each generated block of docs/performance.md and what renders it. */
export const BLOCKS = {
  run: runTable,
  single: singleTable,
  breakdown: breakdownTable,
  contention: contentionTable,
  cli: cliTable,
  redis: redisTable,
  serve: serveTable,
  targets: targetTable,
  "figures-pair": pairFigures,
  "figures-reads": readFigures,
  "figures-linear": linearFigures,
  "figures-contention": contentionFigures,
  "figures-cli": cliFigures,
} as const satisfies Record<string, (results: Results) => string>;

/** The name of a generated block. */
export type BlockName = keyof typeof BLOCKS;

/** The HTML comment that opens or closes block `name`. */
export function marker(name: string, edge: "start" | "end"): string {
  return `<!-- bench:${name}:${edge} -->`;
}

/** The document lacks a block's marker, or has it more than once. */
export class MarkerError extends Error {
  /** The marker at fault. */
  readonly marker: string;

  constructor(marker: string, message: string) {
    super(message);
    this.name = "MarkerError";
    this.marker = marker;
  }
}

function locate(text: string, name: string, edge: "start" | "end"): number {
  const tag = marker(name, edge);
  const at = text.indexOf(tag);
  if (at < 0) {
    throw new MarkerError(
      tag,
      `Cannot regenerate block "${name}" as its marker is missing: ${tag}`,
    );
  }
  if (text.indexOf(tag, at + 1) >= 0) {
    throw new MarkerError(
      tag,
      `Cannot regenerate block "${name}" as its marker appears twice: ${tag}`,
    );
  }
  return at;
}

/**
 * Replaces what lies between each named block's markers with its new content
 * (set off by blank lines), keeping the rest of `text` as it is.
 *
 * @throws {MarkerError} If a block's start or end marker is missing, appears
 * twice, or the end comes before the start.
 */
export function replaceBlocks(
  text: string,
  blocks: Readonly<Record<string, string>>,
): string {
  let out = text;
  for (const [name, content] of Object.entries(blocks)) {
    const start = locate(out, name, "start") + marker(name, "start").length;
    const end = locate(out, name, "end");
    if (end < start) {
      throw new MarkerError(
        marker(name, "end"),
        `Cannot regenerate block "${name}" as its end marker comes before its start: ${
          marker(name, "end")
        }`,
      );
    }
    out = `${out.slice(0, start)}\n\n${content}\n\n${out.slice(end)}`;
  }
  return out;
}

/** Every generated block's content for one run. */
export function renderBlocks(results: Results): Record<BlockName, string> {
  return Object.fromEntries(
    Object.entries(BLOCKS).map(([name, render]) => [name, render(results)]),
  ) as Record<BlockName, string>;
}

/**
 * Checks that `text` has every block's markers, before a run is spent on it.
 *
 * @throws {MarkerError} As {@link replaceBlocks}.
 */
export function checkMarkers(text: string): void {
  replaceBlocks(
    text,
    Object.fromEntries(Object.keys(BLOCKS).map((name) => [name, ""])),
  );
}

/** `text` (docs/performance.md) with every block regenerated from `results`. */
export function updateDoc(text: string, results: Results): string {
  return replaceBlocks(text, renderBlocks(results));
}
