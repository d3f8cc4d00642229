// Disk trouble: writes that fail half-way (no space left, read-only file
// system, a failing fsync). Real failures on a small tmpfs where the machine
// lets us mount one (root); the WRITE_HOOK fault seam everywhere.
import assert from "node:assert/strict";
import { createLoopEntry, LoopRegistry } from "../../mod.ts";
import type { WriteHook } from "../../src/_durable_write.ts";
import { FAKE_PID_BASE, tortureEnv, withHook } from "./_common.ts";

/** A disk-trouble scenario. */
export interface DiskScenario {
  name: string;
  /** `tmpfs`: a real file system error; `hook`: the fault seam. */
  method: "tmpfs" | "hook";
  run(dir: string): Promise<void>;
}

function run(cmd: string, args: string[]): { ok: boolean; stderr: string } {
  const out = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" })
    .outputSync();
  return { ok: out.success, stderr: new TextDecoder().decode(out.stderr) };
}

/**
 * Mounts a tmpfs of `size` on `dir`. Returns the reason when it cannot
 * (not root, no mount(8), a sandbox), else `undefined`.
 */
export function mountTmpfs(dir: string, size: string): string | undefined {
  if (Deno.build.os !== "linux") return "not Linux";
  try {
    const result = run("mount", [
      "-t",
      "tmpfs",
      "-o",
      `size=${size}`,
      "tmpfs",
      dir,
    ]);
    return result.ok ? undefined : result.stderr.trim() || "mount failed";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "no mount command";
    throw error;
  }
}

/** Why a tmpfs cannot be mounted here, or `undefined` when it can. */
export function canMountTmpfs(): string | undefined {
  const dir = Deno.makeTempDirSync({ prefix: "loops_mount_probe_" });
  try {
    const reason = mountTmpfs(dir, "64k");
    if (reason === undefined) unmount(dir);
    return reason;
  } finally {
    Deno.removeSync(dir);
  }
}

/** Unmounts `dir`, lazily if it is busy. */
export function unmount(dir: string): void {
  if (!run("umount", [dir]).ok) run("umount", ["-l", dir]);
}

const registryOptions = { env: tortureEnv, lockTimeoutMs: 5_000 };

function entry(n: number, workspace: string, promptBytes: number) {
  return createLoopEntry("p".repeat(promptBytes), {
    id: `disk-${n}`,
    pid: FAKE_PID_BASE + 10 * n,
    workspace,
  });
}

async function seed(
  workspace: string,
  count: number,
  promptBytes: number,
): Promise<Uint8Array> {
  const registry = new LoopRegistry(workspace, registryOptions);
  for (let n = 1; n <= count; n++) {
    await registry.register(entry(n, workspace, promptBytes));
  }
  return await Deno.readFile(registry.path);
}

/** Fills the file system, then frees `pages` 4 KiB pages. */
function fillLeaving(dir: string, pages: number): string {
  const path = `${dir}/filler`;
  using file = Deno.openSync(path, { write: true, create: true });
  const block = new Uint8Array(4096);
  let size = 0;
  try {
    for (;;) size += file.writeSync(block);
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOSPC") throw error;
  }
  file.truncateSync(Math.max(0, size - pages * 4096));
  return path;
}

function isNoSpace(error: unknown): boolean {
  return (error as { code?: string }).code === "ENOSPC" &&
    /No space left on device/.test((error as Error).message);
}

async function assertPrevious(
  registry: LoopRegistry,
  before: Uint8Array,
  ids: string[],
): Promise<void> {
  assert.deepEqual(
    await Deno.readFile(registry.path),
    before,
    "the previous bytes were not left in place",
  );
  assert.deepEqual((await registry.list()).map((e) => e.id), ids);
}

function faultAt(step: Parameters<WriteHook>[0], code: string): WriteHook {
  return (at) => {
    if (at !== step) return;
    throw Object.assign(new Error(`Injected ${code} at step "${step}"`), {
      code,
    });
  };
}

/** The scenarios; `dir` is an empty directory (a tmpfs mount for `tmpfs`). */
export const diskScenarios: DiskScenario[] = [
  {
    name: "no space left in the middle of the in-place write",
    method: "tmpfs",
    async run(dir) {
      const before = await seed(dir, 3, 2000);
      const steps: string[] = [];
      const registry = new LoopRegistry(
        dir,
        withHook((step: string) => steps.push(step), registryOptions),
      );
      const big = entry(4, dir, 12_000);
      // Room for the journal (old + new) and one page more: the in-place
      // write of the grown file then fails half-way.
      // Pages the journal record needs beyond what the journal holds now
      // (it is emptied after each write, so usually all of them).
      // The file is padded to pages; it grows by 3 or more pages, so leaving
      // one page (or two, if the estimate is high) still fails its write.
      const json = new TextDecoder().decode(before).trimEnd().length;
      const afterSize = Math.ceil((json + 12_400) / 4096) * 4096;
      const journalNow = Deno.statSync(`${dir}/.ralph/loops.json.journal`).size;
      const journalPages = Math.max(
        0,
        Math.ceil((100 + before.length + afterSize) / 4096) -
          Math.ceil(journalNow / 4096),
      );
      const filler = fillLeaving(dir, journalPages + 1);
      await assert.rejects(registry.register(big), isNoSpace);
      // The journal was written, the in-place write was not completed.
      assert.deepEqual(steps, ["journal"]);
      await assertPrevious(registry, before, ["disk-1", "disk-2", "disk-3"]);
      assert.deepEqual(registry.listSync().length, 3);
      await Deno.remove(filler);
      await assertPrevious(registry, before, ["disk-1", "disk-2", "disk-3"]);
      await registry.register(big);
      assert.equal((await registry.list()).length, 4);
    },
  },
  {
    name: "no space left for the journal",
    method: "tmpfs",
    async run(dir) {
      const before = await seed(dir, 3, 2000);
      const registry = new LoopRegistry(dir, registryOptions);
      const filler = fillLeaving(dir, 1);
      const steps: string[] = [];
      const failing = new LoopRegistry(
        dir,
        withHook((step: string) => steps.push(step), registryOptions),
      );
      await assert.rejects(failing.register(entry(4, dir, 12_000)), isNoSpace);
      assert.deepEqual(steps, [], "the journal was written");
      await assertPrevious(registry, before, ["disk-1", "disk-2", "disk-3"]);
      await Deno.remove(filler);
      await registry.register(entry(4, dir, 12_000));
      assert.equal((await registry.list()).length, 4);
    },
  },
  {
    name: "no space left while rolling a torn write forward",
    method: "tmpfs",
    async run(dir) {
      const before = await seed(dir, 3, 2000);
      // A crash in the middle of a growing write: the journal is whole, the
      // file holds the first page more than it had (a prefix of the new).
      const crashing = new LoopRegistry(
        dir,
        withHook(faultAt("write", "SIGKILL"), registryOptions),
      );
      await assert.rejects(crashing.register(entry(4, dir, 12_000)));
      const registry = new LoopRegistry(dir, registryOptions);
      {
        using file = await Deno.open(registry.path, { write: true });
        await file.truncate(before.length + 4096);
      }
      const journal = await Deno.readFile(`${registry.path}.journal`);
      const { parseJournal, isTornWrite } = await import(
        "../../src/_journal.ts"
      );
      const parsed = parseJournal(journal)!;
      assert.ok(
        isTornWrite(
          await Deno.readFile(registry.path),
          parsed.before,
          parsed.after,
        ),
      );
      const filler = fillLeaving(dir, 0);
      // Reads give the intended content even though it cannot be written.
      const ids = ["disk-1", "disk-2", "disk-3", "disk-4"];
      assert.deepEqual((await registry.list()).map((e) => e.id), ids);
      await assert.rejects(registry.register(entry(5, dir, 100)), isNoSpace);
      assert.deepEqual(
        await Deno.readFile(`${registry.path}.journal`),
        journal,
      );
      await Deno.remove(filler);
      assert.deepEqual((await registry.list()).map((e) => e.id), ids);
      assert.deepEqual(await Deno.readFile(registry.path), parsed.after);
    },
  },
  {
    name: "read-only remount: reads work, changes fail clearly",
    method: "tmpfs",
    async run(dir) {
      await seed(dir, 2, 100);
      // A dead entry: reads would like to clean it but cannot write.
      const dead = createLoopEntry("dead", {
        id: "disk-dead",
        pid: FAKE_PID_BASE + 9,
        workspace: dir,
      });
      const registry = new LoopRegistry(dir, registryOptions);
      await registry.register(dead);
      const before = await Deno.readFile(registry.path);
      assert.ok(run("mount", ["-o", "remount,ro", dir]).ok, "remount,ro");
      try {
        assert.deepEqual((await registry.list()).map((e) => e.id), [
          "disk-1",
          "disk-2",
        ]);
        assert.equal((await registry.get("disk-1"))?.id, "disk-1");
        assert.equal(await registry.get("disk-dead"), undefined);
        const readOnly = (error: unknown) =>
          (error as { code?: string }).code === "EROFS" &&
          (error as Error).message.includes(registry.path);
        await assert.rejects(registry.register(entry(3, dir, 100)), readOnly);
        await assert.rejects(registry.deregister("disk-1"), readOnly);
        await assert.rejects(registry.cleanStale(), readOnly);
        assert.deepEqual(await Deno.readFile(registry.path), before);
      } finally {
        run("mount", ["-o", "remount,rw", dir]);
      }
      await registry.register(entry(3, dir, 100));
      assert.equal((await registry.list()).length, 3);
    },
  },
  // The seam cannot fake a real I/O error: a throwing hook stands for a
  // crash at that step (nothing is rolled back), so the call fails and the
  // registry must read whole: old before the in-place write, new after it.
  ...(["journal", "write", "truncate", "sync", "done"] as const).map((
    step,
  ) => ({
    name: `a crash-like fault at step "${step}" (fault seam)`,
    method: "hook" as const,
    async run(dir: string) {
      await seed(dir, 3, 500);
      const failing = new LoopRegistry(
        dir,
        withHook(faultAt(step, "EIO"), registryOptions),
      );
      // Shrinking (deregister) reaches the truncate step; growing does not.
      const shrink = step === "truncate";
      await assert.rejects(
        shrink ? failing.deregister("disk-1") : failing.register(
          entry(4, dir, 800),
        ),
        (error) => (error as { code?: string }).code === "EIO",
      );
      const registry = new LoopRegistry(dir, registryOptions);
      const ids = step === "journal"
        ? ["disk-1", "disk-2", "disk-3"]
        : shrink
        ? ["disk-2", "disk-3"]
        : ["disk-1", "disk-2", "disk-3", "disk-4"];
      assert.deepEqual((await registry.list()).map((e) => e.id), ids);
      await registry.register(entry(5, dir, 100));
      assert.deepEqual(
        (await registry.list()).map((e) => e.id),
        [...ids, "disk-5"],
      );
    },
  })),
];

/** What a disk run did. */
export interface DiskFigures {
  ran: { name: string; method: string }[];
  skipped: { name: string; reason: string }[];
}

/** Runs one scenario in a fresh directory (a tmpfs mount if it needs one). */
export async function runDiskScenario(
  scenario: DiskScenario,
): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "loops_disk_" });
  let mounted = false;
  try {
    if (scenario.method === "tmpfs") {
      const reason = mountTmpfs(dir, "64k");
      if (reason !== undefined) return reason;
      mounted = true;
    }
    await scenario.run(dir);
    return undefined;
  } finally {
    if (mounted) unmount(dir);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs every scenario; tmpfs ones are skipped (with the reason) if needed. */
export async function runDisk(): Promise<DiskFigures> {
  const figures: DiskFigures = { ran: [], skipped: [] };
  for (const scenario of diskScenarios) {
    const skipped = await runDiskScenario(scenario);
    if (skipped === undefined) {
      figures.ran.push({ name: scenario.name, method: scenario.method });
    } else figures.skipped.push({ name: scenario.name, reason: skipped });
  }
  return figures;
}
