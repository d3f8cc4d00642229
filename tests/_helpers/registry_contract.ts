// The contract of the `Registry` interface: every behaviour a caller may
// rely on, whatever engine stores the loops. Each engine's test file calls
// `registryContract(name, factory)` once; the factory hides how that engine
// makes a loop live or dead (a process, a lease).
import assert from "node:assert/strict";
import {
  createLoopEntry,
  type LoopEntry,
  LoopIdTakenError,
  type LoopInfo,
  LoopNotFoundError,
  type Registry,
} from "../../mod.ts";

/** One fresh, empty registry of the engine under test. */
export interface ContractSubject extends AsyncDisposable {
  /** The registry, empty. */
  registry: Registry;
  /** The workspace entries are registered for. */
  workspace: string;
  /** A pid of a loop the engine judges alive; a new one at each call. */
  livePid(): number;
  /** Makes the loop of `entry` dead as the engine judges it. */
  kill(entry: LoopEntry): Promise<void>;
}

/** Makes a fresh {@linkcode ContractSubject}. */
export type ContractFactory = () => Promise<ContractSubject>;

function byId(loops: LoopInfo[]): string[] {
  return loops.map((loop) => loop.id).sort();
}

/** Registers the contract's tests for one engine. */
export function registryContract(name: string, factory: ContractFactory) {
  const test = (
    title: string,
    fn: (
      s: ContractSubject,
      entry: (prompt: string) => LoopEntry,
    ) => Promise<void>,
  ) =>
    Deno.test(`${name} contract: ${title}`, async () => {
      await using subject = await factory();
      const entry = (prompt: string) =>
        createLoopEntry(prompt, {
          pid: subject.livePid(),
          workspace: subject.workspace,
        });
      await fn(subject, entry);
    });

  test("a new registry lists nothing and has a location", async (s) => {
    assert.deepEqual(await s.registry.list(), []);
    assert.equal(await s.registry.get("loop-1-abcd"), undefined);
    assert.equal(await s.registry.inspect("loop-1-abcd"), undefined);
    assert.equal(typeof s.registry.location, "string");
    assert.notEqual(s.registry.location, "");
  });

  test("register() then get(), list() and deregister()", async (s, entry) => {
    const a = entry("implement auth");
    const b = { ...entry("write docs"), worktreePath: s.workspace };
    assert.equal(await s.registry.register(a), a.id);
    assert.equal(await s.registry.register(b), b.id);
    const got = await s.registry.get(a.id);
    assert.equal(got?.status, "running");
    assert.equal(got?.prompt, "implement auth");
    assert.equal(got?.pid, a.pid);
    assert.equal(got?.started, a.started);
    assert.equal(got?.workspace, a.workspace);
    assert.equal((await s.registry.get(b.id))?.worktreePath, s.workspace);
    assert.deepEqual(byId(await s.registry.list()), [a.id, b.id].sort());
    await s.registry.deregister(a.id);
    assert.equal(await s.registry.get(a.id), undefined);
    assert.deepEqual(byId(await s.registry.list()), [b.id]);
  });

  test("deregister() of a missing id throws LoopNotFoundError", async (s) => {
    await assert.rejects(
      s.registry.deregister("loop-1-abcd"),
      (error: unknown) =>
        error instanceof LoopNotFoundError && error.id === "loop-1-abcd",
    );
  });

  test("register() refuses an id a live loop holds", async (s, entry) => {
    const first = entry("first");
    await s.registry.register(first);
    const second = { ...entry("second"), id: first.id };
    await assert.rejects(
      s.registry.register(second),
      (error: unknown) =>
        error instanceof LoopIdTakenError && error.id === first.id &&
        error instanceof Deno.errors.AlreadyExists,
    );
    assert.equal((await s.registry.get(first.id))?.prompt, "first");
  });

  test("register() takes over the id of a dead loop", async (s, entry) => {
    const first = entry("first");
    await s.registry.register(first);
    await s.kill(first);
    const second = { ...entry("second"), id: first.id };
    await s.registry.register(second);
    assert.equal((await s.registry.get(first.id))?.prompt, "second");
  });

  test("register() replaces the entry of the same pid", async (s, entry) => {
    const first = entry("first");
    await s.registry.register(first);
    const again = { ...entry("again"), pid: first.pid };
    await s.registry.register(again);
    assert.deepEqual(byId(await s.registry.list()), [again.id]);
  });

  test("register() refuses a bad id or pid with RangeError", async (s, e) => {
    await assert.rejects(
      s.registry.register({ ...e("x"), id: "" }),
      RangeError,
    );
    await assert.rejects(
      s.registry.register({ ...e("x"), pid: 0 }),
      RangeError,
    );
    await assert.rejects(
      s.registry.register({ ...e("x"), pid: -1 }),
      RangeError,
    );
    assert.deepEqual(await s.registry.list(), []);
  });

  test("deregisterPid() removes every loop of a pid", async (s, entry) => {
    const a = entry("a");
    await s.registry.register(a);
    assert.equal(await s.registry.deregisterPid(a.pid), true);
    assert.equal(await s.registry.deregisterPid(a.pid), false);
    assert.deepEqual(await s.registry.list(), []);
  });

  test(
    "dead loops are hidden, inspected as dead, and cleaned",
    async (s, e) => {
      const live = e("live");
      const dead = e("dead");
      await s.registry.register(live);
      await s.registry.register(dead);
      await s.kill(dead);
      assert.deepEqual(byId(await s.registry.list()), [live.id]);
      assert.equal(await s.registry.get(dead.id), undefined);
      const inspected = await s.registry.inspect(dead.id);
      if (inspected !== undefined) assert.equal(inspected.liveness, "dead");
      assert.equal((await s.registry.inspect(live.id))?.liveness, "alive");
      await s.registry.cleanStale();
      assert.equal(await s.registry.inspect(dead.id), undefined);
      assert.equal(await s.registry.cleanStale(), 0);
      assert.deepEqual(byId(await s.registry.list()), [live.id]);
    },
  );

  test("claim() registers; release() and disposal deregister", async (s) => {
    const claim = await s.registry.claim("claimed", {
      pid: s.livePid(),
      handleSignals: false,
    });
    assert.equal((await s.registry.get(claim.id))?.prompt, "claimed");
    assert.equal(claim.entry.prompt, "claimed");
    assert.equal(await claim.heartbeat(), "renewed");
    assert.equal(await claim.release(), true);
    assert.equal(await claim.release(), false);
    assert.equal(await claim.heartbeat(), "lost");
    assert.equal(await s.registry.get(claim.id), undefined);
    {
      await using held = await s.registry.claim("scoped", {
        pid: s.livePid(),
        handleSignals: false,
      });
      assert.equal((await s.registry.list()).length, 1);
      assert.equal(held.entry.prompt, "scoped");
    }
    assert.deepEqual(await s.registry.list(), []);
  });

  test("a claim's heartbeat tells lost from taken over", async (s, entry) => {
    const claim = await s.registry.claim("mine", {
      pid: s.livePid(),
      handleSignals: false,
    });
    await s.registry.deregister(claim.id);
    assert.equal(await claim.heartbeat(), "lost");
    await s.registry.register({ ...entry("theirs"), id: claim.id });
    assert.equal(await claim.heartbeat(), "taken-over");
    await assert.rejects(
      s.registry.claim("again", {
        id: claim.id,
        pid: s.livePid(),
        handleSignals: false,
      }),
      LoopIdTakenError,
    );
  });

  test("reassign() moves a claim to another pid, keeping its id", async (s) => {
    const claim = await s.registry.claim("moved", {
      pid: s.livePid(),
      handleSignals: false,
    });
    const child = s.livePid();
    await claim.reassign(child);
    assert.equal(claim.entry.pid, child);
    assert.equal(claim.id, claim.entry.id);
    const listed = await s.registry.list();
    assert.deepEqual(listed.map((loop) => [loop.id, loop.pid]), [
      [claim.id, child],
    ]);
    assert.equal(await claim.heartbeat(), "renewed");
    assert.equal(await claim.release(), true);
    assert.deepEqual(await s.registry.list(), []);
    await assert.rejects(claim.reassign(s.livePid()), TypeError);
  });

  test(
    "a released claim never removes a loop that took its id over",
    async (s, e) => {
      const claim = await s.registry.claim("mine", {
        pid: s.livePid(),
        handleSignals: false,
      });
      await s.registry.deregister(claim.id);
      const theirs = { ...e("theirs"), id: claim.id };
      await s.registry.register(theirs);
      await assert.rejects(claim.reassign(s.livePid()), LoopIdTakenError);
      assert.equal(await claim.release(), false);
      assert.equal((await s.registry.get(claim.id))?.prompt, "theirs");
    },
  );

  test("watch() yields the list at once and after a change", async (s, e) => {
    const controller = new AbortController();
    const seen: string[][] = [];
    const loop = e("watched");
    for await (
      const loops of s.registry.watch({
        signal: controller.signal,
        intervalMs: 100,
      })
    ) {
      seen.push(byId(loops));
      if (seen.length === 1) await s.registry.register(loop);
      else if (loops.length > 0) controller.abort();
    }
    assert.deepEqual(seen[0], []);
    assert.deepEqual(seen.at(-1), [loop.id]);
  });

  test("close() resolves, and a second close() too", async (s) => {
    await s.registry.close();
    await s.registry.close();
  });
}
