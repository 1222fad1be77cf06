/**
 * `meshnet completion`: the bash script loads and completes commands, subcommands, status views and options
 * when bash runs its completion function as it would on Tab; the zsh and fish scripts parse and register where
 * those shells are installed (not part of the test machine's set-up, so skipped without them).
 */
import assert from "node:assert/strict";
import { completionScript } from "../../src/cli/completion.ts";
import { program } from "../../src/cli/main.ts";

async function sh(shell: string, script: string): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(shell, { args: ["-c", script], stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

async function installed(cmd: string): Promise<boolean> {
  return (await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" }).output())
    .success;
}

/** What bash's completion function offers for the words typed so far (the last one being completed). */
function bashComplete(words: string[]): string {
  const quoted = words.map((w) => `'${w}'`).join(" ");
  return `COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _meshnet; echo "\${COMPREPLY[*]}"`;
}

Deno.test("completion bash: loads from the launcher and registers _meshnet", async () => {
  const r = await sh("bash", "source <(./meshnet completion bash) && complete -p meshnet");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), "complete -F _meshnet meshnet");
});

Deno.test("completion bash: commands, nested subcommands, status views and options", async () => {
  const script = completionScript("bash", program(), { "meshnet status": ["peers", "dns"] });
  const cases: [string[], string][] = [
    [["meshnet", "la"], "launch lab"],
    [["meshnet", "lab", "u"], "up"],
    [["meshnet", "--debug", "lab", "c"], "cut"],
    [["meshnet", "status", ""], "peers dns --json --help"],
    [["meshnet", "launch", "--no-d"], "--no-discovery --no-dns"],
    [["meshnet", "completion", "z"], ""],
  ];
  for (const [words, want] of cases) {
    const r = await sh("bash", `${script}\n${bashComplete(words)}`);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), want, words.join(" "));
  }
});

Deno.test("completion: an unknown shell is a usage error naming the shells", async () => {
  const r = await new Deno.Command("./meshnet", { args: ["completion", "tcsh"], stderr: "piped" }).output();
  assert.equal(r.code, 2);
  assert.match(new TextDecoder().decode(r.stderr), /'tcsh'; use one of: bash, zsh, fish/);
});

Deno.test("completion zsh: parses and registers with compinit", async () => {
  if (!await installed("zsh")) return console.log("zsh is not installed: skipped");
  const r = await sh(
    "zsh",
    "autoload -U compinit && compinit -u -D && source <(./meshnet completion zsh) && echo ${_comps[meshnet]}",
  );
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), "_meshnet");
});

Deno.test("completion fish: completes commands, subcommands and options", async () => {
  if (!await installed("fish")) return console.log("fish is not installed: skipped");
  const r = await sh(
    "fish",
    "./meshnet completion fish | source; complete -C 'meshnet lab u'; complete -C 'meshnet status p'; " +
      "complete -C 'meshnet launch --no-f'",
  );
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.out.trim().split("\n").map((l) => l.split("\t")[0]), ["up", "peers", "--no-fastdp"]);
});
