// Where a workspace's registry lives, and the small synchronous file helpers
// every store module shares: lstat that tolerates absence, whole writes and
// reads, and the translation of a missing Deno permission into an error that
// names the flag.
import { join } from "./_path.ts";
import { CorruptRegistryError } from "./errors.ts";

/** Where the registry of one workspace lives. */
export interface RegistryPaths {
  /** The workspace root. */
  workspace: string;
  /** `<workspace>/.ralph`. */
  dir: string;
  /** `<workspace>/.ralph/loops.json`. */
  file: string;
  /** `<workspace>/.ralph/loops.json.journal`. */
  journal: string;
}

/** The paths of the registry of `workspace` (an absolute path). */
export function registryPaths(workspace: string): RegistryPaths {
  const dir = join(workspace, ".ralph");
  const file = join(dir, "loops.json");
  return { workspace, dir, file, journal: `${file}.journal` };
}

/** The permission a file or process call needs. */
export type PermissionKind = "read" | "write" | "run";

/** Translates a missing Deno permission into an error naming the flag. */
export function permissionError(
  cause: unknown,
  kind: PermissionKind,
  scope: string | undefined,
  act: string,
): unknown {
  if (!(cause instanceof Deno.errors.NotCapable)) return cause;
  const flag = scope === undefined
    ? `--allow-${kind}`
    : `--allow-${kind}=${scope}`;
  return new Deno.errors.NotCapable(
    `Cannot ${act} as ${kind} access is not granted: run again with ${flag}`,
    { cause },
  );
}

/** Runs `fn`; a missing permission becomes an error naming the flag. */
export function guarded<T>(
  kind: "read" | "write",
  paths: RegistryPaths,
  act: string,
  fn: () => T,
): T {
  try {
    return fn();
  } catch (error) {
    throw permissionError(error, kind, paths.dir, act);
  }
}

/** `lstat`, or `undefined` when the path does not exist. */
export function lstatOrUndefined(
  path: string,
  paths: RegistryPaths,
): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw permissionError(error, "read", paths.dir, `read "${path}"`);
  }
}

/** Writes all of `bytes` at the file's current offset. */
export function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    offset += file.writeSync(bytes.subarray(offset));
  }
}

/** Reads up to `length` bytes from the file's offset (fewer at its end). */
export function readUpTo(file: Deno.FsFile, length: number): Uint8Array {
  const buffer = new Uint8Array(length);
  let offset = 0;
  while (offset < length) {
    const n = file.readSync(buffer.subarray(offset));
    if (n === null || n === 0) break;
    offset += n;
  }
  return buffer.subarray(0, offset);
}

/** Refuses a symbolic link where the registry keeps a file or directory. */
export function refuseSymlink(path: string, what: string): never {
  throw new CorruptRegistryError(
    path,
    `${what} is a symbolic link, which could redirect writes elsewhere`,
    { kind: "symlink" },
  );
}

/** Refuses a directory, FIFO or device where a regular file must be. */
export function refuseIrregular(path: string, what: string): never {
  // Opening a FIFO would block forever; a directory cannot be rewritten.
  throw new CorruptRegistryError(
    path,
    `${what} is not a regular file (a directory, FIFO or device is in its place)`,
    { kind: "not-regular" },
  );
}

/** Checks that `info` (an lstat) is of a regular file, not a link. */
export function checkRegularFile(
  info: Deno.FileInfo,
  path: string,
  what: string,
): void {
  if (info.isSymlink) refuseSymlink(path, what);
  if (!info.isFile) refuseIrregular(path, what);
}
