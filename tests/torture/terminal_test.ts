// Terminal safety (issue 5): `loops` run with its stdout on a real
// pseudo-terminal (util-linux `script`), against a registry holding escape
// sequences, carriage returns, bidi overrides, C1 controls, wide characters
// and very long lines. On the terminal every field is shown escaped, the only
// escape sequences are our own colours (none with NO_COLOR), and each line
// fits the terminal width; piped, the prompt is printed in full.
import { ignoreOutsideCI, skipReason } from "../_helpers/core.ts";
import assert from "node:assert/strict";
import { EXIT } from "../../cli/_errors.ts";
import { textWidth } from "../../cli/_format.ts";
import {
  CLI,
  loops,
  sleeper,
  tempWorkspace,
  writeEntries,
} from "../_helpers/cli.ts";

const NO_SCRIPT = skipReason({ tools: ["script"] });

/**
 * Runs `loops --workspace <ws> <args>` with stdout on a pseudo-terminal of
 * `columns` columns. Output post-processing (`\n` to `\r\n`) is turned off,
 * so every byte is the CLI's own. stderr goes to a file: it is not the
 * terminal under test.
 */
async function onTerminal(
  ws: string,
  args: string,
  options: { columns: number; color: boolean },
): Promise<{ code: number; out: string; err: string }> {
  const errFile = `${ws}/stderr.txt`;
  const env = options.color ? "env -u NO_COLOR" : "env NO_COLOR=1";
  const command =
    `stty cols ${options.columns} rows 24 -onlcr && exec ${env} ` +
    `"${Deno.execPath()}" run -A "${CLI}" --workspace "${ws}" ${args} ` +
    `2>"${errFile}"`;
  const output = await new Deno.Command("script", {
    args: ["-qec", command, "/dev/null"],
    stdin: "null",
  }).output();
  return {
    code: output.code,
    out: new TextDecoder().decode(output.stdout),
    err: await Deno.readTextFile(errFile),
  };
}

// deno-lint-ignore no-control-regex
const SGR = /\x1b\[\d*m/g;
// Anything a terminal would act on, except the newline between lines.
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;

const EVIL = "\x1b[2J\x1b[H\x1b]0;pwned\x07\r\u202e\x9b31m\u2066\u2028";
const ESCAPED =
  "\\x1b[2J\\x1b[H\\x1b]0;pwned\\x07\\r\\u202e\\x9b31m\\u2066\\u2028";

Deno.test({
  name: "terminal: hostile fields are escaped and lines fit the width",
  ignore: ignoreOutsideCI(NO_SCRIPT),
  async fn() {
    await using ws = await tempWorkspace("loops_terminal_test_");
    await using loop = await sleeper();
    const longPrompt = `fix${EVIL}${"x".repeat(2000)}the end`;
    const wide = "日本語のプロンプト🙂".repeat(40);
    const cr = "visible\rhidden\r\n\x1b[1A";
    // Only a status is coloured: where none is shown whole, nothing is.
    const check = (
      out: string,
      columns: number,
      color: boolean,
      statusShown = true,
    ) => {
      const what = `${columns} columns, color ${color}: ${JSON.stringify(out)}`;
      if (color && statusShown) assert.match(out, SGR, what);
      const plain = color ? out.replace(SGR, "") : out;
      assert.doesNotMatch(plain, UNSAFE, what);
      assert.ok(!plain.includes("\x1b"), what);
      const lines = plain.trimEnd().split("\n");
      for (const line of lines) {
        assert.ok(textWidth(line) <= columns, `too wide: ${line}`);
      }
      return lines;
    };

    // Hostile prompts and worktrees, ordinary ids.
    await writeEntries(ws, [
      { id: "long", pid: loop.pid, prompt: longPrompt },
      {
        id: "wide",
        pid: loop.pid,
        prompt: wide,
        worktree_path: `/${EVIL}${"w".repeat(100)}`,
      },
      { id: "cr", pid: loop.pid, prompt: cr },
    ]);
    for (const columns of [80, 132]) {
      for (const color of [false, true]) {
        const { code, out, err } = await onTerminal(ws.path, "list", {
          columns,
          color,
        });
        assert.deepEqual([code, err], [0, ""], out);
        const lines = check(out, columns, color);
        assert.equal(lines.length, 4);
        assert.match(lines[1]!, /^long .* fix\\x1b\[2J.*…$/);
        assert.match(lines[2]!, /^wide .*\\x1b\[2J.* 日本語.*…$/);
        assert.match(lines[3]!, /^cr .* {2}visible\\rh/);
      }
    }
    // On a terminal, `get` shows the fields escaped too (not cut).
    const detail = await onTerminal(ws.path, "get cr", {
      columns: 80,
      color: true,
    });
    assert.equal(detail.code, 0);
    assert.doesNotMatch(detail.out, UNSAFE);
    assert.ok(!detail.out.includes("\x1b"), JSON.stringify(detail.out));
    assert.match(detail.out, /^prompt: +visible\\rhidden\\r\\n\\x1b\[1A$/m);
    // Piped: escaped the same way, nothing cut.
    const piped = await loops(["list"], { ws: ws.path });
    assert.equal(piped.code, 0);
    assert.doesNotMatch(piped.stdout, UNSAFE);
    assert.ok(
      piped.stdout.includes(`fix${ESCAPED}${"x".repeat(2000)}the end\n`),
    );
    assert.ok(piped.stdout.includes(wide));

    // A hostile id, wider than the terminal: escaped, and the line cut.
    await writeEntries(ws, [
      { id: `evil${EVIL}${"i".repeat(100)}`, pid: loop.pid },
      { id: "ok", pid: loop.pid, prompt: "fine" },
    ]);
    for (const color of [false, true]) {
      const { code, out } = await onTerminal(ws.path, "list", {
        columns: 80,
        color,
      });
      assert.equal(code, 0);
      const lines = check(out, 80, color, false);
      assert.ok(lines[1]!.startsWith(`evil${ESCAPED}`), lines[1]);
      assert.ok(lines[1]!.endsWith("…"), lines[1]);
      assert.match(lines[2]!, /^ok +…$/);
    }
  },
});

Deno.test({
  name: "terminal: an empty registry and errors print no raw escapes",
  ignore: ignoreOutsideCI(NO_SCRIPT),
  async fn() {
    await using root = await tempWorkspace("loops_terminal_test_");
    // A workspace whose path holds an escape sequence.
    const ws = { path: `${root.path}/ws\x1b[2J_` };
    await Deno.mkdir(ws.path);
    const empty = await onTerminal(ws.path, "list", {
      columns: 80,
      color: true,
    });
    assert.equal(empty.code, 0);
    assert.ok(!empty.out.includes("\x1b"), JSON.stringify(empty.out));
    assert.match(empty.out, /^No loops registered in .*\\x1b\[2J_/);
    const missing = await onTerminal(ws.path, "get '\x1b[2J\u202e'", {
      columns: 80,
      color: true,
    });
    assert.equal(missing.code, EXIT.notFound);
    assert.equal(missing.out, "");
    assert.doesNotMatch(missing.err, UNSAFE);
    assert.match(missing.err, /^loops: Cannot find loop "\\u001b\[2J\\u202e"/);
  },
});
