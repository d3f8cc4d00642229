import { dirname, join, resolve } from "./_path.ts";

/**
 * Finds the workspace of a directory the way git finds `.git`: the nearest
 * ancestor of `start` (itself included) that holds a `.ralph/` directory, or
 * `start` itself when none does.
 *
 * Requires `--allow-read` for `start` and its ancestors.
 *
 * @param start The directory to start from (made absolute).
 * @returns The workspace root.
 *
 * @example Find the workspace from a subdirectory
 * ```ts
 * import { findWorkspace } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/.ralph`);
 * await Deno.mkdir(`${root}/src/deep`, { recursive: true });
 * assert.equal(findWorkspace(`${root}/src/deep`), root);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function findWorkspace(start: string): string {
  const from = resolve(start);
  for (let dir = from;; dir = dirname(dir)) {
    try {
      if (Deno.statSync(join(dir, ".ralph")).isDirectory) return dir;
    } catch (error) {
      if (
        !(error instanceof Deno.errors.NotFound) &&
        !(error instanceof Deno.errors.PermissionDenied) &&
        !(error instanceof Deno.errors.NotADirectory)
      ) {
        throw error;
      }
    }
    if (dirname(dir) === dir) return from;
  }
}
