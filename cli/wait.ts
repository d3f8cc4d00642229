// `loops wait ID [--timeout SECONDS]`: block until a loop has ended.
import { explainProcess, type Registry } from "../mod.ts";
import { CliError, EXIT } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import { resolveId } from "./_select.ts";
import { defineCommand } from "./_spec.ts";
import { ID_ARGUMENT, positionalsExactly } from "./_values.ts";
import { parseTimeout } from "./stop.ts";

/** `loops wait ID [--timeout SECONDS]` */
export const waitCommand = defineCommand({
  name: "wait",
  summary: "Wait until a loop has ended",
  arguments: [ID_ARGUMENT],
  options: {
    timeout: {
      type: "string",
      value: "SECONDS",
      help: "How long to wait at most (default: no limit)",
    },
  },
  description:
    `Returns once the loop has ended: its process is gone here, or (for a loop of
another host or pid namespace, whose pid means nothing here) its entry has left
the registry. Exit 0 when it ended, 3 when there is no such loop, 8 when it is
still running after --timeout, 130 on Ctrl+C. The loop's own exit code is not
recorded by the registry, so it is not reported.`,
  async run({ io, registry }, { values, positionals }) {
    positionalsExactly(positionals, 1, "loop ID");
    const id = await resolveId(registry, positionals[0]!);
    const timeout = parseTimeout(values.timeout, Infinity);
    const shown = escapeText(JSON.stringify(id));
    const first = await registry.inspect(id);
    if (first === undefined) {
      throw new CliError(
        `Cannot wait for loop ${shown} as no loop has that id in "${
          escapeText(registry.location)
        }"`,
        { exitCode: EXIT.notFound },
      );
    }
    const controller = new AbortController();
    const onInterrupt = () => controller.abort();
    Deno.addSignalListener("SIGINT", onInterrupt);
    try {
      const ended = await endsWithin(registry, first, timeout, controller);
      if (controller.signal.aborted) return EXIT.interrupted;
      if (!ended) {
        throw new CliError(
          `Loop ${shown} is still running after ${values.timeout} s`,
          { exitCode: EXIT.timeout },
        );
      }
      io.out(`Loop ${shown} (pid ${first.pid}) has ended`);
      return EXIT.ok;
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
    }
  },
});

/**
 * Polls until the loop ends: its process every 100 ms where it can be
 * probed here, and the registry every second (a remote loop ends when its
 * entry goes; a local one may also have been stopped and removed).
 */
async function endsWithin(
  registry: Registry,
  loop: NonNullable<Awaited<ReturnType<Registry["inspect"]>>>,
  seconds: number,
  controller: AbortController,
): Promise<boolean> {
  const local = loop.liveness !== "unknown";
  const deadline = Date.now() + seconds * 1000;
  for (let tick = 0; !controller.signal.aborted; tick++) {
    if (local) {
      // Without a recorded identity, a process started after the loop
      // registered is another one: the loop's own has ended.
      const verdict = explainProcess(
        loop.pid,
        loop.identity,
        loop.identity === undefined ? { registeredAt: loop.started } : {},
      );
      if (verdict.liveness === "dead" || verdict.reason === "pid-reused") {
        return true;
      }
    }
    if (tick % 10 === 0) {
      const now = await registry.inspect(loop.id);
      if (
        now === undefined || now.liveness === "dead" ||
        now.pid !== loop.pid || now.started !== loop.started
      ) {
        return true;
      }
    }
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}
