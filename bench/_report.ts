// Turns one run's results into tables, target verdicts, the chart (SVG) and
// docs/performance.md. Pure: no file or process access.

/** The machine the run was made on. */
export interface Machine {
  nproc: number;
  cpu: string;
  kernel: string;
  fs: string;
  deno: string;
  loadavg: number[];
}

/** One single-process measurement. */
export interface SingleResult {
  key: string;
  label: string;
  entries?: number;
  group: "floor" | "diag" | "probe" | "write" | "read";
  /** Calls per second (median of the rounds). */
  rate: number;
}

/** The mean time of one step of a register/deregister call. */
export interface PhaseResult {
  key: string;
  phase: string;
  us: number;
}

/** One contention measurement. */
export interface ContentionResult {
  procs: number;
  /** Liveness probes stubbed out in the workers (diagnostic). */
  stubbed: boolean;
  calls: number;
  /** Total calls per second over all processes. */
  rate: number;
  p50Ms: number;
  p99Ms: number;
  /** What went wrong, when an update was lost; `undefined` when none. */
  lost?: string;
}

/** One CLI wall-time measurement. */
export interface CliResult {
  key: string;
  label: string;
  command: string;
  medianMs: number;
  runs: number;
}

/** A target of issue 4 and whether this run meets it. */
export interface Target {
  key: string;
  name: string;
  measured: string;
  required: string;
  met: boolean;
}

/** How long and how often each part ran. */
export interface RunSettings {
  rounds: number;
  budgetMs: number;
  contentionRounds: number;
  contentionMs: number;
  cliRuns: number;
}

/** Everything one run measured. */
export interface Results {
  command: string;
  quick: boolean;
  settings: RunSettings;
  date: string;
  seconds: number;
  machine: Machine;
  single: SingleResult[];
  breakdown: PhaseResult[];
  contention: ContentionResult[];
  /** The write floor measured in the contention rounds, calls per second. */
  contentionFloor: number;
  cli: CliResult[];
  targets: Target[];
}

function rateOf(results: Results, key: string): number {
  const found = results.single.find((r) => r.key === key);
  if (found === undefined) throw new Error(`No result for ${key}`);
  return found.rate;
}

function contentionOf(
  results: Results,
  procs: number,
  stubbed: boolean,
): ContentionResult {
  return results.contention.find((c) =>
    c.procs === procs && c.stubbed === stubbed
  )!;
}

function cliMs(results: Results, key: string): number {
  return results.cli.find((r) => r.key === key)!.medianMs;
}

function x(ratio: number): string {
  return ratio >= 100
    ? `${ratio.toFixed(0)}x`
    : ratio >= 10
    ? `${ratio.toFixed(1)}x`
    : ratio >= 0.1
    ? `${ratio.toFixed(2)}x`
    : `${ratio.toPrecision(2)}x`;
}

function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function us(rate: number): string {
  const value = 1e6 / rate;
  return value >= 100 ? int(value) : value.toFixed(1);
}

/** Checks each target of issue 4 against the run. */
export function evaluate(results: Results): Target[] {
  const write = rateOf(results, "floor.write");
  const pair = rateOf(results, "pair.1") / write;
  const list = rateOf(results, "list.1") / write;
  const get = rateOf(results, "get.1") / write;
  const perEntry100 = 1e6 / rateOf(results, "list.100") / 100;
  const perEntry10k = 1e6 / rateOf(results, "list.10000") / 10_000;
  const one = contentionOf(results, 1, false);
  const eight = contentionOf(results, 8, false);
  const lost = results.contention.filter((c) => c.lost !== undefined);
  const cli = cliMs(results, "list") / cliMs(results, "empty");
  return [
    {
      key: "pair",
      name: "register+deregister, 1 entry, vs write floor",
      measured: x(pair),
      required: ">= 0.9x",
      met: pair >= 0.9,
    },
    {
      key: "list",
      name: "list, 1 entry, nothing to clean, vs write floor",
      measured: x(list),
      required: ">= 10x",
      met: list >= 10,
    },
    {
      key: "get",
      name: "get, 1 entry, nothing to clean, vs write floor",
      measured: x(get),
      required: ">= 10x",
      met: get >= 10,
    },
    {
      key: "linear",
      name: "list cost per entry at 10,000 vs at 100",
      measured: `${x(perEntry10k / perEntry100)} (${
        perEntry10k.toFixed(2)
      } vs ${perEntry100.toFixed(2)} us)`,
      required: "<= 2x",
      met: perEntry10k / perEntry100 <= 2,
    },
    {
      key: "contention",
      name: "8 processes vs 1: total throughput",
      measured: x(eight.rate / one.rate),
      required: ">= 0.8x",
      met: eight.rate / one.rate >= 0.8,
    },
    {
      key: "lost",
      name: "lost updates, 1 to 8 processes",
      measured: lost.length === 0
        ? "none"
        : lost.map((c) => `${c.procs} procs: ${c.lost}`).join("; "),
      required: "none",
      met: lost.length === 0,
    },
    {
      key: "cli",
      name: "`loops list` vs `deno run` of an empty file",
      measured: `${x(cli)} (${cliMs(results, "list").toFixed(0)} vs ${
        cliMs(results, "empty").toFixed(0)
      } ms)`,
      required: "<= 1.5x",
      met: cli <= 1.5,
    },
  ];
}

function singleTable(results: Results): string {
  const write = rateOf(results, "floor.write");
  const read = rateOf(results, "floor.read");
  const order = ["floor", "write", "read", "probe", "diag"];
  const rows = [...results.single].sort((a, b) =>
    order.indexOf(a.group) - order.indexOf(b.group)
  ).map((r) => {
    const versusRead = r.group === "read" || r.key === "floor.read" ||
        r.key.startsWith("list.")
      ? x(r.rate / read)
      : "";
    return `| ${r.label} | ${r.entries === undefined ? "" : int(r.entries)} | ${
      int(r.rate)
    } | ${us(r.rate)} | ${x(r.rate / write)} | ${versusRead} |`;
  });
  return [
    "| operation | entries | calls/s | us/call | x write floor | x read floor |",
    "|---|--:|--:|--:|--:|--:|",
    ...rows,
  ].join("\n");
}

function breakdownTable(results: Results): string {
  const sum = results.breakdown.reduce((total, p) => total + p.us, 0);
  return [
    "| step of register/deregister, 1 entry | us per call | share |",
    "|---|--:|--:|",
    ...results.breakdown.map((p) =>
      `| ${p.phase} | ${p.us.toFixed(1)} | ${(p.us / sum * 100).toFixed(0)}% |`
    ),
    `| total | ${sum.toFixed(1)} | |`,
  ].join("\n");
}

function contentionTable(results: Results): string {
  const write = results.contentionFloor;
  return [
    "| processes | calls | total calls/s | x 1 process | x write floor | p50 ms | p99 ms | lost updates |",
    "|--:|--:|--:|--:|--:|--:|--:|---|",
    ...results.contention.map((c) =>
      `| ${c.procs}${c.stubbed ? ", probes stubbed" : ""} | ${int(c.calls)} | ${
        int(c.rate)
      } | ${x(c.rate / contentionOf(results, 1, c.stubbed).rate)} | ${
        x(c.rate / write)
      } | ${c.p50Ms.toFixed(2)} | ${c.p99Ms.toFixed(2)} | ${c.lost ?? "none"} |`
    ),
  ].join("\n");
}

function cliTable(results: Results): string {
  const empty = cliMs(results, "empty");
  return [
    "| command | median wall ms | x empty file |",
    "|---|--:|--:|",
    ...results.cli.map((c) =>
      `| ${c.label}: \`${c.command}\` | ${c.medianMs.toFixed(1)} | ${
        x(c.medianMs / empty)
      } |`
    ),
  ].join("\n");
}

function targetTable(results: Results): string {
  return [
    "| target | measured | required | |",
    "|---|---|---|---|",
    ...results.targets.map((t) =>
      `| ${t.name} | ${t.measured} | ${t.required} | ${
        t.met ? "met" : "**missed**"
      } |`
    ),
  ].join("\n");
}

/** The result tables as Markdown (also printed by the script). */
export function renderTables(results: Results): string {
  return [
    "### Single process",
    singleTable(results),
    breakdownTable(results),
    "### Contention: register/deregister pairs, one registry",
    contentionTable(results),
    "### CLI",
    cliTable(results),
    "### Targets",
    targetTable(results),
  ].join("\n\n");
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(
    ">",
    "&gt;",
  );
}

interface Bar {
  label: string;
  ratio: number;
  color: string;
  target?: number;
}

/** A horizontal bar chart of ratios to the write floor, log scale. */
export function renderChart(results: Results): string {
  const write = rateOf(results, "floor.write");
  const colors = {
    floor: "#8c8c8c",
    write: "#3b6fb6",
    read: "#3a9a5b",
    contention: "#d9822b",
    diag: "#b9b9b9",
  };
  const bars: Bar[] = [];
  for (const r of results.single) {
    if (r.group === "probe") continue;
    const size = r.entries === undefined
      ? ""
      : `, ${int(r.entries)} entr${r.entries === 1 ? "y" : "ies"}`;
    const name = r.key.split(".")[0] === "pair"
      ? "register+deregister"
      : r.key.split(".")[0];
    const label = r.key === "floor.write"
      ? "write floor"
      : r.key === "floor.read"
      ? "read floor"
      : r.key === "diag.fsync"
      ? "write floor, fsync"
      : r.key === "diag.resizing"
      ? "write floor, size changes"
      : r.key === "diag.journaled"
      ? "same + journal file"
      : r.group === "diag"
      ? `${name}${size}, no probes`
      : `${name}${size}`;
    bars.push({
      label,
      ratio: r.rate / write,
      color: colors[r.group as keyof typeof colors],
      target: r.key === "pair.1"
        ? 0.9
        : r.key === "list.1" || r.key === "get.1"
        ? 10
        : undefined,
    });
  }
  for (const c of results.contention) {
    bars.push({
      label: `${c.procs} process${c.procs > 1 ? "es" : ""}, total${
        c.stubbed ? ", no probes" : ""
      }`,
      ratio: c.rate / results.contentionFloor,
      color: c.stubbed ? colors.diag : colors.contention,
    });
  }
  const ratios = bars.map((b) => b.ratio).filter((r) => r > 0);
  const lo = Math.floor(Math.log10(Math.min(...ratios, 0.9)));
  const hi = Math.ceil(Math.log10(Math.max(...ratios, 10)));
  const left = 230;
  const width = 560;
  const rowHeight = 20;
  const top = 40;
  const height = top + bars.length * rowHeight + 52;
  const scale = (ratio: number) =>
    left + ((Math.log10(ratio) - lo) / (hi - lo)) * width;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${
      left + width + 80
    }" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="18" font-size="13" font-weight="bold">Calls per second as a multiple of the write floor (log scale)</text>`,
  ];
  for (let p = lo; p <= hi; p++) {
    const at = scale(10 ** p);
    parts.push(
      `<line x1="${at}" y1="${top - 6}" x2="${at}" y2="${
        height - 42
      }" stroke="${p === 0 ? "#444" : "#ddd"}"/>`,
      `<text x="${at}" y="${height - 28}" text-anchor="middle">${
        10 ** p >= 1 ? 10 ** p : (10 ** p).toFixed(-p)
      }x</text>`,
    );
  }
  bars.forEach((bar, i) => {
    const y = top + i * rowHeight;
    const end = scale(bar.ratio);
    const start = scale(10 ** lo);
    parts.push(
      `<text x="${left - 6}" y="${y + 13}" text-anchor="end">${
        escapeXml(bar.label)
      }</text>`,
      `<rect x="${start}" y="${y + 3}" width="${
        Math.max(1, end - start).toFixed(1)
      }" height="${rowHeight - 6}" fill="${bar.color}"/>`,
      `<text x="${
        (Math.max(end, bar.target ? scale(bar.target) : 0) + 4).toFixed(1)
      }" y="${y + 13}">${x(bar.ratio)}</text>`,
    );
    if (bar.target !== undefined) {
      const at = scale(bar.target).toFixed(1);
      parts.push(
        `<line x1="${at}" y1="${y + 1}" x2="${at}" y2="${
          y + rowHeight - 1
        }" stroke="#c0392b" stroke-width="2"><title>target ${bar.target}x</title></line>`,
      );
    }
  });
  parts.push(
    `<text x="${left}" y="${
      height - 4
    }" fill="#666">Red tick: target. Grey: floors, diagnostics. Blue: changes. Green: reads. Orange: contention.</text>`,
    "</svg>",
    "",
  );
  return parts.join("\n");
}

function usOf(results: Results, key: string): number {
  return 1e6 / rateOf(results, key);
}

function fixed(n: number, digits = 0): string {
  return n.toFixed(digits);
}

/** Why each target is met or missed, and what would close a miss. */
function analysis(results: Results): string[] {
  const t = new Map(results.targets.map((target) => [target.key, target]));
  const write = rateOf(results, "floor.write");
  const ratio = (key: string) => rateOf(results, key) / write;
  const floorUs = usOf(results, "floor.write");
  const readUs = usOf(results, "floor.read");
  const probeUs = usOf(results, "probe");
  const out: string[] = [];
  const verdict = (key: string) => t.get(key)!.met ? "Met" : "**Missed**";

  const pair = ratio("pair.1");
  out.push(
    `### register+deregister: ${verdict("pair")} (${
      x(pair)
    } of the write floor, ${
      fixed(usOf(results, "pair.1"))
    } us per call against ${fixed(floorUs)} us)`,
    "",
  );
  const step = (key: string) =>
    results.breakdown.find((p) => p.key === key)?.us ?? NaN;
  const before = step("journal");
  const sync = step("sync");
  const after = step("write") + step("truncate") + step("done") + step("end");
  out.push(
    `Every change holds the exclusive lock, reads and decodes the file, drops the entries proven dead, writes the old and new bytes to \`loops.json.journal\`, rewrites \`loops.json\` in place, fdatasyncs it once and truncates the journal to 0. The diagnostic floors show what the file system charges for the shape of that write: the floor with the file's size alternating between 300 and 600 bytes (as a register grows the file and a deregister shrinks it) runs at ${
      x(ratio("diag.resizing"))
    }, and with the journal file as well at ${
      x(ratio("diag.journaled"))
    }: that is the floor of this design. The library runs at ${
      x(rateOf(results, "pair.1") / rateOf(results, "diag.journaled"))
    } of it. Timed through the write hook, a call spends ${
      fixed(sync)
    } us in fdatasync (the whole write floor takes ${fixed(floorUs)} us), ${
      fixed(before)
    } us before the journal is written and ${
      fixed(after)
    } us after the fdatasync and in the other writes.`,
    "",
  );
  if (pair < 0.9) {
    out.push(
      `Missed by a factor of ${(0.9 / pair).toFixed(1)}. The ${
        fixed(before)
      } us before the journal is written are: checking the entry; a signal probe (\`kill(pid, 0)\`, no \`/proc\` read) of each other process in the file (every change drops entries proven dead, as ralph does); taking the lock with the checks that refuse a symlink or FIFO and notice a file replaced by rename (lstat of \`.ralph\` and of the file, open, flock, fstat, lstat); the read; an lstat of the journal, twice; JSON decoding and encoding; a checksum of the old and new bytes (word-wise, about 3 us for two 4 KiB pages); opening the journal with truncate and writing it. The fdatasync costs more than the floor's because a second file (the journal) was just written and will be truncated: the diagnostic floors above show that cost.`,
      "",
      `What was done: the registry is padded with trailing spaces to whole 4 KiB pages (JSON and ralph's serde_json accept trailing whitespace), so a register or deregister seldom changes the file's size and its fdatasync seldom has metadata to commit; the caller's own identity is cached; the journal's checksum works on 32-bit words (a byte-wise CRC-32 cost 18 us per call here, and 13 ms at 10,000 entries); the read path takes the size from the fstat made after locking (no second fstat, no seek, no read for end of file); probes inside a change use the signal alone. Rewriting the journal in place (never truncating it, clearing its header instead) was tried too: writes gained about 10 us, but every read then had to open the journal to check its header (about 12 us), so it was reverted. What would close the rest: nothing small. The journal write is what makes a \`kill -9\` at any instant safe, and it costs a second file's write and truncation per change. The target assumes an fdatasync several times dearer than here (FACTS.md measured a 2,300/s floor, about 430 us); there the same fixed work would put the library near ${
        x(430 / (430 + usOf(results, "pair.1") - floorUs))
      } of the floor.`,
      "",
    );
  }

  const list = ratio("list.1");
  const get = ratio("get.1");
  const readVsWrite = rateOf(results, "floor.read") / write;
  out.push(
    `### list and get, nothing to clean: list ${verdict("list")}, get ${
      verdict("get")
    } (${x(list)} and ${x(get)} of the write floor)`,
    "",
    `Neither writes nor syncs anything: each takes a shared lock, reads, and probes the pid of each distinct process once. One probe (\`kill(pid, 0)\` and a read of \`/proc/<pid>/stat\`, to tell a reused pid or a zombie) costs ${
      fixed(probeUs, 1)
    } us; list with probes stubbed out runs at ${
      x(ratio("list.1.noprobe"))
    } of the write floor (${fixed(usOf(results, "list.1.noprobe"), 1)} us).`,
    "",
  );
  if (list < 10 || get < 10) {
    out.push(
      `Missed by a factor of ${
        (10 / Math.min(list, get)).toFixed(1)
      }. On this machine fdatasync is cheap, so 10x the write floor is ${
        fixed(floorUs / 10, 1)
      } us per call, only ${x(10 / readVsWrite)} of the read floor (${
        fixed(readUs, 1)
      } us, ${
        x(readVsWrite)
      } the write floor): less than the read floor plus one liveness probe (${
        fixed(readUs + probeUs, 1)
      } us), which is the least a \`list\` that checks liveness can cost. The rest is 4 system calls beyond the read floor's 4 (lstat of \`.ralph\` and of the file before opening, so that a symlink or a FIFO is refused before it is opened; fstat and lstat after locking, to notice a file replaced by rename; lstat of the journal), and the JSON decoding and checking of each entry. Reaching 10x here would also need dropping the \`/proc\` identity read, which would give up detecting reused pids and zombies. Where the write floor takes about 430 us, as on the machine FACTS.md describes, the same list would be ${
        x(430 / usOf(results, "list.1"))
      } of the floor.`,
      "",
    );
  }

  const per100 = usOf(results, "list.100") / 100;
  const per10k = usOf(results, "list.10000") / 10_000;
  out.push(
    `### list per entry: ${verdict("linear")} (${
      fixed(per10k, 2)
    } us per entry at 10,000 against ${fixed(per100, 2)} us at 100)`,
    "",
    `At 10,000 entries (${
      fixed(usOf(results, "list.10000") / 1000, 1)
    } ms) the cost is the JSON parse, the check of each entry's fields and the copy of each entry with its status; probing stays per distinct process (the entries are spread over 4 processes). At 100 entries the fixed cost of locking and probing is still a large share.`,
    "",
  );

  const one = contentionOf(results, 1, false);
  const eight = contentionOf(results, 8, false);
  const stubbedRatio = contentionOf(results, 8, true).rate /
    contentionOf(results, 1, true).rate;
  out.push(
    `### 8 processes: ${verdict("contention")} (${
      x(eight.rate / one.rate)
    } of one process's throughput); lost updates: ${
      t.get("lost")!.met ? "none" : "**some**"
    }`,
    "",
    `Changes are serialised by the exclusive flock, so the total cannot exceed one process's rate. The lock itself is seldom idle: the process that has just released it usually takes it again for its next call while the others sleep in their backoff. What falls as processes are added is the work inside each change: every change drops entries proven dead, so it probes each other process with an entry in the file (${
      fixed(probeUs, 1)
    } us each), and with 8 workers up to 7 of them have one. With the probes stubbed out in the workers (diagnostic rows), 8 processes run at ${
      x(stubbedRatio)
    } of one.`,
    "",
    `p99 latency grows with the number of processes (${
      fixed(eight.p99Ms, 1)
    } ms at 8) because waiters poll \`tryLock\` with a 1, 2, 4, 8 ms backoff rather than queueing, and a waiter only wins when it polls in the short gap between two calls of the holder: there is no fairness. A backoff capped at 2 ms instead of 8 ms was tried on a copy of the library (three interleaved runs): the same throughput, a lower p99 at 8 processes (about 65 instead of 100 ms) but a higher one at 4, so it was not changed. Fair hand-off would need waiters that queue (a blocking \`lock()\`), which cannot be given a timeout.`,
    "",
    t.get("lost")!.met
      ? "No update was lost: in every phase each process finally registered one entry while all were alive, every one was in the file and nothing else was, the file parsed, and no deregister found its entry missing."
      : `**Updates were lost**: ${t.get("lost")!.measured}.`,
    "",
  );
  if (!t.get("contention")!.met) {
    out.push(
      `Missed by a factor of ${
        (0.8 / (eight.rate / one.rate)).toFixed(2)
      }, because of the probes above. What would close it: a cheaper check of the other entries inside a change, e.g. \`kill(pid, 0)\` alone (about 1 us) to drop exited processes, leaving the \`/proc\` identity read (reused pids, zombies) to \`list\`, \`get\` and \`cleanStale\`; or remembering a verified identity for a short while. Both make a change clean less, a behaviour choice rather than a small fix, so neither was made here.`,
      "",
    );
  }

  const empty = cliMs(results, "empty");
  const node = cliMs(results, "node");
  const version = cliMs(results, "version");
  const listMs = cliMs(results, "list");
  const cliRatio = listMs / empty;
  out.push(
    `### \`loops list\`: ${verdict("cli")} (${
      x(cliRatio)
    } of \`deno run\` of an empty file: ${fixed(listMs, 1)} against ${
      fixed(empty, 1)
    } ms)`,
    "",
    `A file that only imports \`node:util\` already takes ${
      fixed(node, 1)
    } ms (${
      x(node / empty)
    }): the first \`node:\` import initialises Deno's Node compatibility layer. The CLI imports \`node:util\` (parseArgs) and the library \`node:path\`, as STYLE.md asks. Loading cli.ts and the library's modules brings \`loops --version\` to ${
      fixed(version, 1)
    } ms, and listing an empty workspace adds ${
      fixed(listMs - version, 1)
    } ms.`,
    "",
  );
  if (cliRatio > 1.5) {
    out.push(
      `Missed by a factor of ${
        (cliRatio / 1.5).toFixed(2)
      }. What would close it: no \`node:\` import on the CLI's start-up path (a small argument parser and path helpers of our own save the ${
        fixed(node - empty, 1)
      } ms of Node compatibility set-up), and fewer modules to load before the command runs (lazy \`import()\` of what a command does not need, such as \`watch\`, \`claim\` and the table formatter).`,
      "",
    );
  }
  out.push(
    `\`loops list --json\` at 10,000 entries takes ${
      fixed(cliMs(results, "json"), 0)
    } ms: start-up, \`list()\` (${
      fixed(usOf(results, "list.10000") / 1000, 1)
    } ms in process) and printing about 2.5 MB of JSON.`,
    "",
  );
  return out;
}

/** docs/performance.md. */
export function renderDoc(results: Results): string {
  const m = results.machine;
  return [
    "# Performance",
    "",
    "Every operation of `@loops/registry` measured against this machine's floor, in one run of the benchmark, as asked by issue 4. Absolute times on this shared 2-core machine are noisy; the ratios within one run are what the targets judge.",
    "",
    "## How to run",
    "",
    "```sh",
    "deno task bench                 # one to two minutes: prints the tables",
    "deno task bench --write-docs    # also rewrites this file and performance.svg",
    "deno task bench --quick         # under a minute, rough numbers (for CI: never judged)",
    "deno bench -A bench/            # the floors and the one-entry calls with deno bench",
    "```",
    "",
    `This file was generated by \`${results.command}\` (\`deno run -A bench/run.ts\`) on ${
      results.date.slice(0, 16).replace("T", " ")
    } UTC, in ${fixed(results.seconds)} s${
      results.quick ? ", **in quick mode: rough numbers**" : ""
    }. Raw numbers: \`bench/.results/latest.json\` (not committed).`,
    "",
    `Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu} (\`/proc/cpuinfo\`), Linux ${m.kernel}, /tmp on ${m.fs} (\`df -T /tmp\`), Deno ${m.deno}; load average ${
      m.loadavg.map((l) => l.toFixed(2)).join(", ")
    } at the start.`,
    "",
    "## Method",
    "",
    "- **Floors**, written plainly in Deno with the synchronous calls the library uses (`bench/_floor.ts`). Write floor: open, exclusive flock (`tryLockSync`, then `lockSync`), read, write 300 bytes in place, `fdatasync` (`syncDataSync`, as the library), close. Read floor: open, shared flock, read, close. Diagnostic variants (fsync; a file whose size alternates; plus a journal file) show where a registry change's cost goes.",
    "- **The library in one process**, with the async API, at 1, 100 and 10,000 entries. The entries are written directly into `.ralph/loops.json`, spread over 4 live `sleep 600` processes with their identity recorded, so nothing is ever cleaned (checked after the run). register+deregister registers an entry of the benchmark's own pid (not in the file; a register replaces entries of its pid) and removes it; each call counts. The benchmark runs with `-A`, like the CLI, so identity probing through `/proc` is on.",
    `- Each operation runs for ${results.settings.budgetMs} ms (and at least a few calls) in each of ${results.settings.rounds} interleaved rounds (every operation once per round, so a change of load on the machine hits all alike); the table gives the median round.`,
    `- **Contention**: 1, 2, 4 and 8 worker processes (\`bench/_worker.ts\`), each with its own pid, doing register/deregister pairs on one fresh registry for ${results.settings.contentionMs} ms, in ${results.settings.contentionRounds} interleaved rounds; the table gives the median round. Latency is per call; throughput counts all calls; the write floor is measured again in each round, as this table's reference. Lost updates: at the end of each phase every worker registers \`final-<n>\` and stays alive; the file must hold exactly those entries and parse, and no deregister may have missed its entry.`,
    `- **CLI**: wall time of \`deno run -A\`, median of ${results.settings.cliRuns} interleaved runs after one warm-up run that fills the module cache, from the repository root.`,
    "",
    "![Calls per second as a multiple of the write floor](performance.svg)",
    "",
    "## Results",
    "",
    "### Single process",
    "",
    singleTable(results),
    "",
    "Where the time of a register/deregister call goes: the same calls on another one-entry registry, in the same rounds, timed step by step through the library's write hook (a test seam):",
    "",
    breakdownTable(results),
    "",
    "### Contention: register/deregister pairs on one registry",
    "",
    contentionTable(results),
    "",
    "### CLI",
    "",
    cliTable(results),
    "",
    "## Targets",
    "",
    targetTable(results),
    "",
    ...analysis(results),
  ].join("\n");
}
