// README's CLI section against the code: its exit-code table is EXIT, and
// its JSON table names every field `--json` prints, in order.
import assert from "node:assert/strict";
import { EXIT } from "../../cli/_errors.ts";
import { toJson } from "../../cli/_format.ts";

const README = await Deno.readTextFile(
  new URL("../../README.md", import.meta.url),
);

/** The first column of the first table under `heading`, header left out. */
function column(heading: string): string[] {
  const start = README.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, heading);
  const lines = README.slice(start).split("\n");
  const first = lines.findIndex((line) => line.startsWith("|"));
  const end = lines.findIndex((line, i) => i > first && !line.startsWith("|"));
  return lines.slice(first + 2, end).map((row) => row.split("|")[1]!.trim());
}

Deno.test("README's exit-code table is the CLI's", () => {
  assert.deepEqual(
    column("### Exit codes").map(Number),
    Object.values(EXIT).sort((a, b) => a - b),
  );
});

Deno.test("README's JSON table names every field --json prints, in order", () => {
  const full = toJson({
    id: "loop-1-abcd",
    pid: 1,
    started: "2026-11-30T12:00:00.000Z",
    prompt: "p",
    worktreePath: "/wt",
    workspace: "/ws",
    origin: { hostId: "f00d", hostname: "alpha", pidNamespace: 4026531836 },
    status: "running",
  });
  assert.deepEqual(
    column("### JSON output").map((cell) => cell.replaceAll("`", "")),
    Object.keys(full),
  );
});
