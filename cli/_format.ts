// Pure formatters for the CLI. Nothing here prints or reads globals: colour
// and width are passed in.
import type { LoopInfo } from "../mod.ts";

/**
 * An entry as `--json` prints it: the file's fields (their names as ralph
 * writes them) plus `status`, in this order. The optional ones are left out
 * when the entry has none. README's "JSON output" documents it; it only
 * ever gains optional fields.
 */
export interface LoopJson {
  id: string;
  pid: number;
  started: string;
  prompt: string;
  "worktree_path"?: string;
  workspace: string;
  "host_id"?: string;
  hostname?: string;
  "pid_ns"?: number;
  /**
   * running, orphan, remote, unknown or stale; dead or orphan in
   * `clean --dry-run`.
   */
  status: string;
}

/** The `--json` shape of a listed loop (or of a row of the table). */
export function toJson(loop: TableLoop): LoopJson {
  const json: LoopJson = {
    id: loop.id,
    pid: loop.pid,
    started: loop.started,
    prompt: loop.prompt,
  } as LoopJson;
  if (loop.worktreePath !== undefined) {
    json["worktree_path"] = loop.worktreePath;
  }
  json.workspace = loop.workspace;
  const origin = loop.origin;
  if (origin !== undefined) {
    json["host_id"] = origin.hostId;
    if (origin.hostname !== undefined) json.hostname = origin.hostname;
    if (origin.pidNamespace !== undefined) json["pid_ns"] = origin.pidNamespace;
  }
  json.status = loop.status;
  return json;
}

// C0 and C1 controls, DEL, bidi embeddings/overrides/isolates, the zero-width
// and line/paragraph separators: anything that can move the cursor, change
// colours or reorder what the terminal shows.
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

const NAMED: Record<string, string> = {
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/**
 * Makes a string safe for a terminal: control characters, escape sequences
 * and bidi overrides are shown escaped (`\x1b`, `\u202e`), never sent.
 */
export function escapeText(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const named = NAMED[char];
    if (named !== undefined) return named;
    const code = char.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

const JSON_UNSAFE =
  /[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

/**
 * `JSON.stringify` that also escapes the characters it leaves raw but a
 * terminal would act on (bidi overrides, C1 controls, line separators). The
 * output is still valid JSON with the same value.
 */
export function stringifyJson(value: unknown): string {
  return JSON.stringify(value).replace(
    JSON_UNSAFE,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Age as `42s`, `5m`, `3h` or `2d`; `?` for an unreadable time. */
export function formatAge(started: string, now: Date): string {
  const time = Date.parse(started);
  if (Number.isNaN(time)) return "?";
  const seconds = Math.max(0, Math.floor((now.getTime() - time) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

// East Asian wide and fullwidth characters and emoji take two terminal
// columns; combining marks none (an approximation of wcwidth).
const WIDE =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;
const ZERO = /[\p{Mn}\p{Me}]/u;

function charWidth(char: string): number {
  return ZERO.test(char) ? 0 : WIDE.test(char) ? 2 : 1;
}

/** The number of terminal columns `text` takes. */
export function textWidth(text: string): number {
  let width = 0;
  for (const char of text) width += charWidth(char);
  return width;
}

/** Cuts `text` to `width` terminal columns, ending with `…` when cut. */
export function cut(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  const room = width <= 1 ? Math.max(width, 0) : width - 1;
  let used = 0;
  let kept = "";
  for (const char of text) {
    used += charWidth(char);
    if (used > room) break;
    kept += char;
  }
  return width <= 1 ? kept : `${kept}…`;
}

// The colour of each status (README's table of statuses): green, yellow,
// cyan, dim, magenta, red. A status without one is shown plain.
const COLORS: Readonly<Record<string, string>> = {
  running: "\x1b[32m",
  orphan: "\x1b[33m",
  remote: "\x1b[36m",
  unknown: "\x1b[2m",
  stale: "\x1b[35m",
  dead: "\x1b[31m",
};

/** How to render a table. */
export interface TableOptions {
  /** Use ANSI colours. */
  color: boolean;
  /** Terminal width; `undefined` when not a terminal (no cutting). */
  columns: number | undefined;
  /** The current time, for AGE. */
  now: Date;
  /** Longest WORKTREE column before cutting. */
  maxWorktree?: number;
  /**
   * Show the HOST column: `true` always (an engine shared by several
   * machines), else only when the loops were registered on more than one
   * host or on another host than `localHostId`.
   */
  hosts?: boolean;
  /** This host's id, for `hosts`. */
  localHostId?: string;
}

/** The HOST cell: the host name, else the host id; `-` when unrecorded. */
function hostCell(loop: TableLoop): string {
  const origin = loop.origin;
  if (origin === undefined) return "-";
  return cut(escapeText(origin.hostname ?? origin.hostId), 24);
}

/** Whether the table needs a HOST column; see `TableOptions.hosts`. */
function showHosts(
  loops: readonly TableLoop[],
  options: TableOptions,
): boolean {
  if (options.hosts) return true;
  const ids = new Set(loops.map((loop) => loop.origin?.hostId));
  if (ids.size > 1) return true;
  const [only] = ids;
  return only !== undefined && only !== options.localHostId;
}

/** A row of the table: an entry with a status (a listed one, or `dead`). */
export type TableLoop = Omit<LoopInfo, "status"> & { status: string };

/**
 * Renders loops as the `ID  STATUS  [HOST]  PID  AGE  WORKTREE  PROMPT`
 * table (HOST: see `TableOptions.hosts`). With `color`, only the status is
 * coloured.
 */
export function formatTable(
  loops: readonly TableLoop[],
  options: TableOptions,
): string {
  const hosts = showHosts(loops, options);
  const rows = loops.map((loop) => [
    escapeText(loop.id),
    loop.status,
    ...(hosts ? [hostCell(loop)] : []),
    String(loop.pid),
    formatAge(loop.started, options.now),
    loop.worktreePath === undefined
      ? "-"
      : cut(escapeText(loop.worktreePath), options.maxWorktree ?? 40),
    escapeText(loop.prompt),
  ]);
  const header = [
    "ID",
    "STATUS",
    ...(hosts ? ["HOST"] : []),
    "PID",
    "AGE",
    "WORKTREE",
    "PROMPT",
  ];
  const last = header.length - 1;
  const widths = header.slice(0, last).map((title, column) =>
    Math.max(
      title.length,
      ...rows.map((row) => textWidth(row[column]!)),
    )
  );
  const used = widths.reduce((sum, w) => sum + w + 2, 0);
  const lines = [header, ...rows].map((row, index) => {
    const cells = row.slice(0, last).map((cell, column) =>
      cell + " ".repeat(widths[column]! - textWidth(cell))
    );
    const prompt = options.columns === undefined
      ? row[last]!
      : cut(row[last]!, Math.max(options.columns - used, 10));
    let line = `${cells.join("  ")}  ${prompt}`;
    // On a terminal no line is wider than it, even with a long id.
    if (options.columns !== undefined) line = cut(line, options.columns);
    if (!options.color || index === 0) return line;
    // Colour the status where the line still shows it whole.
    const start = cells[0]!.length + 2;
    const status = row[1]!;
    if (line.slice(start, start + status.length) !== status) return line;
    const color = Object.hasOwn(COLORS, status) ? COLORS[status] : undefined;
    if (color === undefined) return line;
    return `${line.slice(0, start)}${color}${status}\x1b[0m${
      line.slice(start + status.length)
    }`;
  });
  return lines.join("\n");
}

/** Renders one loop as `key: value` lines. */
export function formatDetail(loop: LoopInfo, now: Date): string {
  const lines = [
    ["id", escapeText(loop.id)],
    ["status", loop.status],
    ["pid", String(loop.pid)],
    [
      "started",
      `${escapeText(loop.started)} (${formatAge(loop.started, now)} ago)`,
    ],
    [
      "worktree",
      loop.worktreePath === undefined ? "-" : escapeText(loop.worktreePath),
    ],
    ["workspace", escapeText(loop.workspace)],
    ...(loop.origin === undefined ? [] : [[
      "host",
      `${escapeText(loop.origin.hostname ?? "-")} (host id ${
        escapeText(loop.origin.hostId)
      }${
        loop.origin.pidNamespace === undefined
          ? ""
          : `, pid namespace ${loop.origin.pidNamespace}`
      })`,
    ]]),
    ["prompt", escapeText(loop.prompt)],
  ];
  return lines.map(([key, value]) =>
    `${key}:${" ".repeat(10 - key!.length)}${value}`
  )
    .join("\n");
}
