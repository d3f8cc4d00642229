// The table of commands, in the order the help lists them.
import { cleanCommand } from "./clean.ts";
import { completionsCommand } from "./completions.ts";
import { deregisterCommand } from "./deregister.ts";
import { getCommand } from "./get.ts";
import { helpCommand } from "./help.ts";
import { listCommand } from "./list.ts";
import { registerCommand } from "./register.ts";
import { repairCommand } from "./repair.ts";
import { runCommand } from "./run.ts";
import { runningCommand } from "./running.ts";
import { serveCommand } from "./serve.ts";
import type { CommandSpec } from "./_spec.ts";
import { stopCommand } from "./stop.ts";
import { waitCommand } from "./wait.ts";
import { watchCommand } from "./watch.ts";

/** Every command of `loops`. */
export const COMMANDS: readonly CommandSpec[] = [
  listCommand,
  getCommand,
  runningCommand,
  registerCommand,
  deregisterCommand,
  cleanCommand,
  runCommand,
  stopCommand,
  waitCommand,
  watchCommand,
  serveCommand,
  repairCommand,
  completionsCommand,
  helpCommand,
];
