// Two hosts sharing one Redis server (issue 11), as root: each "host" is a
// network namespace (`ip netns`) joined to the root namespace by a veth pair,
// holding a pid, UTS and mount namespace (`unshare`) with its own hostname
// and LOOPS_HOST_ID. The server listens on the root side of both veth pairs;
// the real CLI runs a loop on each host, and each host's own commands
// (`nsenter` into its namespaces) see the other's loop as remote and refuse
// to stop it.
import assert from "node:assert/strict";
import { ignoreOutsideCI, skipReason } from "../_helpers/core.ts";
import { lines } from "../_helpers/lines.ts";
import { startRedis } from "../_helpers/redis.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const skip = skipReason({
  root: true,
  tools: ["ip", "unshare", "nsenter", "redis-server"],
});

/** Unique per test process, so that parallel runs never share a name. */
const TAG = `${Deno.pid}`;

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

function decode(output: Deno.CommandOutput): Output {
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

/** Runs a system command (`ip ...`); throws with its stderr when it fails. */
async function system(command: string, args: string[]): Promise<void> {
  const out = decode(
    await new Deno.Command(command, { args, stdin: "null" }).output(),
  );
  if (out.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited with ${out.code}: ${out.stderr}`,
    );
  }
}

/** One host's network: a netns and a veth pair on its own /30. */
interface HostNet {
  netns: string;
  /** The root-namespace end of the veth pair (its peer is inside). */
  veth: string;
  /** The root end's address: where the host reaches the server. */
  serverAddress: string;
}

/**
 * Addresses of this run's two /30 subnets in 10.213.0.0/16, derived from
 * the pid (8192 blocks of 8): the root end is .1 of its /30, the host .2.
 */
function subnet(index: 0 | 1): { root: string; inside: string } {
  const base = (Deno.pid % 8192) * 8 + index * 4;
  const at = (n: number) => `10.213.${(base + n) >> 8}.${(base + n) & 255}`;
  return { root: at(1), inside: at(2) };
}

async function createNet(
  letter: "a" | "b",
  created: HostNet[],
): Promise<HostNet> {
  const net = {
    netns: `loops-hosts-${TAG}-${letter}`,
    veth: `lh${TAG}${letter}0`,
    serverAddress: subnet(letter === "a" ? 0 : 1).root,
  };
  const peer = `lh${TAG}${letter}1`;
  const { inside } = subnet(letter === "a" ? 0 : 1);
  await system("ip", ["netns", "add", net.netns]);
  created.push(net);
  await system("ip", [
    "link",
    "add",
    net.veth,
    "type",
    "veth",
    "peer",
    "name",
    peer,
  ]);
  await system("ip", ["link", "set", peer, "netns", net.netns]);
  await system("ip", [
    "addr",
    "add",
    `${net.serverAddress}/30`,
    "dev",
    net.veth,
  ]);
  await system("ip", ["link", "set", net.veth, "up"]);
  const inNs = ["-n", net.netns];
  await system("ip", [...inNs, "addr", "add", `${inside}/30`, "dev", peer]);
  await system("ip", [...inNs, "link", "set", peer, "up"]);
  await system("ip", [...inNs, "link", "set", "lo", "up"]);
  return net;
}

/** Deletes what `createNet` made; never throws (runs in `finally`). */
async function deleteNet(net: HostNet): Promise<string[]> {
  const problems: string[] = [];
  try {
    await system("ip", ["netns", "del", net.netns]);
  } catch (error) {
    problems.push(String(error));
  }
  // Gone with the namespace's end; deleted here should the netns survive
  // (so it fails when all went well).
  await new Deno.Command("ip", {
    args: ["link", "del", net.veth],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return problems;
}

/** A host with a loop running on it. */
interface Host {
  name: string;
  loopId: string;
  /** LOOPS_HOST_ID, LOOPS_REDIS_URL (over its veth), LOOPS_NAMESPACE. */
  env: Record<string, string>;
  /** `ip netns exec ... unshare ... sh -c '... loops run ...'`. */
  child: Deno.ChildProcess;
  /** Its stderr (ip's, unshare's, sh's), read to the end. */
  stderr: Promise<string>;
  /** The file its `loops run` writes its stderr to. */
  log: string;
  /**
   * The exit code of its `loops run`, once that has ended (`undefined`
   * when the host was killed first). The host lives on after it: a pid
   * namespace dies with its pid 1, killing every process in it, the
   * `loops stop` that ended the loop included.
   */
  loopEnded: Promise<number | undefined>;
  /** The root-namespace pid of the host's pid 1, to `nsenter` its namespaces. */
  init: number;
}

async function startHost(
  name: string,
  net: HostNet,
  options: { port: number; namespace: string; workspace: string },
): Promise<Host> {
  const env = {
    NO_COLOR: "1",
    LOOPS_HOST_ID: name,
    LOOPS_REDIS_URL: `redis://${net.serverAddress}:${options.port}`,
    LOOPS_NAMESPACE: options.namespace,
  };
  const loopId = `loop-${name}-${TAG}`;
  const log = `${options.workspace}/${name}.stderr`;
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      net.netns,
      "unshare",
      "--pid",
      "--fork",
      "--kill-child",
      "--mount-proc",
      "--uts",
      "sh",
      "-c",
      `hostname "$HOST" || exit 1
"$DENO" run -A --quiet "$CLI" -w "$WS" run --id "$ID" -- sleep 60 2>"$LOG"
echo "loops run exited with $?"
exec sleep 600`,
    ],
    env: {
      ...env,
      HOST: name,
      DENO: Deno.execPath(),
      CLI,
      WS: options.workspace,
      ID: loopId,
      LOG: log,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const loopEnded = (async () => {
    for await (const line of lines(child.stdout)) {
      const ended = /^loops run exited with (\d+)$/.exec(line);
      if (ended) return Number(ended[1]);
    }
    return undefined;
  })();
  // `ip netns exec` execs unshare, whose forked child is the host's pid 1.
  // Found with pgrep: reading /proc would need -A, which `deno task test`
  // does not grant.
  const deadline = Date.now() + 5_000;
  let init: number | undefined;
  while (init === undefined) {
    const found = decode(
      await new Deno.Command("pgrep", {
        args: ["-P", `${child.pid}`],
        stdin: "null",
      }).output(),
    );
    if (found.code === 0) init = Number(found.stdout.trim().split("\n")[0]);
    else if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(`Cannot start host ${name}: ${await stderr}`);
    } else await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { name, loopId, env, child, stderr, log, loopEnded, init };
}

/** Ends a host: its whole pid namespace (never throws; for `finally`). */
async function killHost(host: Host): Promise<void> {
  // unshare --kill-child takes the host's pid 1, and so the whole pid
  // namespace, with it.
  if (await within(host.child.status, 0) === undefined) {
    host.child.kill("SIGKILL");
  }
  await host.child.status;
  await host.stderr;
  await host.loopEnded;
}

/** What became of a host's `loops run`, for a failure message. */
async function state(host: Host): Promise<string> {
  const code = await within(host.loopEnded, 0);
  let log = "";
  try {
    log = await Deno.readTextFile(host.log);
  } catch (error) {
    // Not written yet: `loops run` has not started.
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const ran = code === undefined ? "runs" : `exited with ${code}`;
  return `${host.name}'s loops run ${ran}, stderr ${JSON.stringify(log)}`;
}

/** Runs the CLI on `host`: in its network, pid, UTS and mount namespaces. */
async function onHost(
  host: Host,
  workspace: string,
  args: string[],
): Promise<Output> {
  return decode(
    await new Deno.Command("nsenter", {
      args: [
        "--target",
        `${host.init}`,
        "--net",
        "--pid",
        "--uts",
        "--mount",
        Deno.execPath(),
        "run",
        "-A",
        "--quiet",
        CLI,
        "-w",
        workspace,
        ...args,
      ],
      env: host.env,
      stdin: "null",
    }).output(),
  );
}

interface Listed {
  id: string;
  pid: number;
  status: string;
  "host_id"?: string;
  hostname?: string;
  "pid_ns"?: number;
}

function listed(out: Output): Listed[] {
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout);
}

/** What `promise` settles to within `ms`, else `undefined`. */
async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The pids whose command line mentions this run's loop ids. */
async function leftover(): Promise<string> {
  const out = decode(
    await new Deno.Command("pgrep", {
      args: ["-af", `loop-host-[ab]-${TAG}`],
      stdin: "null",
    }).output(),
  );
  return out.stdout.trim();
}

Deno.test({
  name:
    `two hosts on one Redis over veth: each sees the other's loop as remote and cannot stop it${
      skip ? ` (${skip})` : ""
    }`,
  ignore: ignoreOutsideCI(skip),
  async fn() {
    const nets: HostNet[] = [];
    const hosts: Host[] = [];
    const workspace = await Deno.makeTempDir({ prefix: "loops_hosts_" });
    const problems: string[] = [];
    const pending: Promise<unknown>[] = [];
    try {
      const netA = await createNet("a", nets);
      const netB = await createNet("b", nets);
      await using server = await startRedis({
        bind: [netA.serverAddress, netB.serverAddress],
        // Protected mode answers only loopback clients when there is no
        // password; these addresses exist only on this machine's veths.
        args: ["--protected-mode", "no"],
      });
      try {
        const options = {
          port: server.port,
          namespace: `hosts-${TAG}`,
          workspace,
        };
        const a = await startHost("host-a", netA, options);
        hosts.push(a);
        const b = await startHost("host-b", netB, options);
        hosts.push(b);

        // Isolation is real: the root namespace's loopback is not reachable
        // from a host, so its loop reaches the server over the veth. (Started
        // now: the engine gives up only after its 5 s connect timeout.)
        const loopbackUrl = `redis://127.0.0.1:${server.port}`;
        const isolated = onHost(a, workspace, [
          "--redis",
          loopbackUrl,
          "list",
          "--json",
        ]);
        pending.push(isolated);

        // Both loops are listed (from host A) once both have claimed.
        const deadline = Date.now() + 15_000;
        let fromA: Listed[] = [];
        for (;;) {
          fromA = listed(await onHost(a, workspace, ["list", "--json"]));
          const ids = new Set(fromA.map((loop) => loop.id));
          if (ids.has(a.loopId) && ids.has(b.loopId)) break;
          if (Date.now() > deadline) {
            assert.fail(
              `Not both loops listed: ${JSON.stringify(fromA)}; ${await state(
                a,
              )}; ${await state(b)}`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        // Independent calls run together: each CLI start costs 1-2 s here.
        const [fromBOut, table] = await Promise.all([
          onHost(b, workspace, ["list", "--json"]),
          onHost(a, workspace, ["list"]),
        ]);
        const fromB = listed(fromBOut);
        const view = (loops: Listed[]) =>
          Object.fromEntries(
            loops.map((loop) => [
              loop.id,
              [loop.status, loop.host_id, loop.hostname],
            ]),
          );
        assert.deepEqual(view(fromA), {
          [a.loopId]: ["running", "host-a", "host-a"],
          [b.loopId]: ["remote", "host-b", "host-b"],
        });
        assert.deepEqual(view(fromB), {
          [a.loopId]: ["remote", "host-a", "host-a"],
          [b.loopId]: ["running", "host-b", "host-b"],
        });
        // Each loop runs in a pid namespace of its own.
        const [nsA, nsB] = [a.loopId, b.loopId].map((id) =>
          fromA.find((loop) => loop.id === id)?.pid_ns
        );
        assert.equal(typeof nsA, "number");
        assert.notEqual(nsA, nsB);

        // Host A's table has a HOST column naming both hosts.
        assert.equal(table.code, 0, table.stderr);
        const lines = table.stdout.trimEnd().split("\n");
        assert.match(lines[0]!, /^ID +STATUS +HOST +PID +AGE /);
        assert.deepEqual(
          lines.slice(1).map((line) => line.split(/ +/).slice(0, 3)).sort(),
          [[a.loopId, "running", "host-a"], [b.loopId, "remote", "host-b"]],
        );

        const unreachable = await isolated;
        assert.equal(unreachable.code, 5, unreachable.stderr);
        assert.match(
          unreachable.stderr,
          new RegExp(
            `^loops: Cannot use Redis at "redis://127\\.0\\.0\\.1:${server.port}" as it could not be reached \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${server.port}\\)`,
          ),
        );

        // Host A may not stop host B's loop: refused, naming host B.
        const refused = await onHost(a, workspace, ["stop", b.loopId]);
        assert.equal(refused.code, 9, refused.stderr);
        assert.equal(refused.stdout, "");
        assert.match(
          refused.stderr,
          new RegExp(
            `^loops: Refusing to signal loop "${b.loopId}" as it runs on another host, "host-b" \\(its pid means nothing here\\): stop it there\n`,
          ),
        );
        // B's loop is untouched: its `loops run` is still there, and host B
        // still finds its process running.
        assert.equal(await within(b.loopEnded, 0), undefined);
        const stillB = listed(await onHost(b, workspace, ["list", "--json"]));
        assert.deepEqual(view(stillB)[b.loopId], [
          "running",
          "host-b",
          "host-b",
        ]);

        // Host A stops its own loop: it ends and is listed no more.
        const stopped = await onHost(a, workspace, ["stop", a.loopId]);
        assert.equal(stopped.code, 0, stopped.stderr);
        assert.match(
          stopped.stdout,
          new RegExp(
            `^Stopped loop "${a.loopId}" \\(pid \\d+\\) with SIGTERM\n`,
          ),
        );
        // `loops run` exits with its command's code: 128 + SIGTERM.
        assert.equal(await within(a.loopEnded, 5_000), 143, await state(a));
        const afterB = listed(await onHost(b, workspace, ["list", "--json"]));
        assert.deepEqual(view(afterB), {
          [b.loopId]: ["running", "host-b", "host-b"],
        });
      } finally {
        // Before the server stops, so that no loop outlives it.
        for (const host of hosts) await killHost(host);
        // A call left running by a failed assertion (an error already told).
        await Promise.allSettled(pending);
      }
    } finally {
      for (const net of nets) problems.push(...await deleteNet(net));
      await Deno.remove(workspace, { recursive: true });
    }
    assert.deepEqual(problems, []);
    // Nothing of this run is left: a killed pid namespace dies at once, but
    // give the kernel a moment to reap it.
    let left = await leftover();
    for (let i = 0; left !== "" && i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await leftover();
    }
    assert.equal(left, "", "processes of this test are still running");
  },
});
