// A strict argument parser for the CLI, in place of `node:util` parseArgs.
// STYLE.md asks for `node:util` parseArgs, but the first `node:` import
// initialises Deno's Node compat layer (~7 ms: an empty file starts in ~17 ms,
// one importing only `node:util` or `node:path` in ~25 ms), which kept
// `loops list` at ~31 ms, 1.9x an empty file, over issue 4's 1.5x target.
// With no `node:` import on the start-up path (see also src/_path.ts) it takes
// ~22.5 ms, 1.35x (medians of 20 interleaved runs each).
//
// Same semantics as `parseArgs({ strict: true, allowPositionals: true })` for
// what the CLI uses (tests/cli/args_test.ts compares them): `--name value`,
// `--name=value`, `-x value`, `-xVALUE`, grouped boolean shorts `-ab`, `--`
// ends the options, the last of repeated options wins. Unknown options, a
// missing value, a value on a boolean option and a separate value starting
// with `-` (other than `-` alone) are errors. An option with `multiple` keeps
// every value, in order, as node's does. One addition, for options that
// come before a subcommand: `stopAtPositional` ends the options at the first
// positional, which is returned with everything after it untouched; there a
// `--` is a positional too (kept, so that the caller can refuse it as a
// command).
import { UsageError } from "./_errors.ts";

/** How one option is parsed. */
export interface ArgOption {
  /** `string` takes a value; `boolean` is a flag. */
  type: "string" | "boolean";
  /** A one-character alias, used as `-x`. */
  short?: string;
  /**
   * May be repeated: its value is the array of every value given, in order
   * (string options).
   *
   * @default {false}
   */
  multiple?: boolean;
}

/** The options by long name. */
export type ArgOptions = Readonly<Record<string, Readonly<ArgOption>>>;

/** The parsed values: only the options that were given. */
export type ArgValues<T extends ArgOptions> = {
  -readonly [K in keyof T]?: T[K]["type"] extends "string"
    ? T[K]["multiple"] extends true ? string[] : string
    : boolean;
};

/** What {@linkcode parseArgs} returns. */
export interface ParsedArgs<T extends ArgOptions> {
  /** The options given, by long name. */
  values: ArgValues<T>;
  /** The other arguments, in order, including all those after `--`. */
  positionals: string[];
}

/** How {@linkcode parseArgs} reads the arguments. */
export interface ParseOptions {
  /**
   * End the options at the first positional: it and every argument after it
   * are positionals, as a subcommand's arguments are. A `--` counts as a
   * positional and is kept.
   *
   * @default {false}
   */
  stopAtPositional?: boolean;
}

/** Bad command-line arguments: a usage error (exit 2 in the CLI). */
export class ParseArgsError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = "ParseArgsError";
  }
}

/**
 * Parses `args` strictly against `options`; arguments that are not options
 * are positionals. With `stopAtPositional`, the first positional ends the
 * options.
 *
 * @throws {ParseArgsError} If an option is unknown, lacks its value, or has
 * a value it must not have or that is ambiguous.
 */
export function parseArgs<T extends ArgOptions>(
  args: readonly string[],
  options: T = {} as T,
  parseOptions: ParseOptions = {},
): ParsedArgs<T> {
  const shorts = new Map<string, string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.short !== undefined) {
      if (option.short.length !== 1 || option.short === "-") {
        throw new TypeError(
          `Cannot use short option ${
            JSON.stringify(option.short)
          } as it must be one character other than '-'`,
        );
      }
      shorts.set(option.short, name);
    }
  }
  const values: Record<string, string | boolean | string[]> = Object.create(
    null,
  );
  /** Sets string option `name`, appending when it is `multiple`. */
  const set = (name: string, value: string) => {
    if (!options[name]!.multiple) values[name] = value;
    else ((values[name] ??= []) as string[]).push(value);
  };
  const positionals: string[] = [];
  let i = 0;
  /** The separate value of string option `name`, given as `token`. */
  const takeValue = (name: string, token: string): string => {
    const value = args[i + 1];
    if (value === undefined) {
      const short = options[name]!.short;
      throw new ParseArgsError(
        `Option '${
          short === undefined ? "" : `-${short}, `
        }--${name} <value>' argument missing`,
      );
    }
    if (value.length > 1 && value.startsWith("-")) {
      throw new ParseArgsError(
        `Option '${token}' argument is ambiguous: use '--${name}=-XYZ' for a value starting with a dash`,
      );
    }
    i++;
    return value;
  };
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--" && parseOptions.stopAtPositional) {
      positionals.push(...args.slice(i));
      break;
    }
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.length < 2 || !arg.startsWith("-")) {
      if (parseOptions.stopAtPositional) {
        positionals.push(...args.slice(i));
        break;
      }
      positionals.push(arg);
    } else if (arg.startsWith("--")) {
      const equals = arg.indexOf("=", 3);
      const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
      const inline = equals < 0 ? undefined : arg.slice(equals + 1);
      if (!Object.hasOwn(options, name)) {
        throw new ParseArgsError(`Unknown option '--${name}'`);
      }
      if (options[name]!.type === "boolean") {
        if (inline !== undefined) {
          throw new ParseArgsError(
            `Option '--${name}' does not take an argument`,
          );
        }
        values[name] = true;
      } else {
        set(name, inline ?? takeValue(name, `--${name}`));
      }
    } else {
      // `-x`, `-xVALUE` for a string option, or a group of shorts `-ab`.
      for (let j = 1; j < arg.length; j++) {
        const short = arg[j]!;
        const name = shorts.get(short);
        if (name === undefined) {
          throw new ParseArgsError(`Unknown option '-${short}'`);
        }
        if (options[name]!.type === "boolean") {
          values[name] = true;
        } else {
          set(
            name,
            j < arg.length - 1
              ? arg.slice(j + 1)
              : takeValue(name, `-${short}`),
          );
          break;
        }
      }
    }
  }
  return { values: values as ArgValues<T>, positionals };
}
