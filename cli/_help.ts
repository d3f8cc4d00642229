// The help texts, made from the specs alone: the usage lines from each
// command's arguments, options and forms, the tables from their help lines.
// Pure: no output here. tests/cli/help_test.ts pins the result.
import { EXIT_CODE_HELP } from "./_errors.ts";
import type {
  ArgumentSpec,
  CommandSpec,
  OptionSpec,
  OptionSpecs,
} from "./_spec.ts";

/** What the help of the whole program shows. */
export interface ProgramHelp {
  /** The program's name, e.g. `loops`. */
  name: string;
  /** The first line, after the name. */
  title: string;
  /** The options before the command. */
  globals: OptionSpecs;
  /** The commands, in the order shown. */
  commands: readonly CommandSpec[];
}

/** Where a command's summary starts in the list of commands. */
const SUMMARY_COLUMN = 38;

/** The help of the whole program: usage, commands, options, exit codes. */
export function formatProgramHelp(program: ProgramHelp): string {
  const globals = globalTokens(program.globals);
  const commands = program.commands.map((spec) => {
    const synopsis = `  ${commandSynopsis(spec)}`;
    return synopsis.length <= SUMMARY_COLUMN - 2
      ? synopsis.padEnd(SUMMARY_COLUMN) + spec.summary
      : `${synopsis}\n${" ".repeat(SUMMARY_COLUMN)}${spec.summary}`;
  });
  return [
    `${program.name} ${program.title}`,
    section("USAGE", [`${program.name} ${globals}<command> [options]`]),
    `COMMANDS:\n${commands.join("\n")}`,
    section("OPTIONS", optionRows(program.globals)),
    section(
      "EXIT CODES",
      EXIT_CODE_HELP.map(([code, meaning]) =>
        `${String(code).padStart(3)}  ${meaning}`
      ),
    ),
  ].join("\n\n");
}

/**
 * The short usage `loops` alone prints (on stderr, as a usage error): the
 * usage line, the command names and where to read more.
 */
export function formatShortUsage(program: ProgramHelp): string {
  return [
    `Usage: ${program.name} ${
      globalTokens(program.globals)
    }<command> [options]`,
    `Commands: ${program.commands.map((spec) => spec.name).join(", ")}`,
  ].join("\n");
}

function globalTokens(globals: OptionSpecs): string {
  return Object.entries(globals)
    .filter(([, option]) => option.type === "string")
    .map(([name, option]) => `[${optionToken(name, option)}] `)
    .join("");
}

/**
 * The help of one command: usage, description, arguments, options, and the
 * global options it also takes (`anywhere`), unless its arguments are raw.
 */
export function formatCommandHelp(
  program: string,
  spec: CommandSpec,
  anywhere: OptionSpecs = {},
): string {
  const parts = [
    section("USAGE", forms(spec).map((form) => `${program} ${form}`)),
  ];
  if (spec.description !== "") parts.push(spec.description);
  if (spec.arguments.length > 0) {
    parts.push(
      section(
        "ARGUMENTS",
        table(spec.arguments.map((arg) => [arg.name, arg.help])),
      ),
    );
  }
  if (Object.keys(spec.options).length > 0) {
    parts.push(section("OPTIONS", optionRows(spec.options)));
  }
  const globals = Object.entries(anywhere).map(([name, option]) =>
    option.short === undefined
      ? optionToken(name, option)
      : `-${option.short} ${option.value}`
  );
  if (!spec.rawArguments && globals.length > 0) {
    parts.push(
      section("GLOBAL OPTIONS", [
        `${globals.join(", ")}: see '${program} --help'`,
      ]),
    );
  }
  return parts.join("\n\n");
}

function section(title: string, lines: string[]): string {
  return `${title}:\n${lines.map((line) => `  ${line}`).join("\n")}`;
}

/** Two columns, the second aligned 3 spaces after the widest first. */
function table(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length)) + 3;
  return rows.map(([left, right]) => left.padEnd(width) + right);
}

function optionRows(options: OptionSpecs): string[] {
  return table(
    Object.entries(options).map(([name, option]) => [
      `${option.short === undefined ? "" : `-${option.short}, `}--${name}${
        option.value === undefined ? "" : ` ${option.value}`
      }`,
      option.required ? `${option.help} (required)` : option.help,
    ]),
  );
}

function optionToken(name: string, option: OptionSpec): string {
  return option.type === "string" ? `--${name} ${option.value}` : `--${name}`;
}

function argumentToken(arg: ArgumentSpec): string {
  const name = arg.variadic ? `${arg.name}...` : arg.name;
  return arg.optional ? `[${name}]` : name;
}

/** The usage of each form, without the program name. */
function forms(spec: CommandSpec): string[] {
  const all = [
    ...spec.arguments.map((arg) => arg.name),
    ...Object.keys(spec.options),
  ];
  return (spec.forms ?? [all]).map((form) =>
    [spec.name, formTokens(spec, form, spec.forms !== undefined)].join(" ")
      .trimEnd()
  );
}

/**
 * The tokens of one form. An option named in an explicit form is required
 * in it; otherwise it is shown in brackets unless `required`.
 */
function formTokens(
  spec: CommandSpec,
  form: readonly string[],
  explicit: boolean,
): string {
  const args = spec.arguments.filter((arg) => form.includes(arg.name));
  const options = Object.entries(spec.options)
    .filter(([name]) => form.includes(name))
    .map(([name, option]) =>
      explicit || option.required
        ? optionToken(name, option)
        : `[${optionToken(name, option)}]${option.multiple ? "..." : ""}`
    );
  const after = args.filter((arg) => arg.afterDashes).map(argumentToken);
  return [
    ...args.filter((arg) => !arg.afterDashes).map(argumentToken),
    ...options,
    ...(after.length > 0 ? ["--", ...after] : []),
  ].join(" ");
}

/** The command in the list of commands: its forms as alternatives. */
function commandSynopsis(spec: CommandSpec): string {
  if (spec.forms === undefined) return forms(spec)[0]!;
  const alternatives = spec.forms.map((form) => formTokens(spec, form, true));
  return `${spec.name} (${alternatives.join(" | ")})`;
}
