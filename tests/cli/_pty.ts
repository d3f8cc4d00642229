// A command on a real pseudo-terminal, for the tests of what `loops` does on
// a terminal (watch's redraws, Ctrl+C): Python's `pty` module runs it as the
// session leader of a new terminal of the given size and relays bytes both
// ways. Not a test file itself.
import { CLI } from "../_helpers/cli.ts";

// The bridge: argv = columns, rows, command...; the terminal's output on
// stdout, stdin to the terminal; at the end, `EXIT <code>` on stderr (128+N
// for signal N).
const BRIDGE = `
import fcntl, os, pty, select, struct, sys, termios
cols, rows, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.execvp(cmd[0], cmd)
inputs = [fd, 0]
while True:
    ready, _, _ = select.select(inputs, [], [])
    if 0 in ready:
        data = os.read(0, 1024)
        if data:
            os.write(fd, data)
        else:
            inputs.remove(0)
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            break
        os.write(1, data)
_, status = os.waitpid(pid, 0)
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
sys.stderr.write("EXIT %d\\n" % code)
`;

/** Whether `python3` with its `pty` module can run here. */
export async function hasPty(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("python3", {
      args: ["-c", "import pty, termios, fcntl"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** `loops` on a terminal: what it has drawn so far, keys to send, its end. */
export class Terminal implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #text = "";
  #changed: () => void = () => {};
  #done: Promise<void>;
  #stderr: Promise<string>;
  #ended = false;

  /**
   * Starts `loops <args>` (`deno run -A cli.ts`) on a terminal of
   * `columns` x 24, with `env` added to this process's environment and
   * `unset` removed from it.
   */
  constructor(
    args: string[],
    options: {
      columns?: number;
      env?: Record<string, string>;
      /** Variables to remove from the environment, e.g. `NO_COLOR`. */
      unset?: string[];
    } = {},
  ) {
    const child = new Deno.Command("python3", {
      args: [
        "-c",
        BRIDGE,
        String(options.columns ?? 100),
        "24",
        "env",
        ...(options.unset ?? []).flatMap((name) => ["-u", name]),
        Deno.execPath(),
        "run",
        "-A",
        CLI,
        ...args,
      ],
      env: options.env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#stderr = new Response(child.stderr).text();
    this.#done = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stdout) {
        this.#text += decoder.decode(chunk, { stream: true });
        this.#changed();
      }
      this.#ended = true;
      this.#changed();
    })();
  }

  /** Everything the program wrote to the terminal so far. */
  get text(): string {
    return this.#text;
  }

  /**
   * Resolves once `check(text)` holds; rejects when the program ended
   * without it (or after `guardMs`, so that a hung program cannot hang the
   * suite: a safety net, not a timing assertion).
   */
  async until(
    check: (text: string) => boolean,
    what: string,
    guardMs = 30_000,
  ): Promise<void> {
    let guard: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const test = () => {
          if (check(this.#text)) resolve();
          else if (this.#ended) {
            reject(
              new Error(`Ended before ${what}: ${JSON.stringify(this.#text)}`),
            );
          }
        };
        this.#changed = test;
        guard = setTimeout(
          () =>
            reject(new Error(`No ${what} in ${JSON.stringify(this.#text)}`)),
          guardMs,
        );
        test();
      });
    } finally {
      clearTimeout(guard);
      this.#changed = () => {};
    }
  }

  /** Types `keys` (e.g. "\x03", Ctrl+C). */
  async type(keys: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(keys));
  }

  /** Waits for the end: the program's exit code and its stderr. */
  async end(): Promise<{ code: number; stderr: string }> {
    await this.#writer.close().catch(() => {});
    await this.#done;
    const stderr = await this.#stderr;
    await this.#child.status;
    const code = Number(stderr.match(/EXIT (\d+)\n$/)?.[1] ?? NaN);
    return { code, stderr: stderr.replace(/EXIT \d+\n$/, "") };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#ended) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await this.#writer.close().catch(() => {});
    await this.#done.catch(() => {});
    await this.#stderr.catch(() => "");
    await this.#child.status;
  }
}
