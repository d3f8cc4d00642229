// The chart of docs/performance.svg: every rate as a multiple of the write
// floor, one bar each, on a log scale, with the targets as red ticks.
import { int, x } from "./format.ts";
import {
  type FixedKey,
  KEYS,
  rateOf,
  type Results,
  type SingleKey,
  type SingleResult,
} from "./results.ts";
import { LIMITS } from "./targets.ts";

const COLORS = {
  floor: "#8c8c8c",
  write: "#3b6fb6",
  read: "#3a9a5b",
  contention: "#d9822b",
  diag: "#b9b9b9",
  ralph: "#8e5ea2",
} as const;

/** Short names of the size-independent measurements (the probe is left out). */
const NAMES: Record<Exclude<FixedKey, "probe">, string> = {
  "floor.write": "write floor",
  "floor.read": "read floor",
  "diag.fsync": "write floor, fsync",
  "diag.resizing": "write floor, size changes",
  "diag.journaled": "same + journal file",
};

/** The target ratios drawn as ticks. */
const TICKS: Partial<Record<SingleKey, number>> = {
  "pair.1": LIMITS.pair,
  "list.1": LIMITS.list,
  "get.1": LIMITS.get,
};

interface Bar {
  label: string;
  ratio: number;
  color: string;
  target?: number;
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");
}

function barLabel(r: SingleResult): string {
  if (r.key in NAMES) return NAMES[r.key as keyof typeof NAMES];
  const ralph = r.group === "ralph";
  const op = r.key.split(".")[ralph ? 1 : 0];
  const name = `${ralph ? "ralph's " : ""}${
    op === "pair" ? "register+deregister" : op
  }`;
  const size =
    (r.entries === undefined
      ? ""
      : `, ${int(r.entries)} entr${r.entries === 1 ? "y" : "ies"}`) +
    (r.key.endsWith(".distinct") ? " of distinct processes" : "");
  return r.group === "diag" ? `${name}${size}, no probes` : `${name}${size}`;
}

function bars(results: Results): Bar[] {
  const write = rateOf(results, KEYS.writeFloor);
  const single = results.single.filter((r) => r.group !== "probe").map((r) => ({
    label: barLabel(r),
    ratio: r.rate / write,
    color: COLORS[r.group as keyof typeof COLORS],
    target: TICKS[r.key],
  }));
  const contention = results.contention.map((c) => ({
    label: `${c.procs} process${c.procs > 1 ? "es" : ""}, total${
      c.stubbed ? ", no probes" : ""
    }`,
    ratio: c.rate / results.contentionFloor,
    color: c.stubbed ? COLORS.diag : COLORS.contention,
  }));
  return [...single, ...contention];
}

/** A horizontal bar chart of ratios to the write floor, log scale. */
export function renderChart(results: Results): string {
  const all = bars(results);
  const ratios = all.map((b) => b.ratio).filter((r) => r > 0);
  const lo = Math.floor(Math.log10(Math.min(...ratios, 0.9)));
  const hi = Math.ceil(Math.log10(Math.max(...ratios, 10)));
  const left = 230;
  const width = 560;
  const rowHeight = 20;
  const top = 40;
  const height = top + all.length * rowHeight + 52;
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
  all.forEach((bar, i) => {
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
