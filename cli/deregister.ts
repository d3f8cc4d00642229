// `loops deregister`: remove a loop by id (or unique prefix), or every loop
// of a process.
import { CliError, EXIT } from "./_errors.ts";
import { escapeText } from "./_format.ts";
import { resolveId } from "./_select.ts";
import { defineCommand } from "./_spec.ts";
import { ID_ARGUMENT, parsePid, positionalsExactly } from "./_values.ts";

/** `loops deregister (ID | --pid PID)` */
export const deregisterCommand = defineCommand({
  name: "deregister",
  summary: "Remove a loop; exit 3 when not found",
  arguments: [ID_ARGUMENT],
  options: {
    pid: {
      type: "string",
      value: "PID",
      help: "Remove every loop of this process instead",
    },
  },
  forms: [["ID"], ["pid"]],
  description:
    `Removes a loop by id (or the start of one), or every loop of a process.
Signals nothing. Exits 3 when not found.`,
  async run({ io, registry }, { values, positionals }) {
    if (values.pid !== undefined) {
      positionalsExactly(positionals, 0, "");
      const pid = parsePid(values.pid, "--pid");
      if (!(await registry.deregisterPid(pid))) {
        throw new CliError(
          `Cannot find a loop of pid ${pid} in registry "${registry.location}"`,
          { exitCode: EXIT.notFound },
        );
      }
      io.out(`Deregistered the loops of pid ${pid}`);
      return EXIT.ok;
    }
    positionalsExactly(positionals, 1, "loop ID or --pid PID");
    const id = await resolveId(registry, positionals[0]!);
    await registry.deregister(id);
    io.out(`Deregistered ${escapeText(id)}`);
    return EXIT.ok;
  },
});
