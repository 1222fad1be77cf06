/**
 * `meshnet completion bash|zsh|fish`: prints a completion script for the shell, generated from the command
 * tree itself, so every command, subcommand and option is offered as it is defined (plus the values of
 * arguments that take one of a fixed set, such as the status views).
 *
 * Load it with `source <(meshnet completion bash)` (bash, and zsh after `compinit`) or
 * `meshnet completion fish | source`.
 *
 * @module
 */
import { type Command, Command as CommandClass } from "commander";
import { UsageError } from "../../base/errors.ts";

/** The shells completion scripts are made for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

/** One command of the tree with what may follow it. */
interface Node {
  /** Words from the program name, e.g. `meshnet lab up`. */
  path: string;
  /** Subcommand names with descriptions. */
  subs: { name: string; description: string }[];
  /** Long options with descriptions and whether each takes a value. */
  options: { flag: string; description: string; takesValue: boolean }[];
  /** Fixed values of its positional argument, if any. */
  values: string[];
}

/** Walks the tree from `cmd`, depth first. */
function nodes(cmd: Command, prefix: string, values: Record<string, readonly string[]>): Node[] {
  const path = prefix ? `${prefix} ${cmd.name()}` : cmd.name();
  const here: Node = {
    path,
    subs: cmd.commands.map((c) => ({ name: c.name(), description: c.description() })),
    options: [
      ...cmd.options.filter((o) => o.long !== undefined).map((o) => ({
        flag: o.long!,
        description: o.description,
        takesValue: o.required || o.optional,
      })),
      { flag: "--help", description: "display help for command", takesValue: false },
    ],
    values: [...values[path] ?? []],
  };
  return [here, ...cmd.commands.flatMap((c) => nodes(c, path, values))];
}

/** Single-quotes `s` for bash and zsh. */
function sq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function bash(tree: Node[]): string {
  const subs = tree.map((n) => `  [${sq(n.path)}]=${sq(n.subs.map((s) => s.name).join(" "))}`);
  const words = tree.map((n) =>
    `  [${sq(n.path)}]=${sq([...n.values, ...n.options.map((o) => o.flag)].join(" "))}`
  );
  return `# meshnet completion for bash: source <(meshnet completion bash)
declare -gA _meshnet_subs=(
${subs.join("\n")}
)
declare -gA _meshnet_words=(
${words.join("\n")}
)
_meshnet() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path=meshnet i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    [[ $w == -* ]] && continue
    [[ " \${_meshnet_subs[$path]} " == *" $w "* ]] && path="$path $w"
  done
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "\${_meshnet_words[$path]}" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -W "\${_meshnet_subs[$path]} \${_meshnet_words[$path]}" -- "$cur")
  fi
}
complete -F _meshnet meshnet
`;
}

function zsh(tree: Node[]): string {
  const subs = tree.map((n) => `  ${sq(n.path)} ${sq(n.subs.map((s) => s.name).join(" "))}`);
  const words = tree.map((n) =>
    `  ${sq(n.path)} ${sq([...n.values, ...n.options.map((o) => o.flag)].join(" "))}`
  );
  return `#compdef meshnet
# meshnet completion for zsh: source <(meshnet completion zsh) after compinit
typeset -gA _meshnet_subs _meshnet_words
_meshnet_subs=(
${subs.join("\n")}
)
_meshnet_words=(
${words.join("\n")}
)
_meshnet() {
  local cmdpath=meshnet w i
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    [[ $w == -* ]] && continue
    [[ " \${_meshnet_subs[$cmdpath]} " == *" $w "* ]] && cmdpath="$cmdpath $w"
  done
  local -a cands
  cands=(\${=_meshnet_subs[$cmdpath]} \${=_meshnet_words[$cmdpath]})
  compadd -- $cands
}
compdef _meshnet meshnet
`;
}

/** Double-quotes `s` for fish. */
function dq(s: string): string {
  return `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("$", "\\$")}"`;
}

function fish(tree: Node[]): string {
  const lines = ["# meshnet completion for fish: meshnet completion fish | source", "complete -c meshnet -f"];
  for (const n of tree) {
    const words = n.path.split(" ").slice(1);
    const siblings = n.subs.map((s) => s.name).join(" ");
    // The condition: every word of the path seen, and (for subcommand names) no subcommand of it yet.
    const seen = words.map((w) => `__fish_seen_subcommand_from ${w}`);
    const inside = words.length === 0 ? ["__fish_use_subcommand"] : seen;
    const cond = (extra: string[]) => dq([...inside, ...extra].join("; and "));
    const none = siblings ? [`not __fish_seen_subcommand_from ${siblings}`] : [];
    for (const s of n.subs) {
      lines.push(
        `complete -c meshnet -n ${cond(words.length ? none : [])} -a ${s.name} -d ${dq(s.description)}`,
      );
    }
    for (const v of n.values) lines.push(`complete -c meshnet -n ${cond(none)} -a ${v}`);
    for (const o of n.options) {
      const on = words.length ? cond(none) : dq("__fish_use_subcommand");
      lines.push(
        `complete -c meshnet -n ${on} -l ${o.flag.slice(2)}${o.takesValue ? " -r" : ""} -d ${
          dq(o.description)
        }`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/**
 * The completion script of `shell` for the command tree `root`.
 *
 * @param values fixed values of positional arguments by command path, e.g. `{"meshnet status": ["peers"]}`
 * @throws {UsageError} naming the shell when it is not one of {@link SHELLS}
 */
export function completionScript(
  shell: string,
  root: Command,
  values: Record<string, readonly string[]> = {},
): string {
  const tree = nodes(root, "", values);
  switch (shell) {
    case "bash":
      return bash(tree);
    case "zsh":
      return zsh(tree);
    case "fish":
      return fish(tree);
  }
  throw new UsageError(`No completion for shell '${shell}'; use one of: ${SHELLS.join(", ")}`);
}

/**
 * Builds the `completion` command.
 *
 * @param root returns the whole command tree (the program that this command is part of)
 * @param values fixed values of positional arguments by command path
 */
export function completionCommand(root: () => Command, values: Record<string, readonly string[]>): Command {
  return new CommandClass("completion")
    .description("print a shell completion script: source <(meshnet completion bash), or zsh; fish: | source")
    .argument("<shell>", `one of: ${SHELLS.join(", ")}`)
    .action((shell: string) => {
      Deno.stdout.writeSync(new TextEncoder().encode(completionScript(shell, root(), values)));
    });
}
