// Shell completion scripts made from the command specs: every command, its
// options (and their values: `choices`, directories for DIR and PATH), and
// its first argument (loop ids from `loops list -q` for an `ID`, `choices`,
// the command names for `help`). Pure: the text only.
import type { CommandSpec, OptionSpec, OptionSpecs } from "./_spec.ts";

/** What the scripts are made from. */
export interface CompletionModel {
  /** The program's name, e.g. `loops`. */
  program: string;
  /** The options before the command (the string ones also after it). */
  globals: OptionSpecs;
  /** The commands. */
  commands: readonly CommandSpec[];
}

/** What completes a value or an argument. */
type Completer =
  | { kind: "words"; words: readonly string[] }
  | { kind: "dirs" }
  | { kind: "ids" }
  | { kind: "none" };

function valueOf(option: OptionSpec): Completer {
  if (option.choices !== undefined) {
    return { kind: "words", words: option.choices };
  }
  if (option.value === "DIR" || option.value === "PATH") {
    return { kind: "dirs" };
  }
  return { kind: "none" };
}

function argumentOf(spec: CommandSpec, model: CompletionModel): Completer {
  if (spec.rawArguments) {
    return { kind: "words", words: model.commands.map((c) => c.name) };
  }
  const arg = spec.arguments.find((a) => !a.afterDashes);
  if (arg === undefined) return { kind: "none" };
  if (arg.name === "ID") return { kind: "ids" };
  if (arg.choices !== undefined) return { kind: "words", words: arg.choices };
  return { kind: "none" };
}

/** The options a command takes after its name: its own, then the globals. */
function optionsOf(spec: CommandSpec, model: CompletionModel): OptionSpecs {
  if (spec.rawArguments) return {};
  const globals = Object.fromEntries(
    Object.entries(model.globals).filter(([name, option]) =>
      option.type === "string" || name === "help"
    ),
  );
  return { ...spec.options, ...globals };
}

function flags(options: OptionSpecs): string[] {
  return Object.entries(options).flatMap(([name, option]) => [
    ...(option.short === undefined ? [] : [`-${option.short}`]),
    `--${name}`,
  ]);
}

/** The completion script for `shell`. */
export function completionScript(
  shell: "bash" | "zsh" | "fish",
  model: CompletionModel,
): string {
  return shell === "bash"
    ? bash(model)
    : shell === "zsh"
    ? zsh(model)
    : fish(model);
}

// ---- bash ------------------------------------------------------------

function bashReply(completer: Completer, ids: string): string {
  switch (completer.kind) {
    case "words":
      return `COMPREPLY=($(compgen -W "${
        completer.words.join(" ")
      }" -- "$cur"))`;
    case "dirs":
      return `COMPREPLY=($(compgen -d -- "$cur"))`;
    case "ids":
      return `COMPREPLY=($(compgen -W "$(${ids})" -- "$cur"))`;
    case "none":
      return "COMPREPLY=()";
  }
}

/** The `case "$prev"` arms for the values of `options`. */
function bashValues(options: OptionSpecs, ids: string, pad: string): string[] {
  return Object.entries(options)
    .filter(([, option]) => option.type === "string")
    .map(([name, option]) =>
      `${pad}${
        [
          ...(option.short === undefined ? [] : [`-${option.short}`]),
          `--${name}`,
        ]
          .join("|")
      }) ${bashReply(valueOf(option), ids)}; return ;;`
    );
}

function bash(model: CompletionModel): string {
  const fn = `_${model.program.replace(/\W/g, "_")}`;
  const ids =
    `"\${COMP_WORDS[0]}" "\${ws[@]}" --lock-timeout 1 list -q 2>/dev/null`;
  const globalValues = Object.entries(model.globals).filter(([, option]) =>
    option.type === "string"
  );
  // Every flag that takes a separate value, in any command: the word after
  // it is a value, not an argument.
  const valueFlags = new Set(
    [model.globals, ...model.commands.map((spec) => spec.options)].flatMap(
      (options) =>
        flags(
          Object.fromEntries(
            Object.entries(options).filter(([name, option]) =>
              option.type === "string" && name !== "workspace"
            ),
          ),
        ),
    ),
  );
  const commands = model.commands.map((spec) => {
    const options = optionsOf(spec, model);
    return [
      `    ${spec.name})`,
      `      case "$prev" in`,
      ...bashValues(options, ids, "        "),
      `      esac`,
      `      if [[ $cur == -* ]]; then`,
      `        COMPREPLY=($(compgen -W "${
        flags(options).join(" ")
      }" -- "$cur"))`,
      `      elif [[ $nargs -eq 0 ]]; then`,
      `        ${bashReply(argumentOf(spec, model), ids)}`,
      `      fi`,
      `      ;;`,
    ].join("\n");
  });
  return `# bash completion for ${model.program}, made by '${model.program} completions bash'.
# Load it with: source <(${model.program} completions bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmd="" nargs=0 i word
  local -a ws=()
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      --) return ;;
      -w|--workspace)
        word="\${COMP_WORDS[i+1]}"
        ws=(--workspace "\${word/#\~/$HOME}"); ((i++)); continue ;;
      --workspace=*) ws=("$word"); continue ;;
      ${[...valueFlags].join("|")}) ((i++)); continue ;;
      -*) continue ;;
    esac
    if [[ -z $cmd ]]; then cmd="$word"; else ((nargs++)); fi
  done
  if [[ -z $cmd ]]; then
    case "$prev" in
${bashValues(Object.fromEntries(globalValues), ids, "      ").join("\n")}
    esac
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "${flags(model.globals).join(" ")}" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "${
    model.commands.map((c) => c.name).join(" ")
  }" -- "$cur"))
    fi
    return
  fi
  case "$cmd" in
${commands.join("\n")}
  esac
}
complete -o default -F ${fn} ${model.program}`;
}

// ---- zsh -------------------------------------------------------------

/** `text` inside zsh single quotes. */
function zshQuoted(text: string): string {
  return text.replace(/'/g, "'\\''");
}

/** Text of an `_arguments` spec, where `[`, `]` and `:` are special. */
function zshText(text: string): string {
  return zshQuoted(text.replace(/([\[\]:\\])/g, "\\$1"));
}

function zshAction(completer: Completer, fn: string): string {
  switch (completer.kind) {
    case "words":
      return `(${completer.words.join(" ")})`;
    case "dirs":
      return "_directories";
    case "ids":
      return `${fn}_ids`;
    case "none":
      return " ";
  }
}

function zshSpecs(options: OptionSpecs, fn: string): string[] {
  return Object.entries(options).map(([name, option]) => {
    const names = option.short === undefined
      ? [`--${name}`]
      : [`-${option.short}`, `--${name}`];
    const exclusive = names.length > 1 ? `(${names.join(" ")})` : "";
    const repeat = option.multiple ? "*" : "";
    const value = option.type === "string"
      ? `:${zshText(option.value ?? "value")}:${zshAction(valueOf(option), fn)}`
      : "";
    const spec = (flag: string) =>
      `'${repeat || exclusive}${flag}[${zshText(option.help)}]${value}'`;
    return names.length > 1 && !repeat
      ? `'${exclusive}'{${names.join(",")}}'[${zshText(option.help)}]${value}'`
      : names.map(spec).join(" ");
  });
}

function zsh(model: CompletionModel): string {
  const fn = `_${model.program.replace(/\W/g, "_")}`;
  const described = model.commands.map((spec) =>
    `    '${zshText(spec.name)}:${zshQuoted(spec.summary)}'`
  );
  const branches = model.commands.map((spec) => {
    const argument = argumentOf(spec, model);
    const specs = [
      ...zshSpecs(optionsOf(spec, model), fn),
      ...(argument.kind === "none"
        ? []
        : [`'1:argument:${zshAction(argument, fn)}'`]),
    ];
    return `        (${spec.name}) _arguments -s ${
      specs.join(" \\\n          ")
    } ;;`;
  });
  return `#compdef ${model.program}
# zsh completion for ${model.program}, made by '${model.program} completions zsh'.
# Load it with: source <(${model.program} completions zsh)   (after compinit)
# The ids of the registry the command line names (-w), from \${${fn}_line}:
# \${words} holds only the command's own words there.
${fn}_ids() {
  local -a ids ws
  local i
  for ((i = 2; i < \${#${fn}_line}; i++)); do
    case \${${fn}_line[i]} in
      (-w|--workspace) ws=(--workspace "\${${fn}_line[i+1]}") ;;
    esac
  done
  ids=(\${(f)"$(\${${fn}_line[1]} $ws --lock-timeout 1 list -q 2>/dev/null)"})
  compadd -a ids
}
${fn}() {
  local curcontext="$curcontext" state line
  local -a commands ${fn}_line
  ${fn}_line=(\${words[1,CURRENT]})
  commands=(
${described.join("\n")}
  )
  _arguments -C -s ${zshSpecs(model.globals, fn).join(" \\\n    ")} \\
    '1:command:->command' '*::argument:->argument'
  case $state in
    (command) _describe -t commands command commands ;;
    (argument)
      case $line[1] in
${branches.join("\n")}
      esac
      ;;
  esac
}
compdef ${fn} ${model.program}`;
}

// ---- fish ------------------------------------------------------------

function fishText(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function fishArgs(completer: Completer, program: string): string {
  switch (completer.kind) {
    case "words":
      return `-x -a ${fishText(completer.words.join(" "))}`;
    case "dirs":
      return "-x -a '(__fish_complete_directories)'";
    case "ids":
      return `-x -a '(__${program.replace(/\W/g, "_")}_ids)'`;
    case "none":
      return "";
  }
}

function fishOptions(
  options: OptionSpecs,
  condition: string,
  program: string,
): string[] {
  return Object.entries(options).map(([name, option]) =>
    [
      `complete -c ${program} -n ${fishText(condition)}`,
      ...(option.short === undefined ? [] : [`-s ${option.short}`]),
      `-l ${name}`,
      option.type === "string"
        ? (fishArgs(valueOf(option), program) || "-r")
        : "",
      `-d ${fishText(option.help)}`,
    ].filter((part) => part !== "").join(" ")
  );
}

function fish(model: CompletionModel): string {
  const { program } = model;
  const ids = `__${program.replace(/\W/g, "_")}_ids`;
  const lines = [
    `# fish completion for ${program}, made by '${program} completions fish'.`,
    `# Install it with: ${program} completions fish > ~/.config/fish/completions/${program}.fish`,
    `# The ids of the registry the command line names (-w).`,
    `function ${ids}`,
    `    set -l tokens (commandline -opc)`,
    `    set -l ws`,
    `    for i in (seq 2 (math (count $tokens) - 1))`,
    `        if contains -- $tokens[$i] -w --workspace`,
    `            set ws --workspace $tokens[(math $i + 1)]`,
    `        end`,
    `    end`,
    `    $tokens[1] $ws --lock-timeout 1 list -q 2>/dev/null`,
    `end`,
    `complete -c ${program} -f`,
    ...fishOptions(model.globals, "__fish_use_subcommand", program),
    ...model.commands.map((spec) =>
      `complete -c ${program} -n '__fish_use_subcommand' -a ${spec.name} -d ${
        fishText(spec.summary)
      }`
    ),
  ];
  for (const spec of model.commands) {
    const seen = `__fish_seen_subcommand_from ${spec.name}`;
    lines.push(...fishOptions(optionsOf(spec, model), seen, program));
    const argument = fishArgs(argumentOf(spec, model), program);
    if (argument !== "") {
      lines.push(`complete -c ${program} -n ${fishText(seen)} ${argument}`);
    }
  }
  return lines.join("\n");
}
