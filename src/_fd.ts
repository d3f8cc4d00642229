// Owner and mode changes through a descriptor, which Deno's own API lacks
// (`Deno.chown`/`Deno.chmod` act by path and follow links; `Deno.FsFile` has
// neither fchown nor fchmod). They go through `node:fs`, whose descriptors
// are real ones and whose `openSync` takes O_NOFOLLOW and O_NONBLOCK.
//
// `node:fs` is loaded on first use only, with `process.getBuiltinModule`
// (synchronous, so it can run inside a Step): loading it costs about 40 ms,
// paid only by a process that needs it, i.e. root creating a file under a
// user's `.ralph/`, or a journal whose mode must follow loops.json's. A
// static import would add those 40 ms to every CLI start (its budget is 1.4x
// an empty `deno run`).
//
// The path is reopened with O_NOFOLLOW|O_NONBLOCK and its fstat must match
// the file this process holds (same device and inode): the change then
// lands on that file, or nowhere.
import { type RegistryPaths, swappedError } from "./_files.ts";

interface NodeStats {
  dev: number;
  ino: number;
}

interface NodeFs {
  openSync(path: string, flags: number): number;
  fstatSync(fd: number): NodeStats;
  fchownSync(fd: number, uid: number, gid: number): void;
  fchmodSync(fd: number, mode: number): void;
  closeSync(fd: number): void;
  constants: {
    O_RDONLY: number;
    O_NOFOLLOW: number;
    O_NONBLOCK: number;
    O_DIRECTORY: number;
  };
}

let loaded: NodeFs | undefined;

function nodeFs(): NodeFs {
  if (loaded !== undefined) return loaded;
  const host = globalThis as {
    process?: { getBuiltinModule?(id: string): unknown };
  };
  const fs = host.process?.getBuiltinModule?.("node:fs") as NodeFs | undefined;
  if (fs === undefined) {
    throw new Deno.errors.NotSupported(
      "Cannot change a file's owner or mode through its descriptor as node:fs is not available in this runtime",
    );
  }
  return loaded = fs;
}

/** Node's errors carry a `code` string (`ENOENT`, `ELOOP`, ...). */
function codeOf(error: unknown): string {
  return String((error as { code?: unknown }).code);
}

/**
 * Runs `fn` on a descriptor of `path` opened without following a link and
 * without blocking, if it is the file `expected` is the stat of.
 *
 * @throws {Deno.errors.Busy} If `path` names another file now.
 */
function through(
  path: string,
  expected: Deno.FileInfo,
  what: string,
  paths: RegistryPaths,
  fn: (fs: NodeFs, fd: number) => void,
): void {
  const fs = nodeFs();
  const c = fs.constants;
  const flags = c.O_RDONLY | c.O_NOFOLLOW | c.O_NONBLOCK |
    (expected.isDirectory ? c.O_DIRECTORY : 0);
  let fd: number;
  try {
    fd = fs.openSync(path, flags);
  } catch (error) {
    if (["ENOENT", "ELOOP", "ENOTDIR"].includes(codeOf(error))) {
      throw swappedError(path, what);
    }
    throw translate(error, path, paths);
  }
  try {
    const info = fs.fstatSync(fd);
    if (info.dev !== expected.dev || info.ino !== expected.ino) {
      throw swappedError(path, what);
    }
    fn(fs, fd);
  } catch (error) {
    throw translate(error, path, paths);
  } finally {
    fs.closeSync(fd);
  }
}

function translate(error: unknown, path: string, paths: RegistryPaths) {
  if (error instanceof Deno.errors.NotCapable) {
    return new Deno.errors.NotCapable(
      `Cannot change the owner or mode of "${path}" as write access is not granted: run again with --allow-write=${paths.dir}`,
      { cause: error },
    );
  }
  const code = codeOf(error);
  if (code === "EPERM" || code === "EACCES") {
    return new Deno.errors.PermissionDenied(
      `Cannot change the owner or mode of "${path}" as the OS refuses it (${code})`,
      { cause: error },
    );
  }
  return error;
}

/**
 * Gives the file (or directory) `expected` is the stat of, named `path`, to
 * `uid` and `gid`, through a descriptor.
 */
export function chownThrough(
  path: string,
  expected: Deno.FileInfo,
  owner: { uid: number; gid: number },
  what: string,
  paths: RegistryPaths,
): void {
  through(
    path,
    expected,
    what,
    paths,
    (fs, fd) => fs.fchownSync(fd, owner.uid, owner.gid),
  );
}

/** Sets the permission bits of the file `expected` is the stat of. */
export function chmodThrough(
  path: string,
  expected: Deno.FileInfo,
  mode: number,
  what: string,
  paths: RegistryPaths,
): void {
  through(path, expected, what, paths, (fs, fd) => fs.fchmodSync(fd, mode));
}
