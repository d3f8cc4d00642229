// The figures that the hand-written analysis in docs/performance.md discusses,
// one small table per section, so that every number the prose relies on is
// regenerated with the run instead of being written into the prose.
import { fixed, table, x } from "./format.ts";
import {
  cliMs,
  cliRssKiB,
  contentionOf,
  DISTINCT,
  KEYS,
  ralphKey,
  rateIfAny,
  rateOf,
  type Results,
  type SingleKey,
  sized,
  stepUs,
  targetOf,
  usOf,
  vsWriteFloor,
} from "./results.ts";

/** The write floor's cost on the machine FACTS.md describes, in us. */
const SLOW_FLOOR_US = 430;

/** Ours against ralph's code, or why ralph's code was not measured. */
function vsRalph(results: Results, ours: SingleKey, theirs: SingleKey): string {
  const ralph = rateIfAny(results, theirs);
  if (ralph === undefined) {
    return "missing" in results.ralph
      ? `not measured: ${results.ralph.missing}`
      : "not measured";
  }
  return `${x(rateOf(results, ours) / ralph)} (${
    fixed(1e6 / ralph, 1)
  } us per ralph call)`;
}

function figureTable(rows: [string, string][]): string {
  return table([{ title: "figure" }, { title: "value" }], rows);
}

/** register+deregister at 1 entry against the write floors. */
export function pairFigures(results: Results): string {
  const floorUs = usOf(results, KEYS.writeFloor);
  const pairUs = usOf(results, sized("pair", 1));
  const after = stepUs(results, "write") + stepUs(results, "truncate") +
    stepUs(results, "done") + stepUs(results, "end");
  return figureTable([
    [
      "register+deregister, 1 entry",
      `${fixed(pairUs)} us per call, ${
        x(vsWriteFloor(results, sized("pair", 1)))
      } of the write floor`,
    ],
    ["write floor", `${fixed(floorUs)} us per call`],
    [
      "against ralph's code, 1 entry",
      vsRalph(results, sized("pair", 1), ralphKey("pair", 1)),
    ],
    [
      "against ralph's code, 100 entries",
      vsRalph(results, sized("pair", 100), ralphKey("pair", 100)),
    ],
    [
      "against ralph's code, 10,000 entries",
      vsRalph(results, sized("pair", 10_000), ralphKey("pair", 10_000)),
    ],
    [
      "write floor, size alternating 300/600 B",
      `${x(vsWriteFloor(results, KEYS.resizingFloor))} of the write floor`,
    ],
    [
      "the same plus the journal file: this design's floor",
      `${x(vsWriteFloor(results, KEYS.journaledFloor))} of the write floor`,
    ],
    [
      "register+deregister against this design's floor",
      x(
        rateOf(results, sized("pair", 1)) /
          rateOf(results, KEYS.journaledFloor),
      ),
    ],
    ["in fdatasync (write hook)", `${fixed(stepUs(results, "sync"))} us`],
    [
      "before the journal is written (write hook)",
      `${fixed(stepUs(results, "journal"))} us`,
    ],
    ["after the fdatasync and in the other writes", `${fixed(after)} us`],
    [
      `the same call where the write floor takes ${SLOW_FLOOR_US} us`,
      `${
        x(SLOW_FLOOR_US / (SLOW_FLOOR_US + pairUs - floorUs))
      } of the write floor`,
    ],
  ]);
}

/** list and get at 1 entry against the write and read floors. */
export function readFigures(results: Results): string {
  const floorUs = usOf(results, KEYS.writeFloor);
  const readUs = usOf(results, KEYS.readFloor);
  const probeUs = usOf(results, KEYS.probe);
  const readVsWrite = vsWriteFloor(results, KEYS.readFloor);
  const call = (key: SingleKey) =>
    `${fixed(usOf(results, key), 1)} us per call, ${
      x(vsWriteFloor(results, key))
    } of the write floor`;
  return figureTable([
    ["list, 1 entry", call(sized("list", 1))],
    ["get, 1 entry", call(sized("get", 1))],
    ["list, 1 entry, probes stubbed out", call("list.1.noprobe")],
    [
      "list, 1 entry, against ralph's list",
      vsRalph(results, sized("list", 1), ralphKey("list", 1)),
    ],
    [
      "list, 100 entries of 100 distinct processes",
      `${fixed(usOf(results, `list.${DISTINCT}`), 1)} us per call`,
    ],
    [
      "the same against ralph's list",
      vsRalph(results, `list.${DISTINCT}`, ralphKey("list", DISTINCT)),
    ],
    [
      "list, 10,000 entries over 4 processes, against ralph's list",
      vsRalph(results, sized("list", 10_000), ralphKey("list", 10_000)),
    ],
    [
      "one probe again (a held pidfd polled; src/_pidfd.ts)",
      `${fixed(probeUs, 1)} us`,
    ],
    ["read floor", call(KEYS.readFloor)],
    [
      "10x the write floor",
      `${fixed(floorUs / 10, 1)} us per call, ${
        x(10 / readVsWrite)
      } of the read floor`,
    ],
    ["read floor plus one probe", `${fixed(readUs + probeUs, 1)} us`],
    [
      `list, 1 entry, where the write floor takes ${SLOW_FLOOR_US} us`,
      `${x(SLOW_FLOOR_US / usOf(results, sized("list", 1)))} of the floor`,
    ],
  ]);
}

/** list's cost per entry at 100 and 10,000 entries. */
export function linearFigures(results: Results): string {
  const listUs = (size: 100 | 10_000) => usOf(results, sized("list", size));
  return figureTable([
    ["list per entry at 100 entries", `${fixed(listUs(100) / 100, 2)} us`],
    [
      "list per entry at 10,000 entries",
      `${fixed(listUs(10_000) / 10_000, 2)} us`,
    ],
    ["list at 10,000 entries", `${fixed(listUs(10_000) / 1000, 1)} ms`],
  ]);
}

/** Throughput and latency at 8 processes against 1. */
export function contentionFigures(results: Results): string {
  const ratio = (stubbed: boolean) =>
    x(
      contentionOf(results, 8, { stubbed }).rate /
        contentionOf(results, 1, { stubbed }).rate,
    );
  return figureTable([
    ["8 processes against 1, total throughput", ratio(false)],
    ["the same with probes stubbed out in the workers", ratio(true)],
    [
      "p99 latency at 8 processes",
      `${fixed(contentionOf(results, 8).p99Ms, 1)} ms`,
    ],
    [
      "least served / most served at 8 processes",
      fixed(contentionOf(results, 8).fairness, 2),
    ],
    [
      "8 C processes in a blocking flock: p99, least/most served",
      results.lockBaseline === undefined
        ? `not measured: ${results.lockBaselineMissing ?? ""}`
        : `${fixed(results.lockBaseline.p99Ms, 1)} ms, ${
          fixed(results.lockBaseline.fairness, 2)
        }`,
    ],
    [
      "one probe again (a held pidfd polled)",
      `${fixed(usOf(results, KEYS.probe), 1)} us`,
    ],
    ["lost updates", targetOf(results, "lost").measured],
  ]);
}

/** The CLI's start-up against `deno run` of an empty file. */
export function cliFigures(results: Results): string {
  const empty = cliMs(results, "empty");
  const node = cliMs(results, "node");
  const list = cliMs(results, "list");
  const version = cliMs(results, "version");
  return figureTable([
    [
      "`loops list`, empty workspace",
      `${fixed(list, 1)} ms, ${x(list / empty)} of an empty file`,
    ],
    ["`deno run` of an empty file", `${fixed(empty, 1)} ms`],
    [
      'a file holding only `import "node:util"`',
      `${fixed(node, 1)} ms, ${x(node / empty)} of an empty file`,
    ],
    ["`loops --version`", `${fixed(version, 1)} ms`],
    ["`loops list` beyond `loops --version`", `${fixed(list - version, 1)} ms`],
    [
      "`loops list --json`, 100 entries",
      `${fixed(cliMs(results, "json100"), 1)} ms`,
    ],
    [
      "`loops list --json`, 10,000 entries",
      `${fixed(cliMs(results, "json"))} ms`,
    ],
    [
      "max RSS: `deno run` of an empty file",
      (() => {
        const kib = cliRssKiB(results, "empty");
        return kib === undefined
          ? `not measured: ${results.cliRssMissing ?? ""}`
          : `${fixed(kib / 1024, 1)} MiB`;
      })(),
    ],
    [
      "max RSS: `loops list --json`, 10,000 vs 100 entries",
      targetOf(results, "rss").measured,
    ],
    [
      "`list()`, 10,000 entries, in process",
      `${fixed(usOf(results, sized("list", 10_000)) / 1000, 1)} ms`,
    ],
  ]);
}
