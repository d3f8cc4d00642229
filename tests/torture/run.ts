// The long torture run (`deno task torture`): runs every library part at
// full size and prints a Markdown table of what it did and found. Exits 1 on
// any broken check. Sizes can be lowered, e.g.
//   deno task torture --kills 60 --big-kills 20 --workers 4 --calls 100
import { parseArgs } from "node:util";
import { runCrash } from "./_crash.ts";
import { canMountTmpfs, diskScenarios, runDiskScenario } from "./_disk.ts";
import { hostileCases, runHostileCase } from "./_hostile.ts";
import { runSoak } from "./_soak.ts";

// deno-lint-ignore no-console
const print = (line = "") => console.log(line);

const { values } = parseArgs({
  args: Deno.args,
  options: {
    workers: { type: "string", default: "8" },
    calls: { type: "string", default: "500" },
    kills: { type: "string", default: "200" },
    "big-kills": { type: "string", default: "100" },
    "big-prompt-bytes": { type: "string", default: "40000" },
    entries: { type: "string", default: "200" },
    "prompt-bytes": { type: "string", default: "10000" },
    seed: { type: "string" },
  },
});
const seed = Number(values.seed ?? 1 + Math.floor(Math.random() * 1e6));
const rows: [string, string, string][] = [];
const row = (part: string, figure: string, value: string | number) =>
  rows.push([part, figure, String(value)]);
const seconds = (start: number) =>
  ((performance.now() - start) / 1000).toFixed(1);

let lost = 0;
let start = performance.now();
const soak = await runSoak({
  workers: Number(values.workers),
  calls: Number(values.calls),
  seed,
});
lost += soak.lost + soak.duplicated;
row(
  "soak",
  "processes x calls",
  `${soak.workers} x ${soak.calls / soak.workers}`,
);
row("soak", "calls made", soak.calls);
row("soak", "changes (register, deregister, claim)", soak.changes);
row("soak", "file states checked by the reader", soak.readerChanges);
row("soak", "entries left, all accounted for", soak.finalEntries);
row("soak", "lost / duplicated entries", `${soak.lost} / ${soak.duplicated}`);
row("soak", "seconds", seconds(start));

// Two crash campaigns: ~2 MB writes (many calls per kill) and ~8 MB writes.
// On this kernel a SIGKILL rarely splits a buffered write of 2 MiB or less
// (page cache folios are copied whole), so torn files need the big one.
let kills = 0;
let recoveries = 0;
for (
  const [label, count, promptBytes] of [
    ["crash 2 MB", Number(values.kills), Number(values["prompt-bytes"])],
    [
      "crash 8 MB",
      Number(values["big-kills"]),
      Number(values["big-prompt-bytes"]),
    ],
  ] as const
) {
  if (count === 0) continue;
  start = performance.now();
  const crash = await runCrash({
    kills: count,
    entries: Number(values.entries),
    promptBytes,
    seed,
  });
  lost += crash.lost;
  kills += crash.kills;
  recoveries += crash.states.torn;
  const { states } = crash;
  row(label, "SIGKILLs", crash.kills);
  row(label, "registry size (bytes)", crash.fileBytes);
  row(label, "completed calls checked", crash.completedCalls);
  row(
    label,
    "interrupted call: applied / not applied",
    `${crash.interruptedApplied} / ${crash.interruptedNotApplied}`,
  );
  row(label, "kill left: no journal (between writes)", states.clean);
  row(label, "kill left: journal being written", states.journalPartial);
  row(label, "kill left: journal whole, file untouched", states.journalOnly);
  row(label, "kill left: file torn -> recovery (roll forward)", states.torn);
  row(label, "kill left: file written, journal not emptied", states.written);
  row(
    label,
    "torn files left for the next writer to recover",
    crash.tornLeftToWriter,
  );
  row(label, "lost changes", crash.lost);
  row(label, "seconds", seconds(start));
}

start = performance.now();
const cannotMount = canMountTmpfs();
let ran = 0;
for (const scenario of diskScenarios) {
  if (scenario.method === "tmpfs" && cannotMount !== undefined) continue;
  await runDiskScenario(scenario);
  ran++;
}
row(
  "disk",
  "scenarios run (tmpfs ENOSPC/EROFS + fault seam)",
  `${ran} of ${diskScenarios.length}${
    cannotMount ? ` (no tmpfs: ${cannotMount})` : ""
  }`,
);
row("disk", "seconds", seconds(start));

start = performance.now();
for (const hostile of hostileCases) await runHostileCase(hostile);
const fixtures = hostileCases.filter((c) => !c.make).length;
row(
  "hostile",
  "files tried (committed + built at run time)",
  `${hostileCases.length} (${fixtures} + ${hostileCases.length - fixtures})`,
);
row("hostile", "calls (list and register each)", hostileCases.length * 2);
row("hostile", "seconds", seconds(start));
row("all", "SIGKILLs / recoveries", `${kills} / ${recoveries}`);
row("all", "lost changes", lost);

print(
  `seed ${seed}, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores`,
);
print();
print("| part | figure | value |");
print("|---|---|---:|");
for (const [part, figure, value] of rows) {
  print(`| ${part} | ${figure} | ${value} |`);
}
Deno.exitCode = lost === 0 ? 0 : 1;
