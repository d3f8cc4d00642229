// The file engine's watch: a list at once, then again whenever `.ralph/`
// changes (seen with `Deno.watchFs`, also before `.ralph/` exists) or a
// loop's liveness changes (checked every `intervalMs`), until aborted.
import { lstatOrUndefined, type RegistryPaths } from "./_files.ts";
import type { LoopInfo } from "./loop_entry.ts";
import type { WatchOptions } from "./registry.ts";

/** Yields `list()` at once and after each change of its result. */
export async function* watchFiles(
  paths: RegistryPaths,
  list: () => Promise<LoopInfo[]>,
  options: WatchOptions = {},
): AsyncGenerator<LoopInfo[]> {
  const { signal, intervalMs = 2000 } = options;
  let dirty = true;
  let wake = () => {};
  const poke = () => {
    dirty = true;
    wake();
  };
  const watchers: Deno.FsWatcher[] = [];
  const pumps: Promise<void>[] = [];
  const watch = (path: string) => {
    const watcher = Deno.watchFs(path, { recursive: false });
    watchers.push(watcher);
    pumps.push((async () => {
      // "access" is a close after opening for writing: a read that opened
      // read-write (see _lock.ts), not a change. A change is "modify".
      for await (const event of watcher) if (event.kind !== "access") poke();
    })());
  };
  const onAbort = () => wake();
  signal?.addEventListener("abort", onAbort);
  const timer = setInterval(poke, intervalMs);
  let last: string | undefined;
  let watchingDir = false;
  try {
    watch(paths.workspace);
    while (!signal?.aborted) {
      if (!watchingDir && lstatOrUndefined(paths.dir, paths)) {
        watch(paths.dir);
        watchingDir = true;
      }
      if (dirty) {
        dirty = false;
        const loops = await list();
        const key = JSON.stringify(loops);
        if (key !== last) {
          last = key;
          yield loops;
        }
        continue;
      }
      await new Promise<void>((resolve) => wake = resolve);
    }
  } finally {
    clearInterval(timer);
    signal?.removeEventListener("abort", onAbort);
    for (const watcher of watchers) watcher.close();
    await Promise.all(pumps);
  }
}
