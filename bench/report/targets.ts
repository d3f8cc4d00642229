// The targets of issue 4, judged against one run. This file is the one place
// that states each target's limit.
import { fixed, x } from "./format.ts";
import {
  cliMs,
  contentionOf,
  type Results,
  sized,
  type Target,
  type TargetKey,
  usOf,
  vsWriteFloor,
} from "./results.ts";

/** Each numeric target's limit: a ratio the measurement must reach or stay under. */
export const LIMITS = {
  pair: 0.9,
  list: 10,
  get: 10,
  linear: 2,
  contention: 0.8,
  cli: 1.5,
} as const satisfies Partial<Record<TargetKey, number>>;

interface Bound {
  key: TargetKey;
  name: string;
  value: number;
  limit: number;
  /** What the table shows; the ratio when not given. */
  measured?: string;
}

function atLeast(bound: Bound): Target {
  const met = bound.value >= bound.limit;
  return {
    key: bound.key,
    name: bound.name,
    measured: bound.measured ?? x(bound.value),
    required: `>= ${bound.limit}x`,
    met,
    missedBy: met ? undefined : bound.limit / bound.value,
  };
}

function atMost(bound: Bound): Target {
  const met = bound.value <= bound.limit;
  return {
    key: bound.key,
    name: bound.name,
    measured: bound.measured ?? x(bound.value),
    required: `<= ${bound.limit}x`,
    met,
    missedBy: met ? undefined : bound.value / bound.limit,
  };
}

/** Checks each target of issue 4 against the run. */
export function evaluate(results: Results): Target[] {
  const perEntry100 = usOf(results, sized("list", 100)) / 100;
  const perEntry10k = usOf(results, sized("list", 10_000)) / 10_000;
  const one = contentionOf(results, 1);
  const eight = contentionOf(results, 8);
  const lost = results.contention.filter((c) => c.lost !== undefined);
  const list = cliMs(results, "list");
  const empty = cliMs(results, "empty");
  return [
    atLeast({
      key: "pair",
      name: "register+deregister, 1 entry, vs write floor",
      value: vsWriteFloor(results, sized("pair", 1)),
      limit: LIMITS.pair,
    }),
    atLeast({
      key: "list",
      name: "list, 1 entry, nothing to clean, vs write floor",
      value: vsWriteFloor(results, sized("list", 1)),
      limit: LIMITS.list,
    }),
    atLeast({
      key: "get",
      name: "get, 1 entry, nothing to clean, vs write floor",
      value: vsWriteFloor(results, sized("get", 1)),
      limit: LIMITS.get,
    }),
    atMost({
      key: "linear",
      name: "list cost per entry at 10,000 vs at 100",
      value: perEntry10k / perEntry100,
      limit: LIMITS.linear,
      measured: `${x(perEntry10k / perEntry100)} (${fixed(perEntry10k, 2)} vs ${
        fixed(perEntry100, 2)
      } us)`,
    }),
    atLeast({
      key: "contention",
      name: "8 processes vs 1: total throughput",
      value: eight.rate / one.rate,
      limit: LIMITS.contention,
    }),
    {
      key: "lost",
      name: "lost updates, 1 to 8 processes",
      measured: lost.length === 0
        ? "none"
        : lost.map((c) => `${c.procs} procs: ${c.lost}`).join("; "),
      required: "none",
      met: lost.length === 0,
    },
    atMost({
      key: "cli",
      name: "`loops list` vs `deno run` of an empty file",
      value: list / empty,
      limit: LIMITS.cli,
      measured: `${x(list / empty)} (${fixed(list)} vs ${fixed(empty)} ms)`,
    }),
  ];
}

/** The Markdown verdict of a target, e.g. `**missed** (by 2.0x)`. */
export function verdict(target: Target): string {
  if (target.met) return "met";
  const by = target.missedBy;
  return by === undefined
    ? "**missed**"
    : `**missed** (by ${by.toFixed(by < 1.5 ? 2 : 1)}x)`;
}
