// `loops watch`: the loops, shown again until Ctrl+C. On a terminal the
// table is redrawn in place every second (AGE moves) and on each change;
// piped, it is printed again on each change; with --json, one JSON array a
// line (NDJSON) on each change. A held lock does not end it: it says it
// waits, and retries.
import { LockTimeoutError, type LoopInfo } from "../mod.ts";
import { openRegistry } from "./_engine.ts";
import { EXIT } from "./_errors.ts";
import { escapeText, stringifyJson, toJson } from "./_format.ts";
import { filters, select, SELECT_OPTIONS, type Selection } from "./_select.ts";
import { defineCommand } from "./_spec.ts";
import { positionalsExactly } from "./_values.ts";
import type { CliIo } from "./io.ts";
import { renderLoops } from "./list.ts";

/** How long one read waits for the lock before the view says it waits. */
const ATTEMPT_MS = 1000;
/** The pause between two attempts at a held lock. */
const RETRY_MS = 250;
/** How often a terminal view is redrawn, for AGE. */
const REDRAW_MS = 1000;

/** What the watch shows, and how. */
class WatchView {
  #io: CliIo;
  #json: boolean;
  #workspace: string;
  #location: string;
  #filtered: boolean;
  #loops: LoopInfo[] | undefined;
  #shown: string | undefined;
  #waitingSince: Date | undefined;
  #drawn = false;

  constructor(
    io: CliIo,
    options: { json: boolean; workspace: string; location: string },
    selection: Selection,
  ) {
    this.#io = io;
    this.#json = options.json;
    this.#workspace = options.workspace;
    this.#location = escapeText(options.location);
    this.#filtered = filters(selection);
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
    const frame = lines.join("\n").split("\n").map((line) => `${line}\x1b[K`);
    this.#io.out(
      `${this.#drawn ? "\x1b[H" : "\x1b[H\x1b[2J"}${frame.join("\n")}\x1b[J`,
    );
    this.#drawn = true;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
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

/** `loops watch [--json] [selection]` */
export const watchCommand = defineCommand({
  name: "watch",
  summary: "Live view until Ctrl+C",
  arguments: [],
  options: {
    json: {
      type: "boolean",
      help: "Print one JSON array a line (NDJSON) on each change",
    },
    ...SELECT_OPTIONS,
  },
  description:
    `Shows the loops until Ctrl+C (exit 130). On a terminal the table is redrawn
in place every second and whenever the registry or a loop's liveness changes
(checked every 2 s); piped, it is printed again on each change. While another
process holds the lock, it says so and retries.`,
  async run(context, { values, positionals }) {
    positionalsExactly(positionals, 0, "");
    const { json = false, ...selection } = values;
    const { io, workspace } = context;
    const registry = openRegistry(workspace, {
      lockTimeoutMs: Math.min(context.lockTimeoutMs ?? Infinity, ATTEMPT_MS),
    });
    const view = new WatchView(io, {
      json,
      workspace,
      location: registry.location,
    }, selection);
    const controller = new AbortController();
    const { signal } = controller;
    let interrupted = false;
    const onInterrupt = () => {
      interrupted = true;
      controller.abort();
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
    const ticker = view.live ? setInterval(() => view.draw(), REDRAW_MS) : 0;
    try {
      while (!signal.aborted) {
        try {
          for await (const loops of registry.watch({ signal })) {
            view.show(select(loops, selection, io));
          }
        } catch (error) {
          if (!(error instanceof LockTimeoutError)) throw error;
          view.waiting();
          await pause(RETRY_MS, signal);
        }
      }
    } finally {
      clearInterval(ticker);
      Deno.removeSignalListener("SIGINT", onInterrupt);
      await registry.close();
    }
    return interrupted ? EXIT.interrupted : EXIT.ok;
  },
});
