// The one table of signals: names the CLI accepts, the numbers behind the
// 128 + N exit codes, and the signals a claim and `loops run` handle.

/** Signal numbers on Linux, by name. */
export const SIGNAL_NUMBERS = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGWINCH: 28,
} as const satisfies Partial<Record<Deno.Signal, number>>;

/** A signal this package names. */
export type SignalName = keyof typeof SIGNAL_NUMBERS;

/** The signals on which a claim deregisters before the process exits. */
export const CLAIM_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** The signals `loops run` passes on to its child. */
export const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** The exit code of a process ended by `signal`, as shells report it. */
export function signalExitCode(signal: SignalName): number {
  return 128 + SIGNAL_NUMBERS[signal];
}
