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

/** One contention measurement. */
export interface ContentionResult {
  procs: number;
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

/** Everything one run measured. */
export interface Results {
  command: string;
  quick: boolean;
  date: string;
  seconds: number;
  machine: Machine;
  single: SingleResult[];
  contention: ContentionResult[];
  cli: CliResult[];
  targets: Target[];
}

function rateOf(results: Results, key: string): number {
  const found = results.single.find((r) => r.key === key);
  if (found === undefined) throw new Error(`No result for ${key}`);
  return found.rate;
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
  const one = results.contention.find((c) => c.procs === 1)!;
  const eight = results.contention.find((c) => c.procs === 8)!;
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

function contentionTable(results: Results): string {
  const write = rateOf(results, "floor.write");
  const one = results.contention.find((c) => c.procs === 1)!.rate;
  return [
    "| processes | calls | total calls/s | x 1 process | x write floor | p50 ms | p99 ms | lost updates |",
    "|--:|--:|--:|--:|--:|--:|--:|---|",
    ...results.contention.map((c) =>
      `| ${c.procs} | ${int(c.calls)} | ${int(c.rate)} | ${x(c.rate / one)} | ${
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
    const size = r.entries === undefined ? "" : ` (${int(r.entries)})`;
    const label = r.key === "floor.write"
      ? "write floor"
      : r.key === "floor.read"
      ? "read floor"
      : r.group === "diag"
      ? (r.key.startsWith("list.") ? `list${size}, no probes` : r.key
        .replace("diag.", "floor: "))
      : `${r.key.split(".")[0]}${size}`;
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
      label: `${c.procs} proc${c.procs > 1 ? "s" : ""}, pairs`,
      ratio: c.rate / write,
      color: colors.contention,
    });
  }
  const ratios = bars.map((b) => b.ratio).filter((r) => r > 0);
  const lo = Math.floor(Math.log10(Math.min(...ratios, 0.9)));
  const hi = Math.ceil(Math.log10(Math.max(...ratios, 10)));
  const left = 170;
  const width = 560;
  const rowHeight = 20;
  const top = 40;
  const height = top + bars.length * rowHeight + 40;
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
        height - 30
      }" stroke="${p === 0 ? "#444" : "#ddd"}"/>`,
      `<text x="${at}" y="${height - 16}" text-anchor="middle">${
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
      `<text x="${(end + 4).toFixed(1)}" y="${y + 13}">${x(bar.ratio)}</text>`,
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
      height - 2
    }" fill="#666">red tick: target; grey: floors and diagnostics; blue: writes; green: reads; orange: contention (total)</text>`,
    "</svg>",
    "",
  );
  return parts.join("\n");
}

/** docs/performance.md. */
export function renderDoc(results: Results): string {
  const m = results.machine;
  return [
    "# Performance",
    "",
    `Generated by \`${results.command}\` on ${results.date.slice(0, 10)} (${
      results.seconds.toFixed(0)
    } s${results.quick ? ", **quick mode: rough numbers**" : ""}).`,
    "",
    `Machine: ${m.nproc} CPUs (${m.cpu}), Linux ${m.kernel}, /tmp on ${m.fs}, Deno ${m.deno}, load average ${
      m.loadavg.map((l) => l.toFixed(2)).join(" ")
    } at start.`,
    "",
    "![ratios to the write floor](performance.svg)",
    "",
    renderTables(results),
    "",
  ].join("\n");
}
