// `loops running ID`: whether a loop runs, as an exit code a guard can
// trust: 0 running, 3 not running (no such loop, or its process is gone),
// 4 cannot tell; every failure has a code of its own.
import { CliError, EXIT } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import { findLoop } from "./_select.ts";
import { defineCommand } from "./_spec.ts";
import { ID_ARGUMENT, positionalsExactly } from "./_values.ts";

/** `loops running ID` */
export const runningCommand = defineCommand({
  name: "running",
  summary: "Whether a loop runs: exit 0 yes, 3 no, 4 cannot tell",
  arguments: [ID_ARGUMENT],
  options: {},
  description:
    `Answers "is this loop alive?" in its exit code: 0 when its process runs
(status running, or orphan: alive with its worktree gone), printing the status;
3 when no loop has this id or its process is gone; 4 when it cannot be told
here (status unknown, remote or stale). Any other code is a failure to find out
(5 lock timeout, 6 corrupt registry, 7 permission, 1 anything else): a guard
should act on 3 alone.`,
  async run({ io, registry }, { positionals }) {
    positionalsExactly(positionals, 1, "loop ID");
    const loop = await findLoop(registry, positionals[0]!);
    if (loop.status === "running" || loop.status === "orphan") {
      io.out(loop.status);
      return EXIT.ok;
    }
    const reason = loop.status === "remote" || loop.status === "stale"
      ? undefined
      : (await registry.inspect(loop.id))?.reason;
    const why = loop.status === "remote"
      ? "it registered on another host or in another pid namespace"
      : loop.status === "stale"
      ? "its lease has not been renewed for two thirds of its length (hung, or cut off from the server)"
      : reason === "no-permission"
      ? "run access is not granted: run again with --allow-run (or -A)"
      : `its liveness cannot be checked (${reason ?? "unknown"})`;
    throw new CliError(
      `Cannot tell whether loop ${
        escapeText(JSON.stringify(loop.id))
      } is running as ${why}`,
      { exitCode: EXIT.unknown },
    );
  },
});
