import assert from "node:assert/strict";
import {
  BLOCKS,
  checkMarkers,
  marker,
  MarkerError,
  replaceBlocks,
  updateDoc,
} from "../../bench/report/doc.ts";
import { evaluate } from "../../bench/report/targets.ts";
import { fixedResults } from "./testdata/results.ts";

const DOC = new URL("../../docs/performance.md", import.meta.url);

Deno.test("replaceBlocks() rewrites only between the markers", () => {
  const before = "# Title\r\n\nProse  with trailing space  \n";
  const middle = "\n\nkept as it is\n";
  const after = "\n\tlast line, no newline";
  const text = `${before}${marker("a", "start")}\nold a\n${
    marker("a", "end")
  }${middle}${marker("b", "start")}${marker("b", "end")}${after}`;
  assert.equal(
    replaceBlocks(text, { a: "new a", b: "| b |" }),
    `${before}${marker("a", "start")}\n\nnew a\n\n${
      marker("a", "end")
    }${middle}${marker("b", "start")}\n\n| b |\n\n${
      marker("b", "end")
    }${after}`,
  );
});

Deno.test("replaceBlocks() leaves a block it is not given alone", () => {
  const text = `x${marker("a", "start")}old${marker("a", "end")}y`;
  assert.equal(replaceBlocks(text, {}), text);
});

Deno.test("replaceBlocks() refuses a document with a marker wrong", async (t) => {
  const start = marker("targets", "start");
  const end = marker("targets", "end");
  const cases: [string, string, string][] = [
    ["no start marker", `text\n${end}\n`, start],
    ["no end marker", `${start}\ntext\n`, end],
    ["a start marker twice", `${start}${start}${end}`, start],
    ["the end before the start", `${end}\n${start}`, end],
  ];
  for (const [name, text, culprit] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => replaceBlocks(text, { targets: "new" }),
        (error: unknown) => {
          assert.ok(error instanceof MarkerError);
          assert.equal(error.marker, culprit);
          assert.match(error.message, /^Cannot regenerate block "targets" as /);
          assert.ok(error.message.endsWith(culprit));
          assert.ok(!error.message.includes("\n"));
          return true;
        },
      );
    });
  }
});

Deno.test("docs/performance.md has exactly the generated blocks", async () => {
  const doc = await Deno.readTextFile(DOC);
  checkMarkers(doc);
  const found = [...doc.matchAll(/<!-- bench:([\w-]+):start -->/g)]
    .map((m) => m[1]);
  assert.deepEqual(found.sort(), Object.keys(BLOCKS).sort());
});

Deno.test("updateDoc() keeps docs/performance.md's prose", async () => {
  const doc = await Deno.readTextFile(DOC);
  const results = fixedResults();
  results.targets = evaluate(results);
  results.targets[0]!.measured = "a changed figure";
  const prose = (text: string) =>
    text.split(/<!-- bench:[\w-]+:start -->[^]*?<!-- bench:[\w-]+:end -->/);
  const updated = updateDoc(doc, results);
  assert.deepEqual(prose(updated), prose(doc));
  assert.ok(updated.includes("| a changed figure |"));
});
