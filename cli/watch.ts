// `loops watch`: the loops, shown again until Ctrl+C. On a terminal the
// table is redrawn in place every second (AGE moves) and on each change;
// piped, it is printed again on each change; with --json, one JSON array a
// line (NDJSON) on each change. A held lock does not end it: it says it
// waits, and retries.
import { guardInspectorSignal } from "../src/_inspector_guard.ts";
import { LockTimeoutError } from "../mod.ts";
import { isShared } from "./_engine.ts";
import { EXIT } from "./_errors.ts";
import { select, SELECT_OPTIONS } from "./_select.ts";
import { defineCommand } from "./_spec.ts";
import { positionalsExactly } from "./_values.ts";

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
    // A long-lived process: close the V8 inspector that SIGUSR1 would open.
    guardInspectorSignal();
    positionalsExactly(positionals, 0, "");
    const { json = false, ...selection } = values;
    const { io, workspace } = context;
    const { ATTEMPT_MS, pause, REDRAW_MS, RETRY_MS, WatchView } = await import(
      "./_watch_view.ts"
    );
    const registry = context.openRegistry({
      lockTimeoutMs: Math.min(context.lockTimeoutMs ?? Infinity, ATTEMPT_MS),
    });
    const view = new WatchView(io, {
      json,
      workspace,
      location: registry.location,
      hosts: isShared(registry),
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
