// `deno bench -A bench/`: the floors and the library's calls on a one-entry
// registry, grouped so that `deno bench` prints each call against its floor.
// The full comparison (sizes, contention, CLI) is `deno task bench`.
import { join } from "node:path";
import { createLoopEntry, LoopRegistry } from "../mod.ts";
import { prepareFloorFile, readFloor, writeFloor } from "./_floor.ts";

const tmp = Deno.makeTempDirSync({ prefix: "loops_bench_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(tmp, { recursive: true });
});
const floorFile = join(tmp, "floor.json");
prepareFloorFile(floorFile);

// Writes: this process registers and deregisters its own entry.
const writes = new LoopRegistry(Deno.makeTempDirSync({ dir: tmp }));
const self = createLoopEntry("bench", {
  id: "loop-bench-self",
  workspace: writes.workspace,
});

// Reads: one entry of this (live) process, so there is nothing to clean.
const reads = new LoopRegistry(Deno.makeTempDirSync({ dir: tmp }));
const id = reads.registerSync(
  createLoopEntry("bench", { workspace: reads.workspace }),
);

Deno.bench("write floor", { group: "write", baseline: true }, () => {
  writeFloor(floorFile);
});

Deno.bench("register + deregister (2 calls)", { group: "write" }, async () => {
  await writes.register(self);
  await writes.deregister(self.id);
});

Deno.bench("read floor", { group: "read", baseline: true }, () => {
  readFloor(floorFile);
});

Deno.bench("list, 1 entry", { group: "read" }, async () => {
  await reads.list();
});

Deno.bench("get, 1 entry", { group: "read" }, async () => {
  await reads.get(id);
});

Deno.bench("write floor (for reads)", { group: "read" }, () => {
  writeFloor(floorFile);
});
