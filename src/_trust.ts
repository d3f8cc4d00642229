// The trust rule: which registries this process may change or act on.
// Like git's `safe.directory` and OpenSSH's `StrictModes`, a registry is
// trusted only when nobody but the caller (and root) could have written it
// or could swap its files:
//
// 1. `.ralph/` is owned by the caller or by root; root may act in any
//    user's `.ralph/` (that is what `sudo` is for), whose owner W is then the
//    user it acts for. When the caller's uid cannot be read (no
//    `--allow-sys=uid`), opening loops.json read-write while it is not
//    writable by group or others shows the caller is its owner or root.
// 2. loops.json, the journal, and the directories from the workspace up to
//    `/` (those this process may read) are owned by W or by root; for root
//    acting in another user's `.ralph/`, the files must be W's (W could
//    otherwise aim root's write at a file of root's of the same name).
// 3. None of them is writable by others, nor by its group unless that group
//    is its owner's private group (the group named like the owner, its
//    primary group, with no other member: read from /etc/passwd and
//    /etc/group). A directory with the sticky bit (like /tmp) is exempt.
// 4. A registry file has one hard link (always checked, trusted or not).
//
// `LOOPS_TRUST=<workspace>[:<workspace>...]` (or `*`), or the LoopRegistry
// option `trusted: true`, waives rules 1-3 for a workspace. A registry that
// fails the rule can still be read; changes and signals are refused with an
// UntrustedRegistryError naming the owner and the way to trust it.
import type { RegistryPaths } from "./_files.ts";
import { dirname, normalize } from "./_path.ts";
import { UntrustedRegistryError } from "./errors.ts";

// --- who is asking ---------------------------------------------------------

let caller: number | undefined | null = null;

/**
 * This process's uid, or `undefined` when it cannot be read: `Deno.uid()`
 * needs `--allow-sys=uid` (asked without prompting, once per process).
 */
export function callerUid(): number | undefined {
  if (caller !== null) return caller;
  const granted =
    Deno.permissions.querySync({ name: "sys", kind: "uid" }).state ===
      "granted";
  caller = granted ? Deno.uid() ?? undefined : undefined;
  return caller;
}

// --- users and groups ------------------------------------------------------

interface Account {
  name: string;
  uid: number;
  gid: number;
}

interface Group {
  name: string;
  gid: number;
  members: string[];
}

interface Accounts {
  users: Account[];
  groups: Group[] | undefined;
}

let accounts: Accounts | undefined | null = null;

function readEtc(path: string): string | undefined {
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") {
    return undefined;
  }
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.PermissionDenied
    ) {
      return undefined;
    }
    throw error;
  }
}

/** /etc/passwd and /etc/group, read once; `undefined` when unreadable. */
function loadAccounts(): Accounts | undefined {
  if (accounts !== null) return accounts;
  const passwd = readEtc("/etc/passwd");
  if (passwd === undefined) return accounts = undefined;
  const users: Account[] = [];
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name && /^\d+$/.test(uid ?? "") && /^\d+$/.test(gid ?? "")) {
      users.push({ name, uid: Number(uid), gid: Number(gid) });
    }
  }
  const group = readEtc("/etc/group");
  const groups = group?.split("\n").flatMap((line): Group[] => {
    const [name, , gid, members] = line.split(":");
    if (!name || !/^\d+$/.test(gid ?? "")) return [];
    const listed = (members ?? "").split(",").filter((m) => m !== "");
    return [{ name, gid: Number(gid), members: listed }];
  });
  return accounts = { users, groups };
}

/** `uid 1000 (alice)`, or `uid 1000` when the name cannot be read. */
export function describeUid(uid: number): string {
  const name = loadAccounts()?.users.find((u) => u.uid === uid)?.name;
  return name === undefined ? `uid ${uid}` : `uid ${uid} (${name})`;
}

/**
 * Whether `gid` is the private group of `uid`: named like that user, its
 * primary group, with no other member (listed or by primary group), as
 * Debian's OpenSSH accepts for group-writable files. `undefined` when
 * /etc/passwd or /etc/group cannot be read.
 */
export function isPrivateGroup(gid: number, uid: number): boolean | undefined {
  const known = loadAccounts();
  if (known?.groups === undefined) return undefined;
  const owner = known.users.find((u) => u.uid === uid);
  const group = known.groups.find((g) => g.gid === gid);
  if (owner === undefined || group === undefined) return false;
  return group.name === owner.name && owner.gid === gid &&
    group.members.every((m) => m === owner.name) &&
    known.users.every((u) => u.uid === uid || u.gid !== gid);
}

// --- the rule --------------------------------------------------------------

const STICKY = 0o1000;

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, "0")}`;
}

function trustAdvice(paths: RegistryPaths, who: string): string {
  return `if you trust ${who}, run again with LOOPS_TRUST="${paths.workspace}" (or the LoopRegistry option trusted: true)`;
}

/** What a check refuses: "change" or "signal loops of". */
export type Act = "change" | "signal loops of";

function refuse(
  paths: RegistryPaths,
  act: Act,
  offending: string,
  info: Deno.FileInfo,
  reason: "owner" | "writable" | "hard-links",
  detail: string,
  advice: string,
): never {
  throw new UntrustedRegistryError(paths.file, detail, {
    reason,
    offending,
    ownerUid: info.uid ?? -1,
    advice,
    act,
  });
}

/** Rule 3 for one path: not writable by others or a shared group. */
function checkMode(
  paths: RegistryPaths,
  act: Act,
  path: string,
  info: Deno.FileInfo,
): void {
  const mode = info.mode ?? 0;
  if ((mode & 0o022) === 0) return;
  if (info.isDirectory && (mode & STICKY) !== 0) return;
  const uid = info.uid ?? -1;
  const gid = info.gid ?? -1;
  let note = "";
  if ((mode & 0o002) === 0) {
    const own = isPrivateGroup(gid, uid);
    if (own === true) return;
    if (own === undefined) {
      note =
        " (a group that is its owner's private group is fine, but /etc/passwd and /etc/group cannot be read to check: grant --allow-read=/etc/passwd,/etc/group)";
    }
  }
  const others = (mode & 0o002) !== 0;
  const by = others ? "others" : `its group (gid ${gid})`;
  refuse(
    paths,
    act,
    path,
    info,
    "writable",
    `is writable by ${by} (mode ${octal(mode)})${
      info.isDirectory ? " and has no sticky bit" : ""
    }, who could swap or rewrite the registry's files${note}`,
    `remove that permission (chmod ${
      others ? "o" : "g"
    }-w "${path}") or, if you trust everyone who can write it, run again with LOOPS_TRUST="${paths.workspace}" (or the LoopRegistry option trusted: true)`,
  );
}

/** Rule 2 for one path: owned by W or root. */
function checkOwner(
  paths: RegistryPaths,
  act: Act,
  path: string,
  info: Deno.FileInfo,
  owner: number,
): void {
  const uid = info.uid ?? -1;
  if (uid === owner || uid === 0) return;
  refuse(
    paths,
    act,
    path,
    info,
    "owner",
    `is owned by ${describeUid(uid)}, while "${paths.dir}" is owned by ${
      describeUid(owner)
    }: either could change the registry`,
    trustAdvice(paths, `both ${describeUid(uid)} and ${describeUid(owner)}`),
  );
}

/**
 * Rule 4: a file with several hard links is refused, trusted or not (it is
 * checked on the descriptor; see _files.ts).
 */
export function checkLinks(
  paths: RegistryPaths,
  act: Act,
  path: string,
  info: Deno.FileInfo,
): void {
  const links = info.nlink ?? 1;
  if (links <= 1) return;
  refuse(
    paths,
    act,
    path,
    info,
    "hard-links",
    `has ${links} hard links, so writing it would write another file too`,
    `give it a single link (cp "${path}" "${path}.copy" && mv "${path}.copy" "${path}")`,
  );
}

/** The directories from the workspace up to `/`, lexically. */
function ancestors(workspace: string): string[] {
  const chain: string[] = [];
  for (let dir = normalize(workspace);; dir = dirname(dir)) {
    chain.push(dir);
    if (dir === "/" || dir === "." || dir === "//") break;
  }
  return chain;
}

function lstatIfReadable(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    // Not readable (e.g. `--allow-read=<ws>/.ralph` alone): not checked.
    if (
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.PermissionDenied
    ) {
      return undefined;
    }
    throw error;
  }
}

/**
 * Rules 1-3 for `.ralph/` (its lstat `dir`) and the directories above it.
 *
 * @throws {UntrustedRegistryError} If they fail the rule.
 */
export function checkDirectory(
  paths: RegistryPaths,
  dir: Deno.FileInfo,
  act: Act,
): void {
  if (paths.policy.trusted) return;
  const owner = dir.uid ?? -1;
  const me = callerUid();
  if (me !== undefined && me !== 0 && owner !== me && owner !== 0) {
    refuse(
      paths,
      act,
      paths.dir,
      dir,
      "owner",
      `is owned by ${describeUid(owner)}, not by you (${
        describeUid(me)
      }) or root`,
      trustAdvice(paths, describeUid(owner)),
    );
  }
  checkMode(paths, act, paths.dir, dir);
  checkAncestors(paths, owner, act);
}

// Ancestors that passed, per registry handle and owner: only their owners
// (W or root, who passed the rule) could make them fail later, so a pass is
// kept; a refusal is checked again every time.
const ancestorsPassed = new WeakMap<RegistryPaths, number>();

/**
 * Rules 2-3 for the directories from the workspace up to `/` (those this
 * process may read), for a `.ralph/` owned by `owner`.
 *
 * @throws {UntrustedRegistryError} If one fails the rule.
 */
export function checkAncestors(
  paths: RegistryPaths,
  owner: number,
  act: Act,
): void {
  if (paths.policy.trusted || ancestorsPassed.get(paths) === owner) return;
  for (const path of ancestors(paths.workspace)) {
    const info = lstatIfReadable(path);
    // A link among the ancestors is resolved by the OS; its own parent is
    // the next one checked.
    if (info === undefined || info.isSymlink) continue;
    checkOwner(paths, act, path, info, owner);
    checkMode(paths, act, path, info);
  }
  ancestorsPassed.set(paths, owner);
}

/**
 * Rules 2-4 for a registry file (`info` from its descriptor where there is
 * one) in a `.ralph/` owned by `owner`.
 *
 * @throws {UntrustedRegistryError} If it fails the rule.
 */
export function checkFile(
  paths: RegistryPaths,
  path: string,
  info: Deno.FileInfo,
  owner: number,
  act: Act,
): void {
  checkLinks(paths, act, path, info);
  if (paths.policy.trusted) return;
  if (callerUid() === 0 && owner !== 0 && info.uid === 0) {
    // Rule 2 for root in a user's `.ralph`: that user could point it at one
    // of root's own files (named like ours) while root works.
    refuse(
      paths,
      act,
      path,
      info,
      "owner",
      `is owned by root while "${paths.dir}" is owned by ${
        describeUid(owner)
      }: as root, loops writes only that user's files there (the user could point the directory at one of root's)`,
      `give it to the user (chown ${owner}: "${path}") or, if you trust ${
        describeUid(owner)
      }, run again with LOOPS_TRUST="${paths.workspace}" (or the LoopRegistry option trusted: true)`,
    );
  }
  checkOwner(paths, act, path, info, owner);
  checkMode(paths, act, path, info);
}

/** Whether a registry file passes rules 2-4 (for a read to rely on it). */
export function fileTrusted(
  paths: RegistryPaths,
  path: string,
  info: Deno.FileInfo,
  owner: number,
): boolean {
  try {
    checkFile(paths, path, info, owner, "change");
    return true;
  } catch (error) {
    if (error instanceof UntrustedRegistryError) return false;
    throw error;
  }
}

// --- exposure, for reads ---------------------------------------------------

const workspaceExposed = new WeakMap<RegistryPaths, boolean>();

function writableByOthers(info: Deno.FileInfo, me: number | undefined) {
  const mode = info.mode ?? 0;
  if ((mode & 0o022) !== 0 && (mode & STICKY) === 0) return true;
  const uid = info.uid ?? -1;
  return me !== undefined && uid !== me && uid !== 0;
}

/**
 * Whether someone other than this process's user (or root) could swap the
 * registry's files under a read: `.ralph/` (its lstat `dir`) or the
 * workspace is writable by group or others, or owned by another user. A
 * read then opens read-write where it may (a FIFO swapped in cannot block
 * it). The workspace's answer is kept per registry handle: only its owner
 * or root can change it.
 */
export function exposed(paths: RegistryPaths, dir: Deno.FileInfo): boolean {
  const me = callerUid();
  if (writableByOthers(dir, me)) return true;
  let workspace = workspaceExposed.get(paths);
  if (workspace === undefined) {
    const info = lstatIfReadable(paths.workspace);
    workspace = info !== undefined && !info.isSymlink &&
      writableByOthers(info, me);
    workspaceExposed.set(paths, workspace);
  }
  return workspace;
}

// --- the environment -------------------------------------------------------

function env(name: string): string | undefined {
  const state = Deno.permissions.querySync({ name: "env", variable: name })
    .state;
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/**
 * Whether `LOOPS_TRUST` names `workspace` (or its `.ralph`), or is `*`. A
 * colon-separated list of absolute paths; read only when `--allow-env`
 * grants it.
 */
export function trustedByEnv(workspace: string): boolean {
  const value = env("LOOPS_TRUST");
  if (value === undefined || value === "") return false;
  const here = normalize(workspace).replace(/\/$/, "");
  return value.split(":").some((entry) => {
    const path = entry.trim();
    if (path === "*") return true;
    if (!path.startsWith("/")) return false;
    const named = normalize(path).replace(/(.)\/$/, "$1");
    return named === here || named === `${here}/.ralph`;
  });
}

/** Whether `LOOPS_PRIVATE` asks for private files (`1`, `true`, `yes`). */
export function privateByEnv(): boolean {
  const value = env("LOOPS_PRIVATE")?.toLowerCase();
  return value === "1" || value === "true" || value === "yes";
}
