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
//
// Root creating a file in another user's `.ralph/` pins the directory
// first: a descriptor opened with O_DIRECTORY|O_NOFOLLOW, through which
// (`/proc/self/fd/<n>/<name>`) the file is created and given away. Renaming
// `.ralph` or a directory above it meanwhile cannot move the creation
// elsewhere: it lands in the directory judged, or fails. Deno lets a process
// open paths under /proc only with all permissions (`-A`); without them,
// `pin` throws NotCapable and the caller says so.
import { createExclusive, type RegistryPaths, swappedError } from "./_files.ts";
import { callerUid, describeUid } from "./_trust.ts";

interface NodeStats {
  dev: number;
  ino: number;
  uid: number;
  gid: number;
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

/** A directory held open; `path` names it whatever is renamed meanwhile. */
export interface Pinned extends Disposable {
  /** `/proc/self/fd/<n>`: paths under it resolve inside the directory. */
  path: string;
  /** Its owner. */
  uid: number;
  /** Its group. */
  gid: number;
}

/**
 * Opens the directory `path` (a link in its place is refused unless
 * `follow`) and holds it; when `expected` is given it must be that
 * directory.
 *
 * @throws {Deno.errors.Busy} If it is not `expected` (it was swapped).
 */
export function pin(
  path: string,
  options: { expected?: Deno.FileInfo; follow: boolean },
  paths: RegistryPaths,
): Pinned {
  const fs = nodeFs();
  const c = fs.constants;
  const flags = c.O_RDONLY | c.O_DIRECTORY |
    (options.follow ? 0 : c.O_NOFOLLOW);
  let fd: number;
  try {
    fd = fs.openSync(path, flags);
  } catch (error) {
    if (["ENOENT", "ELOOP", "ENOTDIR"].includes(codeOf(error))) {
      throw swappedError(path, "the directory");
    }
    throw translate(error, path, paths);
  }
  const info = fs.fstatSync(fd);
  const { expected } = options;
  if (
    expected !== undefined &&
    (info.dev !== expected.dev || info.ino !== expected.ino)
  ) {
    fs.closeSync(fd);
    throw swappedError(path, "the directory");
  }
  return {
    path: `/proc/self/fd/${fd}`,
    uid: info.uid,
    gid: info.gid,
    [Symbol.dispose]() {
      fs.closeSync(fd);
    },
  };
}

/** Gives a file just created its exact mode and owner, by descriptor. */
function settle(
  at: string,
  file: Deno.FsFile,
  mode: number | undefined,
  owner: { uid: number; gid: number } | undefined,
  what: string,
  paths: RegistryPaths,
): void {
  const info = file.statSync();
  if (mode !== undefined && ((info.mode ?? mode) & 0o777) !== mode) {
    chmodThrough(at, info, mode, what, paths);
  }
  if (owner !== undefined && info.uid !== owner.uid) {
    chownThrough(at, info, owner, what, paths);
  }
}

/**
 * Creates `name` in `.ralph` (whose lstat is `dir`) with O_EXCL, open
 * read-write, with the permission bits `mode` (exactly, when `exact`; else
 * as the umask leaves them). When root creates it in another user's
 * `.ralph`, it is created through the pinned directory and given to that
 * directory's owner and group. Returns `undefined` when the name exists.
 *
 * @throws {Deno.errors.NotCapable} If root lacks `-A` to pin the directory.
 */
export function createOwned(
  paths: RegistryPaths,
  dir: Deno.FileInfo,
  name: string,
  mode: number,
  exact: boolean,
): Deno.FsFile | undefined {
  const path = `${paths.dir}/${name}`;
  const owner = dir.uid === null || dir.uid === 0
    ? undefined
    : { uid: dir.uid, gid: dir.gid ?? dir.uid };
  const wanted = exact ? mode : undefined;
  if (callerUid() === 0 && owner !== undefined) {
    let pinned: Pinned;
    try {
      pinned = pin(paths.dir, { expected: dir, follow: false }, paths);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
      throw new Deno.errors.NotCapable(
        `Cannot create "${path}" as root in a directory owned by ${
          describeUid(owner.uid)
        } without all permissions: it is created through the directory held open (/proc/self/fd), which Deno allows only with -A; run again with -A, or as that user`,
        { cause: error },
      );
    }
    using _pinned = pinned;
    const at = `${pinned.path}/${name}`;
    const file = createExclusive(at, mode, paths);
    if (file === undefined) return undefined;
    try {
      settle(at, file, wanted, owner, name, paths);
      return file;
    } catch (error) {
      file.close();
      throw error;
    }
  }
  const file = createExclusive(path, mode, paths);
  if (file === undefined) return undefined;
  try {
    // Root whose uid could not be read (no --allow-sys) learns it here, and
    // gives the file away through a descriptor of the path.
    const root = file.statSync().uid === 0 ? owner : undefined;
    settle(path, file, wanted, root, name, paths);
    return file;
  } catch (error) {
    file.close();
    throw error;
  }
}

/**
 * Makes the directory `name` inside the pinned directory `parent` (links
 * among its ancestors followed) and gives it to the owner of `parent`;
 * `false` when the name exists.
 *
 * @throws {Deno.errors.NotCapable} Without all permissions (`-A`).
 */
export function mkdirFor(
  parent: string,
  name: string,
  mode: number,
  paths: RegistryPaths,
): boolean {
  using pinned = pin(parent, { follow: true }, paths);
  const at = `${pinned.path}/${name}`;
  try {
    Deno.mkdirSync(at, { mode });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
  const made = Deno.lstatSync(at);
  if (pinned.uid !== 0 && made.uid === 0) {
    chownThrough(at, made, { uid: pinned.uid, gid: pinned.gid }, name, paths);
  }
  return true;
}
