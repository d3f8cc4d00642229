// A command's context: the io, the workspace and the registry, each found
// or opened on first use, with the global options applied.
import { findWorkspace, type Registry } from "../mod.ts";
import { openRegistry } from "./_engine.ts";
import type { CommandContext } from "./_spec.ts";
import { absolute } from "./_values.ts";
import type { CliIo } from "./io.ts";

/** What the global options set for a command. */
export interface ContextOptions {
  /** `--workspace`, as given. */
  workspace?: string;
  /** `--lock-timeout`, in milliseconds. */
  lockTimeoutMs?: number;
  /** `--redis`, as given. */
  redis?: string;
  /** `--namespace`, as given. */
  namespace?: string;
  /** The help text of a command, or of the program for `undefined`. */
  help(command?: string): string;
}

/** A command's context: the workspace and registry, found on first use. */
export class Context implements CommandContext {
  readonly io: CliIo;
  readonly lockTimeoutMs: number | undefined;
  #options: ContextOptions;
  #workspace: string | undefined;
  #registry: Registry | undefined;

  constructor(io: CliIo, options: ContextOptions) {
    this.io = io;
    this.lockTimeoutMs = options.lockTimeoutMs;
    this.#options = options;
  }

  get workspace(): string {
    const option = this.#options.workspace;
    this.#workspace ??= option === undefined
      ? findWorkspace(this.io.cwd())
      : absolute(option, this.io);
    return this.#workspace;
  }

  get registry(): Registry {
    this.#registry ??= this.openRegistry();
    return this.#registry;
  }

  openRegistry(options: { lockTimeoutMs?: number } = {}): Registry {
    return openRegistry(this.workspace, {
      lockTimeoutMs: this.lockTimeoutMs,
      redis: this.#options.redis,
      namespace: this.#options.namespace,
      // The user's --lock-timeout (not a long-lived command's own retry),
      // at least 0.1 s: a call cannot be answered in no time.
      redisTimeoutMs: this.lockTimeoutMs === undefined
        ? undefined
        : Math.max(this.lockTimeoutMs, 100),
      ...options,
    });
  }

  help(command?: string): string {
    return this.#options.help(command);
  }

  async close(): Promise<void> {
    await this.#registry?.close();
  }
}
