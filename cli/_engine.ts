// The one place the CLI chooses a storage engine: every command sees only
// the `Registry` interface. Today the engine is the file, LoopRegistry
// (`<workspace>/.ralph/loops.json`); another engine plugs in here.
import { LoopRegistry, type Registry } from "../mod.ts";
import { dirname } from "../src/_path.ts";

/** The registry of `workspace` (an absolute path). */
export function openRegistry(workspace: string): Registry {
  return new LoopRegistry(workspace);
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
