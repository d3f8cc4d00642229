// SIGUSR1 and Deno's inspector. Deno 2.9.2+ installs, about 500 ms after
// start, a SIGUSR1 handler that opens a V8 inspector on 127.0.0.1:9229 with
// no authentication, as Node does; 2.9.6 has no flag to turn it off, and
// `Deno.addSignalListener("SIGUSR1")` does not stop it. Only the process's
// own user (or root) can send it the signal, but once open, any local user
// can connect and run code as that user. Measured on 2.9.6 (see
// docs/security.md): `--inspect=127.0.0.1:0` opens an inspector at once on
// a random port (no better); a unix socket is refused; starting the process
// with SIGUSR1 blocked (`env --block-signal=USR1`) works but every child
// inherits the blocked signal; ignoring it before the handler is installed
// is undone by the install.
//
// What works: wait for Deno's handler to appear, then set SIGUSR1 to
// SIG_IGN, through libc (FFI, so `--allow-ffi`; the CLI runs with `-A`).
// The disposition is polled every 5 ms, so the inspector can still be
// opened during at most one poll interval, about 0.5 s after start. Children
// spawned before the switch start with SIGUSR1 at its default (a caught
// signal is reset by exec); children spawned after it inherit it ignored.

const SIGUSR1: Partial<Record<typeof Deno.build.os, number>> = {
  linux: 10,
  darwin: 30,
};
const LIBC: Partial<Record<typeof Deno.build.os, string>> = {
  linux: "libc.so.6",
  darwin: "libSystem.B.dylib",
};

/** Options for {@linkcode guardInspectorSignal}. */
export interface InspectorGuardOptions {
  /**
   * How often to look for Deno's handler, in milliseconds.
   *
   * @default {5}
   */
  intervalMs?: number;
  /**
   * When to stop looking, in milliseconds after the call.
   *
   * @default {10000}
   */
  giveUpMs?: number;
  /** Called once Deno's handler has been replaced by SIG_IGN. */
  onGuarded?: () => void;
}

/**
 * Makes SIGUSR1 ignored as soon as Deno installs its inspector handler, so
 * that the signal cannot open an unauthenticated inspector. For long-running
 * commands (`loops run`, `loops watch`); call it first thing. Returns false
 * (and does nothing) when FFI is not granted or the platform is not Linux or
 * macOS. The timer it uses does not keep the process alive.
 */
export function guardInspectorSignal(
  options: InspectorGuardOptions = {},
): boolean {
  const signal = SIGUSR1[Deno.build.os];
  const libc = LIBC[Deno.build.os];
  if (signal === undefined || libc === undefined) return false;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return false;
  }
  const lib = Deno.dlopen(libc, {
    sigaction: { parameters: ["i32", "pointer", "buffer"], result: "i32" },
    signal: { parameters: ["i32", "pointer"], result: "pointer" },
  });
  // Room for any libc's struct sigaction; the handler is its first field.
  const old = new BigUint64Array(64);
  const ignore = Deno.UnsafePointer.create(1n);
  const started = performance.now();
  const { intervalMs = 5, giveUpMs = 10_000, onGuarded } = options;
  const timer = setInterval(() => {
    let done = performance.now() - started > giveUpMs;
    if (lib.symbols.sigaction(signal, null, old) === 0 && old[0]! > 1n) {
      // A handler (not SIG_DFL 0, not SIG_IGN 1): Deno's. Replace it.
      lib.symbols.signal(signal, ignore);
      done = true;
      onGuarded?.();
    }
    if (done) {
      clearInterval(timer);
      lib.close();
    }
  }, intervalMs);
  Deno.unrefTimer(timer);
  return true;
}
