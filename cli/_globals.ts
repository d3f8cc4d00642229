// The options of `loops` itself, given before the command or, but for
// --help and --version, anywhere before a `--` after it: how they parse,
// and what they mean for the run (workspace, engine, lock timeout, colour).
import { UsageError } from "./_errors.ts";
import type { ArgValues } from "./_args.ts";
import type { OptionSpecs } from "./_spec.ts";

/** The options of `loops` itself. */
export const GLOBAL_OPTIONS = {
  workspace: {
    type: "string",
    short: "w",
    value: "DIR",
    help: "Workspace root (default: nearest ancestor holding .ralph/, else .)",
  },
  "lock-timeout": {
    type: "string",
    value: "SECONDS",
    help:
      "How long to wait for the registry lock (default 10), or for Redis (5)",
  },
  redis: {
    type: "string",
    value: "URL",
    help:
      "Use the Redis registry at URL (default: LOOPS_REDIS_URL; else the file)",
  },
  namespace: {
    type: "string",
    value: "NAME",
    help:
      "Redis namespace (default: LOOPS_NAMESPACE, else the workspace's name)",
  },
  color: {
    type: "string",
    value: "WHEN",
    choices: ["auto", "always", "never"],
    help: "Colour the status: auto (a terminal, no NO_COLOR), always, never",
  },
  help: { type: "boolean", short: "h", help: "Show help" },
  version: { type: "boolean", short: "V", help: "Show version" },
} as const satisfies OptionSpecs;

/** The global options a command also takes after its name. */
export const ANYWHERE_OPTIONS = {
  workspace: GLOBAL_OPTIONS.workspace,
  "lock-timeout": GLOBAL_OPTIONS["lock-timeout"],
  redis: GLOBAL_OPTIONS.redis,
  namespace: GLOBAL_OPTIONS.namespace,
  color: GLOBAL_OPTIONS.color,
} as const satisfies OptionSpecs;

/** The global options as parsed. */
export type GlobalValues = ArgValues<typeof GLOBAL_OPTIONS>;

/** The most `--lock-timeout` and `--timeout` take: a day. */
export const MAX_SECONDS = 86400;

/**
 * `value` as a number of seconds from 0 to a day, for `option`.
 *
 * @throws {UsageError} If it is not one.
 */
export function parseSeconds(value: string, option: string): number {
  const seconds = /^(\d+(\.\d*)?|\.\d+)$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= 0 && seconds <= MAX_SECONDS)) {
    throw new UsageError(
      `Cannot use ${option} as it must be a number of seconds from 0 to ${MAX_SECONDS}: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return seconds;
}

/** Whether to colour, from `--color` and the terminal's default. */
export function useColor(
  when: string | undefined,
  auto: boolean,
): boolean {
  return when === "always" ? true : when === "never" ? false : auto;
}

/**
 * Checks the values that have `choices`.
 *
 * @throws {UsageError} If one is not among them.
 */
export function checkChoices(
  options: OptionSpecs,
  values: Readonly<Record<string, unknown>>,
): void {
  for (const [name, { choices }] of Object.entries(options)) {
    const given = values[name];
    if (choices === undefined || given === undefined) continue;
    for (const value of Array.isArray(given) ? given : [given]) {
      if (!choices.includes(value)) {
        throw new UsageError(
          `Cannot use --${name} as it must be one of ${
            choices.join(", ")
          }: current value is ${JSON.stringify(value)}`,
        );
      }
    }
  }
}
