// Checks of argument values that more than one command uses. Each throws a
// UsageError naming the option and quoting the value.
import { isValidLoopId, isValidPid, MAX_PID } from "../mod.ts";
import { isAbsolute, resolve } from "../src/_path.ts";
import { UsageError } from "./_errors.ts";
import type { CliIo } from "./io.ts";

/** The `ID` argument of `get`, `stop` and `deregister`. */
export const ID_ARGUMENT = { name: "ID", help: "The loop id" } as const;

/** `value` as a pid. */
export function parsePid(value: string, option: string): number {
  const pid = /^\d{1,8}$/.test(value) ? Number(value) : NaN;
  if (!isValidPid(pid)) {
    throw new UsageError(
      `Cannot use ${option} as it must be an integer from 1 to ${MAX_PID}: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return pid;
}

/** Throws unless `id` is a valid loop id. */
export function checkId(id: string): void {
  if (!isValidLoopId(id)) {
    throw new UsageError(
      `Cannot use --id as it must have 1 to 256 characters and no control characters: current value is ${
        JSON.stringify(id)
      }`,
    );
  }
}

/** Throws unless there are exactly `count` positionals; `what` they are. */
export function positionalsExactly(
  positionals: readonly string[],
  count: number,
  what: string,
): void {
  if (positionals.length < count) throw new UsageError(`Missing ${what}`);
  if (positionals.length > count) {
    throw new UsageError(
      `Unexpected argument ${JSON.stringify(positionals[count])}`,
    );
  }
}

/** `path` made absolute against `io.cwd()`, asked only when it is relative. */
export function absolute(path: string, io: Pick<CliIo, "cwd">): string {
  return isAbsolute(path) ? path : resolve(io.cwd(), path);
}
