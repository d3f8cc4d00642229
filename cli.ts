/**
 * The `loops` command: list, wrap, watch and stop the agent loops of a
 * workspace. This file is the entry point only; the commands are in `cli/`,
 * one file each, and their help is made from their specs.
 *
 * @example Run the CLI in-process, capturing its output
 * ```ts
 * import { main } from "@loops/registry/cli";
 * import assert from "node:assert/strict";
 *
 * const out: string[] = [];
 * assert.equal(await main(["help"], { out: (text) => out.push(text) }), 0);
 * assert.match(out[0]!, /\nCOMMANDS:\n/);
 * ```
 *
 * @example Run it as a program
 * ```ts ignore
 * import { main } from "@loops/registry/cli";
 *
 * Deno.exitCode = await main(Deno.args);
 * ```
 *
 * @module
 */
import { main } from "./cli/main.ts";

export { main };
export type { CliIo } from "./cli/io.ts";

if (import.meta.main) Deno.exitCode = await main(Deno.args);
