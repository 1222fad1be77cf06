import assert from "node:assert/strict";
import { EXIT, run } from "../../src/cli/main.ts";
import { VERSION } from "../../src/version.ts";

/** Runs the CLI in-process and captures what it printed. */
async function capture(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const log = console.log, error = console.error;
  const stdout = Deno.stdout.writeSync, stderr = Deno.stderr.writeSync;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await run(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
    Deno.stdout.writeSync = stdout;
    Deno.stderr.writeSync = stderr;
  }
}

Deno.test("run() prints the version and exits 0", async () => {
  const r = await capture(["version"]);
  assert.equal(r.code, EXIT.ok);
  assert.match(r.out, new RegExp(`^meshnet ${VERSION.replaceAll(".", "\\.")} \\(deno `));
});

Deno.test("run() prints version JSON", async () => {
  const r = await capture(["version", "--json"]);
  assert.equal(JSON.parse(r.out).meshnet, VERSION);
});

Deno.test("./meshnet launcher: unknown command exits 2 with one clear line and no stack", async () => {
  const p = await new Deno.Command("./meshnet", {
    args: ["no-such-command"],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  assert.equal(p.code, EXIT.usage);
  const err = new TextDecoder().decode(p.stderr);
  assert.match(err, /unknown command 'no-such-command'/);
  assert.doesNotMatch(err, /at .*\.ts:\d+/);
});

Deno.test("./meshnet --help lists only working commands", async () => {
  const p = await new Deno.Command("./meshnet", { args: ["--help"], stdout: "piped" }).output();
  assert.equal(p.code, EXIT.ok);
  assert.match(new TextDecoder().decode(p.stdout), /version/);
});
