// Registries of a given size whose entries are held by live processes, so
// that nothing is cleaned while the library is measured.
import { join } from "node:path";
import { type ProcessIdentity, readProcessIdentity } from "../mod.ts";

/** Live `sleep` processes that hold the fixture's entries. */
export interface Holders extends AsyncDisposable {
  pids: number[];
  identities: (ProcessIdentity | undefined)[];
}

/** Spawns `count` `sleep 600` processes; killed on dispose. */
export function spawnHolders(count: number): Holders {
  const children = Array.from(
    { length: count },
    () =>
      new Deno.Command("sleep", {
        args: ["600"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
  );
  const pids = children.map((child) => child.pid);
  return {
    pids,
    identities: pids.map((pid) => {
      const live = readProcessIdentity(pid);
      return live && { startTime: live.startTime, bootId: live.bootId };
    }),
    async [Symbol.asyncDispose]() {
      for (const child of children) {
        try {
          child.kill("SIGKILL");
        } catch (error) {
          if (!(error instanceof TypeError)) throw error; // already exited
        }
      }
      await Promise.all(children.map((child) => child.status));
    },
  };
}

/** The id of entry `i` of a fixture. */
export function fixtureId(i: number): string {
  return `loop-1764508593-${i.toString(16).padStart(4, "0")}`;
}

/**
 * Writes `<workspace>/.ralph/loops.json` with `count` entries spread over the
 * holders' pids, in the file's format (ralph's field names, identity
 * recorded as the library records it), pretty-printed as ralph writes it.
 * Entries have no worktree (a worktree adds one `stat` per entry to `list`).
 */
export function writeFixture(
  workspace: string,
  count: number,
  holders: Holders,
): string {
  const loops = Array.from({ length: count }, (_, i) => {
    const at = i % holders.pids.length;
    const identity = holders.identities[at];
    const raw: Record<string, unknown> = {
      id: fixtureId(i),
      pid: holders.pids[at],
      started: new Date(Date.UTC(2026, 10, 30, 13, 16, 33) + i).toISOString(),
      prompt: `benchmark loop ${i}: implement the feature and its tests`,
      workspace,
    };
    if (identity !== undefined) {
      raw.pid_start_time = identity.startTime;
      raw.boot_id = identity.bootId;
    }
    return raw;
  });
  const dir = join(workspace, ".ralph");
  Deno.mkdirSync(dir, { recursive: true });
  const file = join(dir, "loops.json");
  Deno.writeTextFileSync(file, JSON.stringify({ loops }, null, 2), {
    mode: 0o600,
  });
  return file;
}

/** Parses a registry file directly (not through the library). */
export function readFixture(file: string): { id: string; pid: number }[] {
  const doc = JSON.parse(Deno.readTextFileSync(file));
  return doc.loops;
}
