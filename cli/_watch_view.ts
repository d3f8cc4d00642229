// What `loops watch` shows, and how: in place on a terminal (redrawn every
// second for AGE), the table again on each change when piped, one JSON array
// a line with --json; the waiting notice while another process holds the
// lock. Loaded by `watch` alone.
import type { LoopInfo } from "../mod.ts";
import { cut, escapeText, stringifyJson, toJson } from "./_format.ts";
import { filters, type Selection } from "./_select.ts";
import type { CliIo } from "./io.ts";
import { renderLoops } from "./list.ts";

/** How long one read waits for the lock before the view says it waits. */
export const ATTEMPT_MS = 1000;
/** The pause between two attempts at a held lock. */
export const RETRY_MS = 250;
/** How often a terminal view is redrawn, for AGE. */
export const REDRAW_MS = 1000;

/** What the watch shows, and how. */
export class WatchView {
  #io: CliIo;
  #json: boolean;
  #workspace: string;
  #location: string;
  #filtered: boolean;
  #hosts: boolean;
  #loops: LoopInfo[] | undefined;
  #shown: string | undefined;
  #waitingSince: Date | undefined;
  #drawn = false;

  constructor(
    io: CliIo,
    options: {
      json: boolean;
      workspace: string;
      location: string;
      /** Always show the HOST column. */
      hosts?: boolean;
    },
    selection: Selection,
  ) {
    this.#io = io;
    this.#json = options.json;
    this.#workspace = options.workspace;
    this.#location = escapeText(options.location);
    this.#filtered = filters(selection);
    this.#hosts = options.hosts ?? false;
  }

  /** Whether the view is redrawn in place: a table on a terminal. */
  get live(): boolean {
    return this.#io.terminal && !this.#json;
  }

  /** A fresh list. */
  show(loops: LoopInfo[]): void {
    this.#loops = loops;
    this.#waitingSince = undefined;
    const key = JSON.stringify(loops);
    if (key === this.#shown && !this.live) return;
    this.#shown = key;
    if (this.#json) this.#io.out(stringifyJson(loops.map(toJson)));
    else this.draw();
  }

  /** The lock is held: say so once, then keep retrying. */
  waiting(): void {
    if (this.#waitingSince !== undefined) return;
    this.#waitingSince = new Date();
    if (this.live) {
      this.draw();
    } else {
      this.#io.err(
        `loops: waiting for the lock of ${this.#location}, held by another process; retrying`,
      );
    }
  }

  /** Draws the table and the status line (in place on a terminal). */
  draw(): void {
    const table = this.#loops === undefined
      ? undefined
      : renderLoops(this.#io, this.#loops, {
        json: false,
        workspace: this.#workspace,
        filtered: this.#filtered,
        hosts: this.#hosts,
      });
    const since = this.#waitingSince?.toTimeString().slice(0, 8);
    const status = since === undefined
      ? `Watching ${this.#location} (Ctrl+C to stop)`
      : `Waiting since ${since} for the lock of ${this.#location}, held by another process; retrying (Ctrl+C to stop)`;
    const lines = [...(table === undefined ? [] : [table, ""]), status];
    if (!this.live) {
      this.#io.out(lines.join("\n"));
      return;
    }
    // Home, each line then "erase to its end", then "erase below": the
    // screen is replaced without flicker. The first frame clears it.
    // The table fits the terminal already; the status line is cut to it.
    const width = this.#io.columns;
    lines[lines.length - 1] = width === undefined ? status : cut(status, width);
    const frame = lines.join("\n").split("\n").map((line) => `${line}\x1b[K`);
    this.#io.out(
      `${this.#drawn ? "\x1b[H" : "\x1b[H\x1b[2J"}${frame.join("\n")}\x1b[J`,
    );
    this.#drawn = true;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}
