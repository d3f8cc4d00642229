// Pure formatter unit tests for cli/_format.ts (the CLI's output).
import assert from "node:assert/strict";
import type { LoopInfo } from "../../mod.ts";
import {
  cut,
  escapeText,
  formatAge,
  formatDetail,
  formatTable,
  stringifyJson,
  textWidth,
  toJson,
} from "../../cli/_format.ts";

const NOW = new Date("2026-11-30T12:00:00.000Z");

function loop(fields: Partial<LoopInfo> = {}): LoopInfo {
  return {
    id: "loop-1-abcd",
    pid: 4242,
    started: "2026-11-30T11:59:18.000Z",
    prompt: "implement auth",
    workspace: "/ws",
    status: "running",
    ...fields,
  };
}

// deno-lint-ignore no-control-regex
const SGR = /\x1b\[\d*m/g;

// Everything a terminal could act on: C0 (but \n), DEL, C1, bidi controls,
// zero-width and line/paragraph separators, the BOM.
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;

Deno.test("escapeText() shows control characters escaped", () => {
  assert.equal(escapeText("a\nb\rc\td"), "a\\nb\\rc\\td");
  assert.equal(escapeText("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  assert.equal(escapeText("\x00\x07\x7f\x9b"), "\\x00\\x07\\x7f\\x9b");
  assert.equal(escapeText("\u202eevil\u2066"), "\\u202eevil\\u2066");
  assert.equal(escapeText("\u200b\u2028\ufeff"), "\\u200b\\u2028\\ufeff");
  assert.equal(escapeText("\u061c"), "\\u061c");
});

Deno.test("escapeText() leaves printable text alone", () => {
  for (const text of ["plain", "日本語", "🙂", "é", "a\\x1b", "", " "]) {
    assert.equal(escapeText(text), text);
  }
});

Deno.test("escapeText() output never holds an unsafe character", () => {
  let all = "";
  for (let code = 0; code < 0x3000; code++) {
    if (code < 0xd800 || code > 0xdfff) all += String.fromCharCode(code);
  }
  all += "\ufeff\ufff9\ufffa\ufffb";
  assert.doesNotMatch(escapeText(all), UNSAFE);
});

Deno.test("stringifyJson() is JSON with unsafe characters escaped", () => {
  const value = {
    id: "\x1b[2J",
    prompt: "\u202e\r\n\x9b\x7f\u2028\u2029\u2066\ufeff",
    n: 1,
  };
  const text = stringifyJson(value);
  assert.deepEqual(JSON.parse(text), value);
  assert.doesNotMatch(text, UNSAFE);
  assert.match(text, /\\u202e/);
  assert.equal(stringifyJson([]), "[]");
});

Deno.test("formatAge() picks the largest unit", async (t) => {
  const cases: [number, string][] = [
    [0, "0s"],
    [42, "42s"],
    [59, "59s"],
    [60, "1m"],
    [3599, "59m"],
    [3600, "1h"],
    [86399, "23h"],
    [86400, "1d"],
    [86400 * 400, "400d"],
    [-30, "0s"], // a start in the future
  ];
  for (const [seconds, expected] of cases) {
    await t.step(`${seconds} s`, () => {
      const started = new Date(NOW.getTime() - seconds * 1000).toISOString();
      assert.equal(formatAge(started, NOW), expected);
    });
  }
  await t.step("an unreadable time", () => {
    assert.equal(formatAge("yesterday", NOW), "?");
    assert.equal(formatAge("", NOW), "?");
  });
});

Deno.test("textWidth() counts terminal columns", () => {
  assert.equal(textWidth(""), 0);
  assert.equal(textWidth("abc"), 3);
  assert.equal(textWidth("日本語"), 6);
  assert.equal(textWidth("한국"), 4);
  assert.equal(textWidth("🙂"), 2);
  assert.equal(textWidth("e\u0301"), 1); // e + combining acute
  assert.equal(textWidth("ＡＢ"), 4); // fullwidth
});

Deno.test("cut() fits text into a width, ending with an ellipsis", () => {
  assert.equal(cut("hello", 10), "hello");
  assert.equal(cut("hello", 5), "hello");
  assert.equal(cut("hello world", 5), "hell…");
  assert.equal(cut("hello", 1), "h");
  assert.equal(cut("hello", 0), "");
  assert.equal(cut("hello", -3), "");
  // Wide characters count two columns and are never split.
  assert.equal(cut("日本語日本語", 5), "日本…");
  assert.equal(cut("日本語日本語", 6), "日本…");
  assert.equal(cut("日本語", 6), "日本語");
  assert.equal(cut("🙂🙂🙂", 4), "🙂…");
  // Surrogate pairs are never split.
  assert.equal(cut("𝒳𝒳𝒳", 2), "𝒳…");
  for (let width = 0; width < 20; width++) {
    assert.ok(textWidth(cut("日本語 and ascii 🙂 text", width)) <= width);
  }
});

Deno.test("toJson() has the file's fields plus status, in order", () => {
  assert.deepEqual(Object.keys(toJson(loop())), [
    "id",
    "pid",
    "started",
    "prompt",
    "workspace",
    "status",
  ]);
  const withWorktree = toJson(loop({ worktreePath: "/wt/auth" }));
  assert.deepEqual(Object.keys(withWorktree), [
    "id",
    "pid",
    "started",
    "prompt",
    "worktree_path",
    "workspace",
    "status",
  ]);
  assert.equal(withWorktree.worktree_path, "/wt/auth");
  // Identity is the file's business, not the output's.
  const identified = toJson(
    loop({ identity: { startTime: 1, bootId: "b" }, status: "orphan" }),
  );
  assert.ok(!("identity" in identified));
  assert.equal(identified.status, "orphan");
});

Deno.test("formatTable() renders aligned columns", () => {
  const text = formatTable([
    loop(),
    loop({
      id: "loop-2-beef",
      pid: 7,
      status: "orphan",
      worktreePath: "/wt/docs",
      prompt: "write docs",
      started: "2026-11-30T09:00:00.000Z",
    }),
  ], { color: false, columns: undefined, now: NOW });
  assert.equal(
    text,
    [
      "ID           STATUS   PID   AGE  WORKTREE  PROMPT",
      "loop-1-abcd  running  4242  42s  -         implement auth",
      "loop-2-beef  orphan   7     3h   /wt/docs  write docs",
    ].join("\n"),
  );
});

Deno.test("formatTable() adds HOST for other hosts, or always when asked", () => {
  const here = { hostId: "aaaa", hostname: "here" };
  const there = { hostId: "bbbb", hostname: "\x1b[31mthere" };
  const local = [loop({ origin: here }), loop({ id: "loop-2-beef" })];
  const header = (text: string) => text.split("\n")[0]!.split(/ +/);
  const base = { color: false, columns: undefined, now: NOW };
  // Only this host's loops (or none recorded): no column.
  assert.deepEqual(
    header(formatTable([loop({ origin: here })], {
      ...base,
      localHostId: "aaaa",
    })),
    ["ID", "STATUS", "PID", "AGE", "WORKTREE", "PROMPT"],
  );
  assert.ok(!header(formatTable([loop()], base)).includes("HOST"));
  // Another host's loop: its name, escaped; "-" where none is recorded.
  const mixed = formatTable(
    [...local, loop({ id: "loop-3-cafe", origin: there, status: "remote" })],
    { ...base, localHostId: "aaaa" },
  ).split("\n");
  assert.match(mixed[0]!, /^ID +STATUS +HOST +PID +AGE +WORKTREE +PROMPT$/);
  assert.match(mixed[1]!, /^loop-1-abcd +running +here +4242 /);
  assert.match(mixed[2]!, /^loop-2-beef +running +- +4242 /);
  assert.match(mixed[3]!, /^loop-3-cafe +remote +\\x1b\[31mthere +4242 /);
  // No host id of this process known: a recorded one is another host's.
  assert.ok(
    header(formatTable([loop({ origin: here })], base)).includes("HOST"),
  );
  // A shared engine: always, even for this host's loops alone.
  assert.ok(
    header(formatTable([loop({ origin: here })], {
      ...base,
      localHostId: "aaaa",
      hosts: true,
    })).includes("HOST"),
  );
});

Deno.test("formatDetail() names the host and pid namespace", () => {
  const text = formatDetail(
    loop({ origin: { hostId: "bbbb", hostname: "there", pidNamespace: 7 } }),
    NOW,
  );
  assert.match(text, /^host: +there \(host id bbbb, pid namespace 7\)$/m);
  assert.doesNotMatch(formatDetail(loop(), NOW), /^host:/m);
});

Deno.test("formatTable() escapes every field", () => {
  const evil = "\x1b[2J\u202e\r\x9b";
  const text = formatTable(
    [loop({ id: evil, prompt: evil, worktreePath: evil, started: evil })],
    { color: false, columns: 80, now: NOW },
  );
  assert.doesNotMatch(text.replaceAll("\n", ""), UNSAFE);
  assert.equal(text.split("\n").length, 2);
});

Deno.test("formatTable() cuts the prompt to the terminal width only", () => {
  const prompt = `start ${"x".repeat(500)} end`;
  const piped = formatTable([loop({ prompt })], {
    color: false,
    columns: undefined,
    now: NOW,
  });
  assert.ok(piped.endsWith(prompt));
  for (const columns of [60, 80, 200]) {
    const lines = formatTable([loop({ prompt })], {
      color: false,
      columns,
      now: NOW,
    }).split("\n");
    for (const line of lines) assert.ok(textWidth(line) <= columns, line);
    assert.ok(lines[1]!.endsWith("…"));
    assert.match(lines[1]!, / {2}start x+…$/);
  }
  // Wide characters are cut by the columns they take.
  const wide = formatTable([loop({ prompt: "日本語".repeat(100) })], {
    color: false,
    columns: 70,
    now: NOW,
  }).split("\n");
  for (const line of wide) assert.ok(textWidth(line) <= 70, line);
  // A tiny terminal: every line is cut.
  const narrow = formatTable([loop({ prompt })], {
    color: false,
    columns: 5,
    now: NOW,
  });
  assert.equal(narrow, "ID  …\nloop…");
});

Deno.test("formatTable() keeps lines within the terminal with a long id", () => {
  const rows = [
    loop({ id: `id-${"i".repeat(150)}` }),
    loop({ id: "short", status: "orphan", worktreePath: `/${"w".repeat(80)}` }),
  ];
  for (const columns of [20, 40, 80, 120]) {
    for (const color of [false, true]) {
      const text = formatTable(rows, { color, columns, now: NOW });
      const plain = text.replace(SGR, "");
      for (const line of plain.split("\n")) {
        assert.ok(textWidth(line) <= columns, `${columns}: ${line}`);
      }
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(plain, /\x1b/);
      if (color) {
        // A status is coloured only where it is shown whole.
        for (const line of text.split("\n").slice(1)) {
          // deno-lint-ignore no-control-regex
          const coloured = /\x1b\[3\dm(\w+)\x1b\[0m/.exec(line)?.[1];
          if (coloured !== undefined) {
            assert.ok(["running", "orphan"].includes(coloured), line);
          }
        }
      }
    }
  }
  const wide = formatTable(rows, { color: true, columns: 400, now: NOW });
  assert.ok(wide.includes("\x1b[33morphan\x1b[0m"));
});

Deno.test("formatTable() aligns wide characters", () => {
  const lines = formatTable([
    loop({ id: "日本", prompt: "a" }),
    loop({ id: "abcd", prompt: "b" }),
  ], { color: false, columns: undefined, now: NOW }).split("\n");
  const promptColumn = (line: string) =>
    textWidth(line.slice(0, line.lastIndexOf("  ") + 2));
  assert.equal(promptColumn(lines[1]!), promptColumn(lines[2]!));
});

Deno.test("formatTable() cuts long worktrees", () => {
  const worktreePath = `/${"w".repeat(100)}`;
  const text = formatTable([loop({ worktreePath })], {
    color: false,
    columns: undefined,
    now: NOW,
  });
  assert.match(text, new RegExp(`  /w{38}…  implement auth$`));
  const wider = formatTable([loop({ worktreePath })], {
    color: false,
    columns: undefined,
    now: NOW,
    maxWorktree: 200,
  });
  assert.ok(wider.includes(worktreePath));
});

Deno.test("formatTable() colours only the status, only when asked", () => {
  const rows = [
    loop(),
    loop({ status: "orphan" }),
    loop({ status: "remote" }),
    loop({ status: "unknown" }),
    { ...loop(), status: "dead" },
  ];
  const plain = formatTable(rows, { color: false, columns: 80, now: NOW });
  assert.ok(!plain.includes("\x1b"));
  const coloured = formatTable(rows, { color: true, columns: 80, now: NOW });
  const lines = coloured.split("\n");
  // The header is not coloured; each status is, and nothing else.
  assert.ok(!lines[0]!.includes("\x1b"));
  const expected = [
    "\x1b[32mrunning\x1b[0m",
    "\x1b[33morphan\x1b[0m",
    "\x1b[36mremote\x1b[0m",
    "\x1b[2munknown\x1b[0m",
    "\x1b[31mdead\x1b[0m",
  ];
  for (const [i, sgr] of expected.entries()) {
    const line = lines[i + 1]!;
    assert.ok(line.includes(sgr), line);
    assert.equal(line.match(SGR)?.length, 2, line);
  }
  assert.equal(coloured.replace(SGR, ""), plain);
});

Deno.test("formatDetail() shows one loop as key: value lines", () => {
  assert.equal(
    formatDetail(loop(), NOW),
    [
      "id:        loop-1-abcd",
      "status:    running",
      "pid:       4242",
      "started:   2026-11-30T11:59:18.000Z (42s ago)",
      "worktree:  -",
      "workspace: /ws",
      "prompt:    implement auth",
    ].join("\n"),
  );
  const evil = formatDetail(
    loop({ id: "\x1b[2J", worktreePath: "/w\r", prompt: "\u202ep" }),
    NOW,
  );
  assert.doesNotMatch(evil.replaceAll("\n", ""), UNSAFE);
  assert.match(evil, /^id: +\\x1b\[2J$/m);
  assert.match(evil, /^worktree: +\/w\\r$/m);
  assert.match(evil, /^prompt: +\\u202ep$/m);
});
