// Where a workspace's registry lives and how its files are made, and the
// small synchronous file helpers every store module shares: lstat that
// tolerates absence, opening without creating, creating with O_EXCL, the
// check that an open descriptor is the file its path names, whole writes and
// reads, and the translation of a missing Deno permission into an error that
// names the flag.
//
// The rules for every file this module writes (its header is the one place
// they are stated; _lock.ts, _journal.ts and _durable_write.ts follow them):
//
// 1. A file is opened without `create` and without `truncate`: such an open
//    changes no byte even when a link or a swapped file is in its place.
// 2. A file is created only with `createNew` (O_CREAT|O_EXCL), which fails on
//    any existing name, a dangling symbolic link included.
// 3. Before any byte is written or truncated, the descriptor is checked
//    (`verifyOpened`): its fstat must be a regular file with one link and the
//    same device and inode as an lstat of the path taken after the open.
// 4. Modes and owners are never set by path: only through a descriptor
//    (_fd.ts), and only on a file this process has just created.
// 5. Writes open read-write: opening a FIFO read-write does not block on
//    Linux. Reads open read-only unless others could swap the file (see
//    `exposed` in _trust.ts), then read-write when the process may write.
import { join } from "./_path.ts";
import { CorruptRegistryError } from "./errors.ts";

/** How the registry's files are made and judged. */
export interface FilePolicy {
  /** Skip the ownership and mode rule of _trust.ts (`LOOPS_TRUST`). */
  trusted: boolean;
  /** Create files 0600 and `.ralph/` 0700 instead of 0666/0777 & ~umask. */
  privateFiles: boolean;
}

/** Where the registry of one workspace lives, and its file policy. */
export interface RegistryPaths {
  /** The workspace root. */
  workspace: string;
  /** `<workspace>/.ralph`. */
  dir: string;
  /** `<workspace>/.ralph/loops.json`. */
  file: string;
  /** `<workspace>/.ralph/loops.json.journal`. */
  journal: string;
  /** How files are made and judged. */
  policy: FilePolicy;
}

/** The paths of the registry of `workspace` (an absolute path). */
export function registryPaths(
  workspace: string,
  policy: Partial<FilePolicy> = {},
): RegistryPaths {
  const dir = join(workspace, ".ralph");
  const file = join(dir, "loops.json");
  return {
    workspace,
    dir,
    file,
    journal: `${file}.journal`,
    policy: {
      trusted: policy.trusted ?? false,
      privateFiles: policy.privateFiles ?? false,
    },
  };
}

/** The mode new files are created with (before the umask), like ralph's. */
export function fileMode(paths: RegistryPaths): number {
  return paths.policy.privateFiles ? 0o600 : 0o666;
}

/** The mode `.ralph/` is created with (before the umask), like ralph's. */
export function dirMode(paths: RegistryPaths): number {
  return paths.policy.privateFiles ? 0o700 : 0o777;
}

/** Whether two stats are of the same file (device and inode). */
export function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.ino === b.ino && a.dev === b.dev;
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

/** Writes all of `bytes` at the file's (or stdout's) current offset. */
export function writeAll(
  file: Pick<Deno.FsFile, "writeSync">,
  bytes: Uint8Array,
): void {
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
export function refuseSymlink(
  path: string,
  what: string,
  advice?: string,
): never {
  throw new CorruptRegistryError(
    path,
    `${what} is a symbolic link, which could redirect writes elsewhere`,
    { kind: "symlink", advice },
  );
}

/** Refuses a directory, FIFO or device where a regular file must be. */
export function refuseIrregular(
  path: string,
  what: string,
  advice?: string,
): never {
  // Opening a FIFO would block forever; a directory cannot be rewritten.
  throw new CorruptRegistryError(
    path,
    `${what} is not a regular file (a directory, FIFO or device is in its place)`,
    { kind: "not-regular", advice },
  );
}

/** What to do about a journal that is not a regular file. */
export const JOURNAL_ADVICE =
  "run 'loops repair' (registry.repair()) to move it aside; the next write makes a new one";

/**
 * Checks that `info` (an lstat) is of a regular file, not a link; `advice`
 * replaces the default fix in the message.
 */
export function checkRegularFile(
  info: Deno.FileInfo,
  path: string,
  what: string,
  advice?: string,
): void {
  if (info.isSymlink) refuseSymlink(path, what, advice);
  if (!info.isFile) refuseIrregular(path, what, advice);
}

/**
 * Opens an existing file without creating or truncating it (rule 1);
 * `undefined` when it does not exist.
 */
export function openExisting(
  path: string,
  write: boolean,
  paths: RegistryPaths,
): Deno.FsFile | undefined {
  try {
    return Deno.openSync(path, { read: true, write });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw permissionError(
      error,
      write ? "write" : "read",
      paths.dir,
      `open "${path}"`,
    );
  }
}

/**
 * Creates a file with O_EXCL (rule 2), open read-write; `undefined` when the
 * name exists (a file, or a link, created meanwhile).
 */
export function createExclusive(
  path: string,
  mode: number,
  paths: RegistryPaths,
): Deno.FsFile | undefined {
  try {
    return Deno.openSync(path, {
      read: true,
      write: true,
      createNew: true,
      mode,
    });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return undefined;
    throw permissionError(error, "write", paths.dir, `create "${path}"`);
  }
}

/**
 * Checks an open descriptor against its path (rule 3): returns its fstat
 * when the path (an lstat taken now) names that very file, `undefined` when
 * it names something else (a link, another file: it was swapped). Refuses a
 * descriptor that is not of a regular file.
 */
export function verifyOpened(
  file: Deno.FsFile,
  path: string,
  what: string,
  paths: RegistryPaths,
): Deno.FileInfo | undefined {
  const info = file.statSync();
  const now = lstatOrUndefined(path, paths);
  if (now === undefined || now.isSymlink || !sameFile(now, info)) {
    return undefined;
  }
  if (!info.isFile) {
    refuseIrregular(
      path,
      what,
      path.endsWith(".journal") ? JOURNAL_ADVICE : undefined,
    );
  }
  return info;
}

/** The error for a file replaced while this process was opening it. */
export function swappedError(path: string, what: string): Deno.errors.Busy {
  return new Deno.errors.Busy(
    `Cannot write ${what} "${path}" as it was replaced while it was being opened (someone who can write "${
      path.slice(0, path.lastIndexOf("/"))
    }" is swapping files): nothing was written; stop that process and retry`,
  );
}
