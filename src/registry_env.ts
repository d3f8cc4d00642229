import {
  explainProcess,
  type Liveness,
  type LocalOrigin,
  type ProbeOptions,
  probeProcess,
  type ProcessIdentity,
  type ProcessVerdict,
  readLocalOrigin,
  readProcessIdentity,
} from "./process.ts";

/**
 * The side effects the registry uses to judge liveness, behind a small
 * interface so that tests and embedders can supply their own. The default
 * uses {@linkcode probeProcess}, {@linkcode readProcessIdentity} and
 * `Deno.statSync`.
 *
 * @example A registry whose loops are all alive, for a test
 * ```ts
 * import {
 *   createLoopEntry,
 *   defaultRegistryEnv,
 *   LoopRegistry,
 *   type RegistryEnv,
 * } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * const env: RegistryEnv = { ...defaultRegistryEnv, probe: () => "alive" };
 * const workspace = await Deno.makeTempDir();
 * const registry = new LoopRegistry(workspace, { env });
 * await registry.register(createLoopEntry("t", { pid: 4_000_000, workspace }));
 * assert.equal((await registry.list())[0]?.status, "running");
 * await Deno.remove(workspace, { recursive: true });
 * ```
 */
export interface RegistryEnv {
  /**
   * Liveness of `pid`, given the identity recorded at registration. With
   * `signalOnly`, only the cheap signal probe is needed (used inside changes,
   * where every other entry is checked on every call).
   */
  probe(
    pid: number,
    identity?: ProcessIdentity,
    options?: ProbeOptions,
  ): Liveness;
  /**
   * Liveness of `pid` with its reason; see {@linkcode explainProcess}. When
   * left out, `probe` is used and the reason is generic.
   */
  explain?(
    pid: number,
    identity?: ProcessIdentity,
    options?: ProbeOptions,
  ): ProcessVerdict;
  /** Identity of a live process, or `undefined` where it cannot be read. */
  identify(pid: number): ProcessIdentity | undefined;
  /**
   * Where this process runs (host, boot, pid namespace), to tell entries
   * registered elsewhere; see {@linkcode readLocalOrigin}. When left out,
   * no origin is recorded, and entries that record one are `unknown`.
   */
  origin?(): LocalOrigin;
  /**
   * Whether `path` is an existing directory; `undefined` when it cannot be
   * checked (no read permission for it).
   */
  isDirectory(path: string): boolean | undefined;
}

// This process's identity never changes while it runs.
let ownIdentity: ProcessIdentity | undefined;

/**
 * The default {@linkcode RegistryEnv}: real processes and files.
 *
 * @example Probe through the default env
 * ```ts
 * import { defaultRegistryEnv } from "@loops/registry";
 * import assert from "node:assert/strict";
 *
 * assert.equal(defaultRegistryEnv.probe(Deno.pid), "alive");
 * assert.equal(defaultRegistryEnv.isDirectory(Deno.cwd()), true);
 * ```
 */
export const defaultRegistryEnv: RegistryEnv = {
  probe: probeProcess,
  explain: explainProcess,
  origin: readLocalOrigin,
  identify(pid) {
    if (pid === Deno.pid && ownIdentity !== undefined) return ownIdentity;
    const live = readProcessIdentity(pid);
    const identity = live && { startTime: live.startTime, bootId: live.bootId };
    if (pid === Deno.pid && identity !== undefined) ownIdentity = identity;
    return identity;
  },
  isDirectory(path) {
    try {
      return Deno.statSync(path).isDirectory;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      if (error instanceof Deno.errors.NotADirectory) return false;
      if (error instanceof Deno.errors.FilesystemLoop) return false;
      // A path no directory can have (a NUL byte, or too long), e.g. from a
      // hostile registry file: it must not make every list fail.
      const code = (error as { code?: unknown }).code;
      if (code === "EINVAL" || code === "ENAMETOOLONG") return false;
      // No read permission for the worktree: it cannot be checked.
      if (error instanceof Deno.errors.NotCapable) return undefined;
      if (error instanceof Deno.errors.PermissionDenied) return undefined;
      throw error;
    }
  },
};
