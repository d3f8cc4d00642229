// The one place the CLI chooses a storage engine: every command sees only
// the `Registry` interface. Today the engine is the file, LoopRegistry
// (`<workspace>/.ralph/loops.json`); another engine plugs in here, with
// what the CLI needs beyond the interface (a clean's preview).
import {
  defaultRegistryEnv,
  type LoopEntry,
  LoopRegistry,
  type Registry,
  type RegistryEnv,
} from "../mod.ts";
import { Judge, removedByClean } from "../src/_liveness.ts";
import { dirname } from "../src/_path.ts";
import { CliError } from "./_errors.ts";

/** Options for {@linkcode openRegistry}. */
export interface OpenOptions {
  /**
   * How long a call waits for the lock, in milliseconds.
   *
   * @default {the engine's}
   */
  lockTimeoutMs?: number;
}

/** The registry of `workspace` (an absolute path). */
export function openRegistry(
  workspace: string,
  options: OpenOptions = {},
): Registry {
  return new LoopRegistry(workspace, { lockTimeoutMs: options.lockTimeoutMs });
}

/**
 * Throws when the engine would refuse changes for want of a permission, so
 * that `run` fails before it starts a command rather than kill it at once.
 *
 * @throws {Deno.errors.NotCapable} If the file engine lacks `--allow-write`.
 */
export function assertWritable(registry: Registry): void {
  if (!(registry instanceof LoopRegistry)) return;
  const dir = dirname(registry.path);
  if (
    Deno.permissions.querySync({ name: "write", path: dir }).state !==
      "granted"
  ) {
    throw new Deno.errors.NotCapable(
      `Cannot register the loop as write access is not granted: run again with --allow-write=${dir}`,
    );
  }
}

/** An entry `cleanStale` would remove, and why. */
export interface Stale extends LoopEntry {
  /** `dead`: its process is gone; `orphan`: alive, its worktree gone. */
  status: "dead" | "orphan";
}

// Probes that prove nothing: read with them, every entry is `unknown`, so
// the read lists them all and removes none.
const NO_PROBES: RegistryEnv = {
  probe: () => "unknown",
  identify: () => undefined,
  isDirectory: () => undefined,
};

/**
 * What `registry.cleanStale()` would remove now, judged by the engine's own
 * cleaning policy; changes nothing.
 *
 * @throws {CliError} If the engine cannot tell.
 */
export async function previewClean(
  registry: Registry,
  options: OpenOptions = {},
): Promise<Stale[]> {
  if (!(registry instanceof LoopRegistry)) {
    throw new CliError(
      `Cannot preview a clean of "${registry.location}" as its engine does not say what it would remove`,
    );
  }
  const all = await new LoopRegistry(registry.workspace, {
    lockTimeoutMs: options.lockTimeoutMs,
    env: NO_PROBES,
  }).list();
  const judge = new Judge(defaultRegistryEnv, registry.workspace);
  const removed = removedByClean(judge, { orphans: true });
  return all.filter(removed).map(({ status: _, ...entry }) => ({
    ...entry,
    status: judge.verdict(entry) === "orphan" ? "orphan" : "dead",
  }));
}
