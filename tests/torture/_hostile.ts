// Hostile registry files: each case puts something in `.ralph/loops.json`'s
// place and states what list() and register() must do with it: handle it
// (the ids list() returns) or fail with a clear one-line
// CorruptRegistryError naming the file, leaving every byte as it was.
import { rawEntry } from "../_helpers/core.ts";
import assert from "node:assert/strict";
import {
  CorruptRegistryError,
  createLoopEntry,
  LoopRegistry,
  readProcessIdentity,
} from "../../mod.ts";
import { withHook } from "./_common.ts";

const FIXTURES = new URL("../fixtures/hostile/", import.meta.url).pathname;
const MIB = 1024 * 1024;

/** What a call must give: the ids list() returns, or an error. */
export type Outcome = { ids: string[] } | { error: RegExp };

/** One hostile registry. */
export interface HostileCase {
  /** Fixture `tests/fixtures/hostile/<name>.registry`, unless `make` is set. */
  name: string;
  /** What is in the file's place. */
  what: string;
  /** Builds the case in a workspace instead of copying a fixture. */
  make?: (workspace: string) => Promise<void>;
  /** Expected list(). */
  list: Outcome;
  /**
   * Expected register() of a new entry `new-1`: by default the same error
   * as list(), or, when list() is handled, its ids plus `new-1`.
   */
  register?: Outcome;
  /** Extra check of the file rewritten by register(). */
  rewritten?: (text: string) => void;
  /** Run in a child process with a timeout (a FIFO could hang a call). */
  isolate?: boolean;
}

const entry = (id: string, pid = 1, extra: Record<string, unknown> = {}) =>
  rawEntry(id, pid, extra);
const registry = (...loops: unknown[]) => JSON.stringify({ loops }, null, 2);

async function writeRegistry(workspace: string, text: string | Uint8Array) {
  await Deno.mkdir(`${workspace}/.ralph`, { recursive: true });
  const path = `${workspace}/.ralph/loops.json`;
  if (typeof text === "string") await Deno.writeTextFile(path, text);
  else await Deno.writeFile(path, text);
}

function mkfifo(path: string): void {
  const out = new Deno.Command("mkfifo", { args: [path] }).outputSync();
  assert.ok(out.success, "mkfifo failed");
}

/** Builds a journaled write of `newEntry` interrupted by a crash. */
async function interruptedWrite(
  workspace: string,
  step: "journal" | "write",
): Promise<void> {
  await writeRegistry(workspace, registry(entry("live-1")));
  const crashing = new LoopRegistry(
    workspace,
    withHook((at) => {
      if (at === step) throw new Error("Simulated crash");
    }),
  );
  await assert.rejects(
    // The parent process is alive, and no other entry has its pid.
    crashing.register(
      createLoopEntry("p", { id: "journaled-1", pid: Deno.ppid, workspace }),
    ),
  );
}

// Without -A, Deno cannot read /proc: identity is unknown, never "reused".
const procReadable = readProcessIdentity(Deno.pid) !== undefined;
const corrupt = (reason: RegExp) => ({ error: reason });
const notJson = corrupt(/as it is not valid JSON/);
const notUtf8 = corrupt(/as it is not valid UTF-8/);
const notObject = corrupt(/top level is not an object/);
const notEntry = (field: string) =>
  corrupt(new RegExp(`entry 0 .*has "?${field}"? that is not`));
const live = { ids: ["live-1"] };

/** Every case: fixtures first, then those built at test time. */
export const hostileCases: HostileCase[] = [
  { name: "empty", what: "empty file", list: { ids: [] } },
  { name: "whitespace", what: "only whitespace", list: { ids: [] } },
  { name: "bom_only", what: "a UTF-8 BOM alone", list: { ids: [] } },
  { name: "bom", what: "BOM + a valid registry", list: { ids: ["bom-1"] } },
  { name: "truncated", what: "JSON cut between fields", list: notJson },
  { name: "truncated_in_string", what: "JSON cut in a string", list: notJson },
  { name: "nul_byte", what: "a NUL byte between tokens", list: notJson },
  { name: "nul_in_string", what: "a raw NUL in a string", list: notJson },
  { name: "all_nul", what: "4 KiB of NUL bytes", list: notJson },
  { name: "invalid_utf8", what: "bytes FF FE in a string", list: notUtf8 },
  { name: "overlong_utf8", what: "overlong UTF-8 (C0 AF)", list: notUtf8 },
  { name: "utf16le", what: "UTF-16LE with BOM", list: notUtf8 },
  {
    name: "lone_surrogate_escape",
    what: 'a lone surrogate escape "\\ud800"',
    list: { ids: ["surrogate-1"] },
    rewritten: (text) => assert.match(text, /half \\ud800 pair/),
  },
  { name: "top_array", what: "top level []", list: notObject },
  { name: "top_null", what: "top level null", list: notObject },
  { name: "top_string", what: 'top level "loops"', list: notObject },
  { name: "top_number", what: "top level 42", list: notObject },
  {
    name: "loops_object",
    what: '"loops": {}',
    list: corrupt(/"loops" is not an array/),
  },
  {
    name: "loops_string",
    what: '"loops": "[]"',
    list: corrupt(/"loops" is not an array/),
  },
  { name: "loops_null", what: '"loops": null (as absent)', list: { ids: [] } },
  {
    name: "no_loops_key",
    what: "no loops key, an unknown top-level key",
    list: { ids: [] },
    rewritten: (text) => assert.match(text, /"version": 1/),
  },
  {
    name: "null_entry",
    what: "an entry that is null",
    list: notEntry("a value"),
  },
  {
    name: "array_entry",
    what: "an entry that is []",
    list: notEntry("a value"),
  },
  { name: "missing_id", what: "entry without id", list: notEntry("id") },
  { name: "missing_pid", what: "entry without pid", list: notEntry("pid") },
  {
    name: "missing_started",
    what: "entry without started",
    list: notEntry("started"),
  },
  {
    name: "missing_prompt",
    what: "entry without prompt",
    list: notEntry("prompt"),
  },
  {
    name: "missing_workspace",
    what: "entry without workspace",
    list: notEntry("workspace"),
  },
  { name: "id_number", what: "id 12 (a number)", list: notEntry("id") },
  { name: "pid_string", what: 'pid "12" (a string)', list: notEntry("pid") },
  { name: "pid_bool", what: "pid true", list: notEntry("pid") },
  { name: "pid_null", what: "pid null", list: notEntry("pid") },
  { name: "prompt_null", what: "prompt null", list: notEntry("prompt") },
  {
    name: "started_number",
    what: "started as a number",
    list: notEntry("started"),
  },
  {
    name: "worktree_number",
    what: "worktree_path 7",
    list: notEntry("worktree_path"),
  },
  {
    name: "worktree_null",
    what: "worktree_path null (as none)",
    list: { ids: ["wt-1"] },
  },
  // Invalid pids cannot name a live process: dead, never signalled, and
  // removed by the next write.
  { name: "pid_zero", what: "pid 0 beside a live entry", list: live },
  { name: "pid_minus_one", what: "pid -1", list: live },
  { name: "pid_2pow31", what: "pid 2^31", list: live },
  { name: "pid_fraction", what: "pid 1.5", list: live },
  { name: "pid_over_max", what: "pid 4194305", list: live },
  { name: "pid_exponent", what: "pid 1e400 (Infinity)", list: live },
  { name: "pid_dead", what: "pid 4194304 (no such process)", list: live },
  {
    name: "duplicate_ids",
    what: "two entries with one id (both kept)",
    list: { ids: ["dup-1", "dup-1"] },
  },
  {
    name: "unknown_fields",
    what: "unknown fields, entry and top level",
    list: { ids: ["u-1"] },
    rewritten(text) {
      const value = JSON.parse(text);
      assert.equal(value.version, 2);
      assert.deepEqual(value.meta, { by: "ralph" });
      assert.equal(value.loops[0].color, "red");
      assert.deepEqual(value.loops[0].nested, { a: [1, 2, { b: null }] });
    },
  },
  {
    name: "proto_entry",
    what: 'an entry with only a "__proto__" key',
    list: notEntry("id"),
  },
  {
    name: "proto_top",
    what: 'a top-level "__proto__" key',
    list: { ids: [] },
    rewritten: (text) => assert.match(text, /"__proto__"/),
  },
  { name: "trailing_garbage", what: "a stray } after the JSON", list: notJson },
  { name: "two_documents", what: "two JSON documents", list: notJson },
  { name: "comments", what: "a // comment", list: notJson },
  { name: "trailing_comma", what: "a trailing comma", list: notJson },
  { name: "single_quotes", what: "single-quoted keys", list: notJson },
  { name: "nan_pid", what: "pid NaN", list: notJson },
  {
    name: "identity_malformed",
    what: 'pid_start_time "abc", boot_id 5 (ignored)',
    list: { ids: ["idm-1"] },
  },
  {
    name: "identity_mismatch",
    what: "pid 1 with another process's identity",
    // Dead (a reused pid) where /proc is readable (-A); else unknown
    // identity, so alive.
    list: { ids: procReadable ? [] : ["idx-1"] },
  },
  {
    name: "control_chars",
    what: "escape sequences, CR, bidi in id and prompt",
    list: { ids: ["esc-\u001b[2J-\u202e-\r-1"] },
  },
  {
    name: "long_id",
    what: "a 10,000-character id",
    list: { ids: ["L".repeat(10_000)] },
  },

  // Built at test time: too big to commit, or not plain files.
  {
    name: "size_20mib",
    what: "a 20 MiB registry (ralph reads it; the bound is 128 MiB)",
    make: (ws) =>
      writeRegistry(
        ws,
        registry(entry("huge-1", 1, { prompt: "x".repeat(20 * MIB) })),
      ),
    list: { ids: ["huge-1"] },
  },
  {
    name: "prompt_1mib",
    what: "a 1 MiB prompt",
    make: (ws) =>
      writeRegistry(
        ws,
        registry(entry("big-1", 1, { prompt: "p".repeat(MIB) })),
      ),
    list: { ids: ["big-1"] },
    rewritten: (text) => assert.ok(text.includes("p".repeat(MIB))),
  },
  {
    name: "many_entries",
    what: "10,000 entries (2.4 MB)",
    make: (ws) =>
      writeRegistry(
        ws,
        registry(...Array.from({ length: 10_000 }, (_, i) => entry(`m-${i}`))),
      ),
    list: { ids: Array.from({ length: 10_000 }, (_, i) => `m-${i}`) },
  },
  {
    name: "deep_nesting_field",
    what: "an unknown field nested 100,000 deep",
    make: (ws) =>
      writeRegistry(
        ws,
        `{"deep": ${"[".repeat(100_000)}${"]".repeat(100_000)}, "loops": [${
          JSON.stringify(entry("live-1"))
        }]}`,
      ),
    list: live,
    register: corrupt(/nested too deeply to be written back/),
  },
  {
    name: "deep_nesting_top",
    what: "top level nested 1,000,000 deep",
    make: (ws) =>
      writeRegistry(ws, `${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}`),
    list: notObject,
  },
  {
    name: "symlink",
    what: "a symlink to a valid registry",
    async make(ws) {
      await Deno.writeTextFile(`${ws}/elsewhere.json`, registry(entry("x-1")));
      await Deno.mkdir(`${ws}/.ralph`);
      await Deno.symlink("../elsewhere.json", `${ws}/.ralph/loops.json`);
    },
    list: corrupt(/is a symbolic link/),
  },
  {
    name: "symlink_dangling",
    what: "a dangling symlink",
    async make(ws) {
      await Deno.mkdir(`${ws}/.ralph`);
      await Deno.symlink("/nonexistent/loops.json", `${ws}/.ralph/loops.json`);
    },
    list: corrupt(/is a symbolic link/),
  },
  {
    name: "symlink_dir",
    what: ".ralph is a symlink to a directory",
    async make(ws) {
      await Deno.mkdir(`${ws}/real`);
      await Deno.writeTextFile(`${ws}/real/loops.json`, registry(entry("x-1")));
      await Deno.symlink("real", `${ws}/.ralph`);
    },
    list: corrupt(/is a symbolic link/),
  },
  {
    name: "ralph_is_file",
    what: ".ralph is a regular file",
    make: (ws) => Deno.writeTextFile(`${ws}/.ralph`, "not a directory"),
    list: corrupt(/is not a directory/),
  },
  {
    name: "directory",
    what: "a directory in the file's place",
    make: (ws) => Deno.mkdir(`${ws}/.ralph/loops.json`, { recursive: true }),
    list: corrupt(/is not a regular file/),
  },
  {
    name: "fifo",
    what: "a FIFO in the file's place",
    async make(ws) {
      await Deno.mkdir(`${ws}/.ralph`);
      mkfifo(`${ws}/.ralph/loops.json`);
    },
    list: corrupt(/is not a regular file/),
    isolate: true,
  },
  {
    name: "journal_fifo",
    what: "a FIFO in the journal's place",
    async make(ws) {
      await writeRegistry(ws, registry(entry("live-1")));
      mkfifo(`${ws}/.ralph/loops.json.journal`);
    },
    list: live,
    register: corrupt(/journal is not a regular file/),
    isolate: true,
  },
  {
    name: "journal_directory",
    what: "a directory in the journal's place",
    async make(ws) {
      await writeRegistry(ws, registry(entry("live-1")));
      await Deno.mkdir(`${ws}/.ralph/loops.json.journal`);
    },
    list: live,
    register: corrupt(/journal is not a regular file/),
  },
  {
    name: "journal_garbage",
    what: "a journal of random bytes (ignored)",
    async make(ws) {
      await writeRegistry(ws, registry(entry("live-1")));
      await Deno.writeFile(
        `${ws}/.ralph/loops.json.journal`,
        crypto.getRandomValues(new Uint8Array(4096)),
      );
    },
    list: live,
  },
  {
    name: "journal_stale",
    what: "a crash's journal, then ralph rewrote the file",
    async make(ws) {
      await interruptedWrite(ws, "journal");
      // A later writer that knows nothing of the journal: it wins.
      await Deno.writeTextFile(
        `${ws}/.ralph/loops.json`,
        registry(entry("ralph-1")),
      );
    },
    list: { ids: ["ralph-1"] },
  },
  {
    name: "torn_write",
    what: "a write torn by a crash, with its journal",
    async make(ws) {
      await interruptedWrite(ws, "write");
      const path = `${ws}/.ralph/loops.json`;
      const size = (await Deno.stat(path)).size;
      await Deno.truncate(path, size - 40);
    },
    list: { ids: ["live-1", "journaled-1"] },
  },
];

/** What one call did. */
export type Result = { ids: string[] } | {
  error: { name: string; message: string; corrupt: boolean };
};

/** Calls list() or register() on `workspace`, in this process. */
export async function perform(
  workspace: string,
  call: "list" | "register",
): Promise<Result> {
  const loops = new LoopRegistry(workspace, { lockTimeoutMs: 5_000 });
  try {
    if (call === "register") {
      await loops.register(
        createLoopEntry("hostile", { id: "new-1", workspace }),
      );
    }
    return { ids: (await loops.list()).map((e) => e.id) };
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    return {
      error: {
        name: error.name,
        message: error.message,
        corrupt: error instanceof CorruptRegistryError,
      },
    };
  }
}

async function performIsolated(
  workspace: string,
  call: "list" | "register",
): Promise<Result> {
  const worker = new URL("./_worker.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", worker, "hostile", workspace, call],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `hostile ${call} hung or failed: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

type Snapshot = Map<string, string | Uint8Array>;

/** Every path under `dir` with its bytes, link target or kind. */
async function snapshot(dir: string, into: Snapshot = new Map()) {
  for await (const item of Deno.readDir(dir)) {
    const path = `${dir}/${item.name}`;
    const info = await Deno.lstat(path);
    if (info.isSymlink) into.set(path, `-> ${await Deno.readLink(path)}`);
    else if (info.isDirectory) {
      into.set(path, "dir");
      await snapshot(path, into);
    } else if (info.isFile) into.set(path, await Deno.readFile(path));
    else into.set(path, "special");
  }
  return into;
}

function check(name: string, call: string, got: Result, want: Outcome) {
  const label = `${name}: ${call}()`;
  if ("ids" in want) {
    assert.ok("ids" in got, `${label} failed: ${JSON.stringify(got)}`);
    assert.deepEqual(got.ids, want.ids, label);
    return;
  }
  assert.ok("error" in got, `${label} did not fail`);
  assert.ok(got.error.corrupt, `${label}: ${got.error.name}, not Corrupt…`);
  assert.match(got.error.message, want.error, label);
  assert.match(got.error.message, /\.ralph(\/loops\.json)?/, label);
  assert.ok(!got.error.message.includes("\n"), `${label}: not one line`);
}

/** Runs one case: list() and register(), each on a fresh copy. */
export async function runHostileCase(hostile: HostileCase): Promise<void> {
  for (const call of ["list", "register"] as const) {
    const workspace = await Deno.makeTempDir({ prefix: "loops_hostile_" });
    try {
      if (hostile.make) await hostile.make(workspace);
      else {
        await Deno.mkdir(`${workspace}/.ralph`);
        await Deno.copyFile(
          `${FIXTURES}${hostile.name}.registry`,
          `${workspace}/.ralph/loops.json`,
        );
      }
      const before = await snapshot(workspace);
      const got = hostile.isolate
        ? await performIsolated(workspace, call)
        : await perform(workspace, call);
      const want: Outcome = call === "list" ? hostile.list : hostile.register ??
        ("ids" in hostile.list
          ? { ids: [...hostile.list.ids, "new-1"] }
          : hostile.list);
      check(hostile.name, call, got, want);
      if ("error" in got) {
        assert.deepEqual(
          await snapshot(workspace),
          before,
          `${hostile.name}: ${call}() changed the files though it failed`,
        );
      } else if (call === "register") {
        // The write also dropped every dead entry (invalid pids included).
        const text = await Deno.readTextFile(`${workspace}/.ralph/loops.json`);
        const written = JSON.parse(text).loops.map((e: { id: string }) => e.id);
        assert.deepEqual(written, got.ids, `${hostile.name}: file after write`);
        hostile.rewritten?.(text);
      }
    } finally {
      await Deno.remove(workspace, { recursive: true });
    }
  }
}
