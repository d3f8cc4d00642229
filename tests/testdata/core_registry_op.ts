// Runs one registry operation in a child process and prints its outcome as
// one JSON line: `{"ok": <value>}` or `{"error": {name, message, cause}}`.
//
// Usage: deno run <flags> core_registry_op.ts <workspace> <env> <op> [args...]
//   <env>  `real` (defaultRegistryEnv) or `alive` (every pid alive, no /proc)
//   <op>   list | get <id> | register <id> <pid> | deregister <id>
//          | probe <pid> | kill0 <pid> | identity <pid>
//          | crash-at <step> register <id> <pid>   (SIGKILLs itself at step)
//          | crash-at <step> deregister <id>
//          | claim <id>   (prints the claim, then waits for a signal)
//          | claim-exit <id>   (claims, then exits without releasing)
//          | claim-release-term <id>   (claims, releases, SIGTERMs itself)
import {
  createLoopEntry,
  defaultRegistryEnv,
  LoopRegistry,
  probeProcess,
  readProcessIdentity,
  type RegistryEnv,
} from "../../mod.ts";
import { WRITE_HOOK, type WriteHook } from "../../src/_store.ts";

const [workspace, envMode, op, ...args] = Deno.args;
if (workspace === undefined || op === undefined) {
  throw new TypeError("Usage: core_registry_op.ts <workspace> <env> <op>");
}
const env: RegistryEnv = envMode === "alive"
  ? {
    ...defaultRegistryEnv,
    probe: () => "alive",
    identify: () => undefined,
    isDirectory: () => true,
  }
  : defaultRegistryEnv;

function print(value: unknown): void {
  Deno.stdout.writeSync(
    new TextEncoder().encode(JSON.stringify(value) + "\n"),
  );
}

function registry(hook?: WriteHook): LoopRegistry {
  return new LoopRegistry(workspace!, {
    env,
    lockTimeoutMs: 10_000,
    ...(hook ? { [WRITE_HOOK]: hook } : {}),
  });
}

function entry(id: string, pid: string | undefined) {
  return createLoopEntry("child", {
    id,
    pid: pid === undefined ? Deno.pid : Number(pid),
    workspace,
  });
}

async function run(): Promise<unknown> {
  switch (op) {
    case "list":
      return await registry().list();
    case "get":
      return await registry().get(args[0]!) ?? null;
    case "register":
      return await registry().register(entry(args[0]!, args[1]));
    case "deregister":
      await registry().deregister(args[0]!);
      return null;
    case "probe":
      return probeProcess(Number(args[0]));
    case "kill0":
      // The raw outcome of the signal probe, to prove a test's setup.
      try {
        Deno.kill(Number(args[0]), 0 as unknown as Deno.Signal);
        return "ok";
      } catch (error) {
        return (error as Error).constructor.name;
      }
    case "identity":
      return readProcessIdentity(Number(args[0])) ?? null;
    case "crash-at": {
      const [step, what, id, pid] = args;
      const crashing = registry((at) => {
        if (at === step) Deno.kill(Deno.pid, "SIGKILL");
      });
      if (what === "register") await crashing.register(entry(id!, pid));
      else await crashing.deregister(id!);
      return "not crashed";
    }
    case "claim": {
      const claim = await registry().claim("claimed", { id: args[0] });
      print({ ok: claim.id });
      // Keep running until a signal ends the process.
      await new Promise((resolve) => setTimeout(resolve, 60_000));
      return "timed out";
    }
    case "claim-exit": {
      // Claims and returns without releasing: the unload handler must.
      const claim = await registry().claim("claimed", { id: args[0] });
      return claim.id;
    }
    case "claim-release-term": {
      // Claims, releases, then sends itself SIGTERM: with the handlers
      // removed, the default action (death by signal) must follow.
      const claim = await registry().claim("claimed", { id: args[0] });
      await claim.release();
      Deno.kill(Deno.pid, "SIGTERM");
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      return "survived";
    }
    default:
      throw new TypeError(`Unknown op ${JSON.stringify(op)}`);
  }
}

try {
  print({ ok: await run() });
} catch (error) {
  const e = error as Error;
  const cause = e.cause as Error | undefined;
  print({
    error: {
      name: e.name,
      className: e.constructor.name,
      message: e.message,
      cause: cause && { name: cause.name, className: cause.constructor.name },
    },
  });
}
