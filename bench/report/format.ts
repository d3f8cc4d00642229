// How the report writes numbers and Markdown tables.

/** A ratio with about three significant digits, e.g. `0.46x`, `21.0x`. */
export function x(ratio: number): string {
  return ratio >= 100
    ? `${ratio.toFixed(0)}x`
    : ratio >= 10
    ? `${ratio.toFixed(1)}x`
    : ratio >= 0.1
    ? `${ratio.toFixed(2)}x`
    : `${ratio.toPrecision(2)}x`;
}

/** A whole number with thousands separators, e.g. `10,000`. */
export function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Microseconds per call of a rate in calls per second. */
export function us(rate: number): string {
  const value = 1e6 / rate;
  return value >= 100 ? int(value) : value.toFixed(1);
}

/** `n` with `digits` decimals. */
export function fixed(n: number, digits = 0): string {
  return n.toFixed(digits);
}

/** The alignment of a table column. */
export type Align = "left" | "right";

/** A column of a Markdown table. */
export interface Column {
  title: string;
  /** @default {"left"} */
  align?: Align;
}

/** A Markdown table; `deno fmt` pads it afterwards. */
export function table(columns: Column[], rows: string[][]): string {
  return [
    `| ${columns.map((c) => c.title).join(" | ")} |`,
    `|${columns.map((c) => c.align === "right" ? "--:" : "---").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}
