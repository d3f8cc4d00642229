// The CLI's exit codes, in one place: the codes themselves, the errors the
// CLI raises (each carries its code), and the one table that gives a code to
// the errors the library and Deno raise. `main` asks `exitCodeOf`, never an
// `instanceof` chain; to give an error its own code, change its row here (and
// the EXIT CODES help line follows from EXIT_CODE_HELP).

/** The exit codes of `loops`. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** Failed, or not found; the message says which. */
  failure: 1,
  /** Bad arguments: nothing was done. */
  usage: 2,
  /** Ended by Ctrl+C (128 + SIGINT). */
  interrupted: 130,
} as const;

/** The EXIT CODES section of the help. */
export const EXIT_CODE_HELP: readonly (readonly [number, string])[] = [
  [EXIT.ok, "ok"],
  [EXIT.failure, "failure or not found"],
  [EXIT.usage, "usage error"],
  [EXIT.interrupted, "interrupted"],
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
 * subclass without a row of its own takes its nearest ancestor's.
 */
const ERROR_EXIT_CODES: Readonly<Record<string, number>> = Object.assign(
  Object.create(null),
  {
    LoopNotFoundError: EXIT.failure,
    LoopIdTakenError: EXIT.failure,
    LockTimeoutError: EXIT.failure,
    CorruptRegistryError: EXIT.failure,
    NotCapable: EXIT.failure,
    AlreadyExists: EXIT.failure,
    PermissionDenied: EXIT.failure,
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
