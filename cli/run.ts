// `loops run -- CMD`: run a command as a registered loop, forward signals to
// it, deregister it when it ends and exit with its code.
import {
  createLoopEntry,
  generateLoopId,
  LoopNotFoundError,
  type Registry,
} from "../mod.ts";
import { FORWARDED_SIGNALS } from "../src/_signals.ts";
import { assertWritable } from "./_engine.ts";
import { CliError, UsageError } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import { type CommandContext, defineCommand } from "./_spec.ts";
import { absolute, checkId } from "./_values.ts";
import { ID_OPTION, WORKTREE_OPTION } from "./register.ts";

/** What the loop is registered with. */
interface RunOptions {
  prompt?: string;
  worktree?: string;
  id?: string;
}

/** `loops run [--prompt P] [--worktree DIR] [--id ID] -- CMD [ARGS...]` */
export const runCommand = defineCommand({
  name: "run",
  summary: "Run CMD as a registered loop",
  arguments: [
    { name: "CMD", help: "The command to run", afterDashes: true },
    {
      name: "ARGS",
      help: "Its arguments",
      optional: true,
      variadic: true,
      afterDashes: true,
    },
  ],
  options: {
    prompt: {
      type: "string",
      value: "P",
      help: "The prompt or task (default: the command line)",
    },
    worktree: WORKTREE_OPTION,
    id: ID_OPTION,
  },
  description:
    `Runs CMD with inherited stdio as a registered loop. CMD gets LOOPS_ID and
LOOPS_WORKSPACE in its environment; SIGINT, SIGTERM and SIGHUP are forwarded to
it. When it ends, the entry is removed and loops exits with its exit code (or
128+N when it died of signal N).`,
  async run(context, { values, positionals }) {
    if (positionals.length === 0) {
      throw new UsageError("Missing the command to run after --");
    }
    if (values.id !== undefined) checkId(values.id);
    return await runLoop(context, positionals, values);
  },
});

/** Spawns `command[0]` with inherited stdio and LOOPS_* in its environment. */
function spawn(command: string[], env: Record<string, string>) {
  try {
    return new Deno.Command(command[0]!, {
      args: command.slice(1),
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
      env,
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CliError(
        `Cannot run ${JSON.stringify(command[0])} as it was not found on PATH`,
      );
    }
    throw error;
  }
}

/** Forwards FORWARDED_SIGNALS to `child`; returns what undoes it. */
function forwardSignals(child: Deno.ChildProcess): () => void {
  const forwarded = FORWARDED_SIGNALS.map((signal) => {
    const forward = () => {
      try {
        child.kill(signal);
      } catch {
        // The child already exited: nothing to forward to.
      }
    };
    Deno.addSignalListener(signal, forward);
    return [signal, forward] as const;
  });
  return () => {
    for (const [signal, forward] of forwarded) {
      Deno.removeSignalListener(signal, forward);
    }
  };
}

async function runLoop(
  { io, registry, workspace }: CommandContext,
  command: string[],
  options: RunOptions,
): Promise<number> {
  const entryId = options.id ?? generateLoopId();
  // Fail before spawning when the registry cannot be used (corrupt file,
  // missing permission, taken id), rather than start a loop and kill it.
  if (await registry.get(entryId) !== undefined) {
    throw new Deno.errors.AlreadyExists(
      `Cannot run loop ${
        JSON.stringify(entryId)
      } as that id is taken by a live loop: choose another --id`,
    );
  }
  assertWritable(registry);
  const child = spawn(command, {
    LOOPS_ID: entryId,
    LOOPS_WORKSPACE: workspace,
  });
  // Forward signals at once, before registering, so none is lost.
  const unforward = forwardSignals(child);
  let id: string | undefined;
  try {
    const entry = createLoopEntry(options.prompt ?? command.join(" "), {
      id: entryId,
      pid: child.pid,
      workspace,
      worktreePath: options.worktree === undefined
        ? undefined
        : absolute(options.worktree, io),
    });
    try {
      id = await registry.register(entry);
    } catch (error) {
      child.kill("SIGTERM");
      await child.status;
      throw error;
    }
    // Deno reports a child killed by signal N with code 128 + N, as shells do.
    return (await child.status).code;
  } finally {
    unforward();
    if (id !== undefined) await deregisterQuietly(registry, id, io);
  }
}

/** Removes the entry; an error other than "already gone" is only shown. */
async function deregisterQuietly(
  registry: Registry,
  id: string,
  io: CommandContext["io"],
): Promise<void> {
  try {
    await registry.deregister(id);
  } catch (error) {
    if (!(error instanceof LoopNotFoundError)) {
      io.err(
        `loops: ${
          escapeText(error instanceof Error ? error.message : String(error))
        }`,
      );
    }
  }
}
