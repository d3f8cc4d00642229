// `loops register`: an entry for a process that is already running.
import { createLoopEntry, explainProcess } from "../mod.ts";
import { CliError, EXIT } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import { defineCommand } from "./_spec.ts";
import { absolute, checkId, parsePid, positionalsExactly } from "./_values.ts";

/** The `--worktree` option of `register` and `run`. */
export const WORKTREE_OPTION = {
  type: "string",
  value: "DIR",
  help: "The loop's git worktree",
} as const;

/** The `--id` option of `register` and `run`. */
export const ID_OPTION = {
  type: "string",
  value: "ID",
  help: "The id (default: loop-<unix seconds>-<4 hex>)",
} as const;

/** `loops register --pid PID --prompt P [--worktree DIR] [--id ID]` */
export const registerCommand = defineCommand({
  name: "register",
  summary: "Register a loop for a running process; prints the id",
  arguments: [],
  options: {
    pid: {
      type: "string",
      value: "PID",
      help: "The loop's process",
      required: true,
    },
    prompt: {
      type: "string",
      value: "P",
      help: "The prompt or task",
      required: true,
    },
    worktree: WORKTREE_OPTION,
    id: ID_OPTION,
  },
  description:
    `Registers a loop for a running process, e.g. a shell's $$ (the CLI's own pid
would be dead at once). Refuses a pid that is not running. Like ralph, one loop
per pid: a loop already registered for the pid is replaced (said on stderr).
Prints the id.`,
  async run({ io, registry, workspace }, { values, positionals }) {
    positionalsExactly(positionals, 0, "");
    const pid = parsePid(values.pid!, "--pid");
    if (values.id !== undefined) checkId(values.id);
    const entry = createLoopEntry(values.prompt!, {
      id: values.id,
      pid,
      workspace,
      worktreePath: values.worktree === undefined
        ? undefined
        : absolute(values.worktree, io),
    });
    const verdict = explainProcess(pid);
    if (verdict.liveness === "dead") {
      throw new CliError(
        `Cannot register pid ${pid} as no such process is running (${verdict.reason})`,
      );
    }
    const replaced = (await registry.list()).filter((loop) =>
      loop.pid === pid && loop.status !== "remote" && loop.id !== entry.id
    );
    io.out(escapeText(await registry.register(entry)));
    for (const loop of replaced) {
      io.err(
        `loops: replaced loop ${
          escapeText(JSON.stringify(loop.id))
        } of pid ${pid} (one loop per process)`,
      );
    }
    return EXIT.ok;
  },
});
