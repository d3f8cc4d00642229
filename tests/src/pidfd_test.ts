// The pidfds held on verified processes (src/_pidfd.ts), with real
// processes. They exist only under `--allow-ffi` (and /proc only under -A),
// which this test runner lacks: each test drives a prober child run with
// `-A` (tests/fixtures/pidfd_probe.ts), one command a line.
import assert from "node:assert/strict";
import {
  ignoreOutsideCI,
  lineReader,
  rootSkipReason,
  tempWorkspace,
} from "../_helpers/core.ts";

const PROBER = new URL("../fixtures/pidfd_probe.ts", import.meta.url).pathname;
/** src/_pidfd.ts CAPACITY and EVICT_IDLE_MS. */
const CAPACITY = 256;
const EVICT_IDLE_MS = 5000;
const O_CLOEXEC = 0o2000000;

interface Identity {
  pid: number;
  startTime: number;
  bootId: string;
}

interface Verdict {
  liveness: string;
  reason: string;
}

/** A prober child: `send` one command, get its `ok` (or a thrown error). */
class Prober implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #read: () => Promise<string | undefined>;
  #stderr: Promise<string>;

  /**
   * @param options `wrapper`: a command the prober runs under (unshare,
   * setpriv); `env`: its environment; `permissions`: its flags (`-A`).
   */
  constructor(
    options: {
      wrapper?: string[];
      env?: Record<string, string>;
      permissions?: string[];
    } = {},
  ) {
    const { wrapper = [], env, permissions = ["-A"] } = options;
    const [command, ...args] = [
      ...wrapper,
      Deno.execPath(),
      "run",
      ...permissions,
      "--quiet",
      "--no-config",
      PROBER,
    ];
    this.#child = new Deno.Command(command!, {
      args,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#read = lineReader(this.#child.stdout);
    this.#stderr = new Response(this.#child.stderr).text();
  }

  // deno-lint-ignore no-explicit-any
  async send(line: string): Promise<any> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
    const reply = await this.#read();
    if (reply === undefined) {
      throw new Error(`The prober ended: ${await this.#stderr}`);
    }
    const parsed = JSON.parse(reply);
    if (parsed.error !== undefined) {
      throw new Error(`${line}: ${parsed.error}`);
    }
    return parsed.ok;
  }

  probe(who: Identity, identity: Identity = who): Promise<Verdict> {
    return this.send(
      `probe ${who.pid} ${identity.startTime} ${identity.bootId}`,
    );
  }

  /** The pids held, and the pidfds open beside those and Deno's own. */
  async held(): Promise<{ pids: number[]; others: number }> {
    const { pids, pidfds, children } = await this.send("held");
    return { pids, others: pidfds - children - pids.length };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#writer.close();
    while (await this.#read() !== undefined) { /* drain */ }
    await this.#stderr;
    await this.#child.status;
  }
}

const VERIFIED = { liveness: "alive", reason: "verified" };
/** A fresh pid namespace with its own /proc (for ns_last_pid). */
const UNSHARE_WITH_PROC = [
  "unshare",
  "--pid",
  "--fork",
  "--kill-child",
  "--mount-proc",
];
const KILLED_BY_TERM = { code: 143, signal: "SIGTERM" };

/** Probes `who` until a pidfd is held on it (the second verification). */
async function hold(prober: Prober, who: Identity): Promise<void> {
  assert.deepEqual(await prober.probe(who), VERIFIED);
  assert.ok(!(await prober.held()).pids.includes(who.pid), "not on 1st");
  assert.deepEqual(await prober.probe(who), VERIFIED);
  assert.ok((await prober.held()).pids.includes(who.pid), "held on 2nd");
}

Deno.test("a held pidfd gives the verdicts of the /proc read for a live process", async () => {
  await using prober = new Prober();
  const live: Identity = await prober.send("spawn");
  const { others } = await prober.held();
  await hold(prober, live);
  assert.deepEqual(await prober.held(), { pids: [live.pid], others });
  const flags = parseInt(await prober.send(`flags ${live.pid}`), 8);
  assert.equal(flags & O_CLOEXEC, O_CLOEXEC, "close-on-exec");
  // Every kind of recorded identity, answered from the held descriptor,
  // then (after closePidfds) by the plain /proc read: the same verdicts.
  const variants = [
    `${live.startTime} ${live.bootId}`,
    `${live.startTime + 1} ${live.bootId}`,
    `${live.startTime} 00000000-0000-0000-0000-000000000000`,
    `- ${new Date().toISOString()}`,
    `- 2020-01-01T00:00:00.000Z`,
    `- not-a-date`,
    "",
  ];
  const ask = async () => {
    const out: Verdict[] = [];
    for (const variant of variants) {
      out.push(await prober.send(`probe ${live.pid} ${variant}`.trim()));
    }
    return out;
  };
  const fromHeld = await ask();
  assert.deepEqual((await prober.held()).pids, [live.pid]);
  await prober.send("close");
  assert.deepEqual(await prober.held(), { pids: [], others });
  const fromProc = [];
  for (const variant of variants) {
    fromProc.push(await prober.send(`probe ${live.pid} ${variant}`.trim()));
    await prober.send("close"); // each probe a first sighting: plain path
  }
  assert.deepEqual(fromHeld, fromProc);
  assert.deepEqual(fromHeld, [
    VERIFIED,
    { liveness: "dead", reason: "pid-reused" },
    { liveness: "dead", reason: "pid-reused" },
    { liveness: "alive", reason: "alive" },
    { liveness: "unknown", reason: "pid-reused" },
    { liveness: "alive", reason: "alive" },
    { liveness: "alive", reason: "alive" },
  ]);
});

Deno.test("a held process that exits, or becomes a zombie, reads dead", async (t) => {
  await using prober = new Prober();
  await t.step(
    "exited and reaped: dead (exited), descriptor closed",
    async () => {
      const live: Identity = await prober.send("spawn");
      const { others } = await prober.held();
      await hold(prober, live);
      await prober.send(`kill ${live.pid}`);
      assert.deepEqual(await prober.probe(live), {
        liveness: "dead",
        reason: "exited",
      });
      assert.deepEqual(await prober.held(), { pids: [], others });
    },
  );
  await t.step(
    "exited, not reaped: dead (zombie), descriptor closed",
    async () => {
      const live: Identity = await prober.send("zombie");
      const { others } = await prober.held();
      await hold(prober, live);
      assert.equal(await prober.send(`kill ${live.pid}`), "Z");
      assert.deepEqual(await prober.probe(live), {
        liveness: "dead",
        reason: "zombie",
      });
      assert.deepEqual(await prober.held(), { pids: [], others });
      // Still a zombie: not held again.
      await prober.probe(live);
      assert.deepEqual((await prober.held()).pids, []);
    },
  );
});

Deno.test({
  name: "a held pid that is reused reads as the old process gone",
  ignore: ignoreOutsideCI(rootSkipReason("unshare")),
  async fn() {
    // A fresh pid namespace with its own /proc, where ns_last_pid gives the
    // dead process's pid to the next one.
    await using prober = new Prober({ wrapper: UNSHARE_WITH_PROC });
    const old: Identity = await prober.send("spawn");
    await hold(prober, old);
    await prober.send(`kill ${old.pid}`);
    // A later clock tick than the old start time.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const reused: Identity = await prober.send(`reuse ${old.pid}`);
    assert.equal(reused.pid, old.pid);
    assert.notEqual(reused.startTime, old.startTime);
    // The old descriptor says exited; /proc then finds another process.
    assert.deepEqual(await prober.probe(old), {
      liveness: "dead",
      reason: "pid-reused",
    });
    assert.deepEqual((await prober.held()).pids, []);
    // The new process is judged (and then held) on its own identity.
    await hold(prober, reused);
    assert.deepEqual(await prober.probe(reused, old), {
      liveness: "dead",
      reason: "pid-reused",
    });
    assert.deepEqual(await prober.probe(reused), VERIFIED);
  },
});

Deno.test({
  name: "no pidfd is held where /proc belongs to another pid namespace",
  ignore: ignoreOutsideCI(rootSkipReason("unshare")),
  async fn() {
    // A new pid namespace that still sees the host's /proc: the prober is
    // pid 1 there, /proc/1 is the host's init. pidfd_open(1) names the
    // prober itself: the fdinfo check must refuse to hold it.
    await using prober = new Prober({
      wrapper: ["unshare", "--pid", "--fork"],
    });
    const { others } = await prober.held();
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await prober.send("probe 1"), {
        liveness: "alive",
        reason: "alive",
      });
    }
    assert.deepEqual(await prober.held(), { pids: [], others });
  },
});

Deno.test({
  name: "another user's held process stays alive, then reads dead",
  ignore: ignoreOutsideCI(rootSkipReason("setpriv")),
  async fn() {
    await using ws = await tempWorkspace();
    // The prober runs as uid 65533 (not root: root may signal anything),
    // the sleeper as 65534.
    await Deno.chmod(ws.path, 0o777);
    const denoDir = `${ws.path}/deno_dir`;
    await Deno.mkdir(denoDir, { mode: 0o777 });
    await Deno.chmod(denoDir, 0o777);
    const other = new Deno.Command("setpriv", {
      args: ["--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "60"],
      stdin: "null",
    }).spawn();
    try {
      await using prober = new Prober({
        wrapper: [
          "setpriv",
          "--reuid=65533",
          "--regid=65533",
          "--clear-groups",
        ],
        env: { DENO_DIR: denoDir },
      });
      assert.equal(await prober.send(`kill0 ${other.pid}`), "PermissionDenied");
      const who: Identity = await prober.send(`identity ${other.pid}`);
      await hold(prober, who);
      assert.deepEqual(await prober.probe(who), VERIFIED);
      assert.deepEqual(await prober.send(`probe ${other.pid}`), {
        liveness: "alive",
        reason: "alive",
      });
      other.kill("SIGKILL");
      await other.status;
      assert.deepEqual(await prober.probe(who), {
        liveness: "dead",
        reason: "exited",
      });
      assert.deepEqual((await prober.held()).pids, []);
    } finally {
      try {
        other.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await other.status;
    }
  },
});

Deno.test("more processes than the cap: right verdicts, bounded descriptors", async () => {
  await using prober = new Prober();
  const count = CAPACITY + 20;
  const all: Identity[] = await prober.send(`spawn ${count}`);
  const { others } = await prober.held();
  const probeAll = (who: Identity[]): Promise<Verdict[]> =>
    prober.send(
      `probemany ${
        who.map((p) => `${p.pid}:${p.startTime}:${p.bootId}`).join(" ")
      }`,
    );
  const check = async () => {
    const held = await prober.held();
    assert.ok(held.pids.length <= CAPACITY, `${held.pids.length} held`);
    assert.equal(held.others, others, "one descriptor per held pid");
    return held.pids;
  };
  for (let pass = 0; pass < 3; pass++) {
    assert.ok((await probeAll(all)).every((v) => v.reason === "verified"));
  }
  // Full, all recently probed: the first CAPACITY are held, no eviction.
  const held = await check();
  assert.deepEqual(
    [...held].sort((a, b) => a - b),
    all.slice(0, CAPACITY).map((p) => p.pid).sort((a, b) => a - b),
  );
  // Some held and some not held exit: all read dead, their fds closed.
  const gone = [...all.slice(0, 10), ...all.slice(CAPACITY, CAPACITY + 10)];
  for (const p of gone) await prober.send(`kill ${p.pid}`);
  const left = all.filter((p) => !gone.includes(p));
  assert.ok(
    (await probeAll(gone)).every((v) =>
      v.liveness === "dead" && v.reason === "exited"
    ),
  );
  assert.equal((await check()).length, CAPACITY - 10);
  // Room again: the last ten not held get held; the rest stay right.
  for (let pass = 0; pass < 2; pass++) {
    assert.ok((await probeAll(left)).every((v) => v.reason === "verified"));
  }
  assert.equal((await check()).length, CAPACITY);
  // Idle entries may be evicted (descriptor closed) for a new process.
  const idle = left.slice(0, CAPACITY - 10 - 1);
  await new Promise((resolve) => setTimeout(resolve, EVICT_IDLE_MS + 200));
  const fresh: Identity[] = await prober.send("spawn 5");
  for (let pass = 0; pass < 2; pass++) {
    assert.ok((await probeAll(fresh)).every((v) => v.reason === "verified"));
  }
  const after = await check();
  assert.equal(after.length, CAPACITY);
  for (const p of fresh) assert.ok(after.includes(p.pid), `${p.pid} held`);
  assert.equal(idle.filter((p) => !after.includes(p.pid)).length, 5);
  assert.ok((await probeAll(left)).every((v) => v.reason === "verified"));
  await prober.send("close");
  assert.deepEqual(await prober.held(), { pids: [], others });
});

/** `signalProcess` on `who`, with its start time or another one. */
function signal(
  prober: Prober,
  who: Identity,
  name = "SIGTERM",
  startTime = who.startTime,
): Promise<string> {
  return prober.send(`signal ${who.pid} ${startTime} ${name}`);
}

Deno.test("signalProcess() signals the verified process through a pidfd", async (t) => {
  await using prober = new Prober();
  const { others } = await prober.held();
  await t.step("opened for the signal, then closed", async () => {
    const live: Identity = await prober.send("spawn");
    assert.equal(await signal(prober, live), "sent");
    assert.deepEqual(await prober.send(`status ${live.pid} 5000`), {
      ...KILLED_BY_TERM,
    });
    assert.deepEqual(await prober.held(), { pids: [], others });
  });
  await t.step("through the descriptor held on it", async () => {
    const live: Identity = await prober.send("spawn");
    await hold(prober, live);
    assert.deepEqual((await prober.held()).pids, [live.pid]);
    assert.equal(await signal(prober, live, "SIGKILL"), "sent");
    assert.deepEqual(await prober.send(`status ${live.pid} 5000`), {
      code: 137,
      signal: "SIGKILL",
    });
    // Still held until probed: then dead, and the descriptor closed.
    assert.deepEqual(await prober.probe(live), {
      liveness: "dead",
      reason: "exited",
    });
    assert.deepEqual(await prober.held(), { pids: [], others });
  });
});

Deno.test("signalProcess() sends nothing to a process of another start time", async (t) => {
  await using prober = new Prober();
  const { others } = await prober.held();
  const live: Identity = await prober.send("spawn");
  for (const delta of [1, -1]) {
    await t.step(`start time ${delta > 0 ? "+" : ""}${delta}`, async () => {
      assert.equal(
        await signal(prober, live, "SIGTERM", live.startTime + delta),
        "gone",
      );
      assert.equal(await prober.send(`status ${live.pid} 300`), "running");
    });
  }
  await t.step("nor through a held descriptor of another one", async () => {
    await hold(prober, live);
    assert.equal(
      await signal(prober, live, "SIGKILL", live.startTime + 1),
      "gone",
    );
    assert.equal(await prober.send(`status ${live.pid} 300`), "running");
    assert.deepEqual(await prober.probe(live), VERIFIED);
  });
  await prober.send(`kill ${live.pid}`);
  await prober.send("close");
  assert.deepEqual(await prober.held(), { pids: [], others });
});

Deno.test("signalProcess() finds an exited process or a zombie gone", async (t) => {
  await using prober = new Prober();
  await t.step("exited and reaped", async () => {
    const live: Identity = await prober.send("spawn");
    await prober.send(`kill ${live.pid}`);
    assert.equal(await signal(prober, live), "gone");
  });
  await t.step("exited and reaped, once held", async () => {
    const live: Identity = await prober.send("spawn");
    await hold(prober, live);
    await prober.send(`kill ${live.pid}`);
    assert.equal(await signal(prober, live), "gone");
  });
  await t.step("a zombie", async () => {
    const live: Identity = await prober.send("zombie");
    assert.equal(await prober.send(`kill ${live.pid}`), "Z");
    assert.equal(await signal(prober, live), "gone");
  });
  await t.step("a pid no process has", async () => {
    const none = { pid: 4_194_304, startTime: 1, bootId: "-" };
    assert.equal(await signal(prober, none), "gone");
  });
});

Deno.test("signalProcess() is unavailable without --allow-ffi, and sends nothing", async (t) => {
  await using prober = new Prober();
  const live: Identity = await prober.send("spawn");
  for (
    const permissions of [
      ["--allow-read", "--allow-run"],
      ["-A", "--deny-ffi"],
    ]
  ) {
    await t.step(permissions.join(" "), async () => {
      await using narrow = new Prober({ permissions });
      assert.equal(await signal(narrow, live), "unavailable");
      assert.equal(await prober.send(`status ${live.pid} 300`), "running");
    });
  }
  await prober.send(`kill ${live.pid}`);
});

Deno.test({
  name: "signalProcess() refuses a reused pid's old identity",
  ignore: ignoreOutsideCI(rootSkipReason("unshare")),
  async fn() {
    await using prober = new Prober({ wrapper: UNSHARE_WITH_PROC });
    const old: Identity = await prober.send("spawn");
    await prober.send(`kill ${old.pid}`);
    // A later clock tick than the old start time.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const reused: Identity = await prober.send(`reuse ${old.pid}`);
    assert.equal(reused.pid, old.pid);
    assert.notEqual(reused.startTime, old.startTime);
    assert.equal(await signal(prober, old, "SIGKILL"), "gone");
    assert.equal(await prober.send(`status ${reused.pid} 300`), "running");
    assert.equal(await signal(prober, reused), "sent");
    assert.deepEqual(
      await prober.send(`status ${reused.pid} 5000`),
      KILLED_BY_TERM,
    );
  },
});
