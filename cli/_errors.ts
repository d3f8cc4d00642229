// The CLI's exit codes, in one place: the codes themselves, the errors the
// CLI raises (each carries its code), the one table that gives a code to the
// errors the library and Deno raise, and the CLI's wording of their
// messages. `main` asks `exitCodeOf` and `cliMessage`, never an `instanceof`
// chain; to give an error its own code, change its row here (the EXIT CODES
// help and README table follow EXIT_CODE_HELP).
//
// Why "not found" is 3 and not grep's 1: Deno itself exits 1 when it cannot
// start the program at all (a module that cannot be fetched, an unknown
// flag, an uncaught error), so a 1 can never be trusted to mean an answer.
// Every code from 3 up is one the CLI alone gives, on purpose.

/** The exit codes of `loops`. */
export const EXIT = {
  /** Done; for `get` and `running`: found, and running. */
  ok: 0,
  /**
   * Failed, for a reason without a code of its own (also what Deno exits
   * with when it cannot run the CLI at all).
   */
  failure: 1,
  /** Bad arguments (or an ambiguous id prefix): nothing was done. */
  usage: 2,
  /** No such loop, or it is not running (its process is gone). */
  notFound: 3,
  /**
   * The loop is registered but whether it runs cannot be told here: its
   * status is `unknown` (a permission is missing, or the pid may be reused)
   * or `remote` (another host or pid namespace).
   */
  unknown: 4,
  /** The registry lock stayed held past `--lock-timeout`. */
  lockTimeout: 5,
  /** The registry is corrupt or unusable (`loops repair` says if it can fix it). */
  corrupt: 6,
  /**
   * A permission is missing (the message names the Deno flag), the system
   * refused access, or the registry is not trusted.
   */
  permission: 7,
  /** The time ran out and the loop is still running (`stop`, `wait`). */
  timeout: 8,
  /**
   * Refused to act on a loop that is not provably the registered process
   * (reused pid, unknown liveness, another host, another user's process,
   * pid 0 or 1, this process).
   */
  refused: 9,
  /** Ended by Ctrl+C (128 + SIGINT). */
  interrupted: 130,
} as const;

/** The EXIT CODES section of the help, and the README's table. */
export const EXIT_CODE_HELP: readonly (readonly [number, string])[] = [
  [EXIT.ok, "ok (get, running: found and running)"],
  [EXIT.failure, "failure (also Deno's own: the CLI could not start)"],
  [EXIT.usage, "usage error, or an ambiguous id prefix"],
  [EXIT.notFound, "no such loop, or not running"],
  [
    EXIT.unknown,
    "cannot tell whether the loop runs (status unknown or remote)",
  ],
  [
    EXIT.lockTimeout,
    "the registry lock stayed held (--lock-timeout), or its server did not answer",
  ],
  [EXIT.corrupt, "corrupt registry (loops repair)"],
  [EXIT.permission, "missing permission, or untrusted registry"],
  [EXIT.timeout, "still running when the --timeout ran out"],
  [EXIT.refused, "refused: not provably the loop's process"],
  [EXIT.interrupted, "interrupted (Ctrl+C)"],
];

/** Options for {@linkcode CliError}. */
export interface CliErrorOptions extends ErrorOptions {
  /**
   * The exit code.
   *
   * @default {1}
   */
  exitCode?: number;
}

/** A failure the CLI explains itself: its message and its exit code. */
export class CliError extends Error {
  /** The exit code `main` returns for it. */
  readonly exitCode: number;

  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = options.exitCode ?? EXIT.failure;
  }
}

/** A usage error: exit 2, with a hint to run `--help`. */
export class UsageError extends CliError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { ...options, exitCode: EXIT.usage });
    this.name = "UsageError";
  }
}

/**
 * The exit codes of the library's and Deno's errors, by error name: the
 * errors whose message already says what went wrong and what to do. A
 * subclass without a row of its own takes its nearest ancestor's. Deno's
 * `NotFound` is a missing file or directory, never "no such loop": exit 1.
 */
const ERROR_EXIT_CODES: Readonly<Record<string, number>> = Object.assign(
  Object.create(null),
  {
    LoopNotFoundError: EXIT.notFound,
    LoopIdTakenError: EXIT.failure,
    LockTimeoutError: EXIT.lockTimeout,
    // The registry could not be reached in time: like a held lock, no answer.
    RedisUnavailableError: EXIT.lockTimeout,
    LeaseLostError: EXIT.failure,
    CorruptRegistryError: EXIT.corrupt,
    NotCapable: EXIT.permission,
    PermissionDenied: EXIT.permission,
    AlreadyExists: EXIT.failure,
    NotFound: EXIT.failure,
    RangeError: EXIT.failure,
  },
);

/** A failed system call (a bad path, ...) has an `E*` code: exit 1. */
const OS_ERROR_EXIT_CODE = EXIT.failure;

/**
 * The exit code for `error`, or `undefined` for an unexpected one (a bug, to
 * be reported).
 */
export function exitCodeOf(error: unknown): number | undefined {
  if (error instanceof CliError) return error.exitCode;
  if (!(error instanceof Error)) return undefined;
  const own = ERROR_EXIT_CODES[error.name];
  if (own !== undefined) return own;
  for (
    let proto = Object.getPrototypeOf(error);
    proto !== null && proto !== Error.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    const code = ERROR_EXIT_CODES[proto.constructor?.name];
    if (code !== undefined) return code;
  }
  const code = String((error as { code?: unknown }).code);
  return /^E[A-Z0-9]+$/.test(code) ? OS_ERROR_EXIT_CODE : undefined;
}

/**
 * The library's words for what a caller of the module does, and the CLI's
 * for the same: a CLI user raises `--lock-timeout`, not `lockTimeoutMs`, and
 * runs `loops repair`, not `registry.repair()`.
 */
const CLI_WORDS: readonly (readonly [RegExp, string])[] = [
  [/ \(registry\.repair\(\)\)/g, ""],
  [/\bregistry\.repair\(\)/g, "'loops repair'"],
  [/\braise lockTimeoutMs\b/g, "raise --lock-timeout SECONDS"],
  [/\bchoose another id\b/g, "choose another --id"],
  [/,? or the `?LoopRegistry`? option `?trusted: true`?/g, ""],
];

/** The message of `error` as the CLI shows it (before escaping). */
export function cliMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error instanceof CliError) return error.message;
  let message = error.message;
  if (error.name === "LockTimeoutError") {
    const { path, timeoutMs } = error as Error & {
      path?: unknown;
      timeoutMs?: unknown;
    };
    if (typeof path === "string" && typeof timeoutMs === "number") {
      message =
        `Cannot lock registry "${path}" as another process held it for ${
          timeoutMs / 1000
        } s: retry, raise --lock-timeout SECONDS, or find the holder with 'fuser ${path}'`;
    }
  }
  for (const [library, cli] of CLI_WORDS) {
    message = message.replace(library, cli);
  }
  return message;
}
