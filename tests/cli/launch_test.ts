import assert from "node:assert/strict";

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout), err: d.decode(o.stderr) };
}

Deno.test("launch refuses bad flags with exit 2 and starts nothing", async () => {
  for (const args of [["--conn-limit", "x"], ["--port", "99999"], ["--name", "bad"], ["h:0"]]) {
    const r = await run("./meshnet", ["launch", "--data-dir", "/nonexistent-meshnet-test", ...args]);
    assert.equal(r.code, 2, `${args}: ${r.err}`);
    assert.match(r.err, /^meshnet: Invalid/);
  }
});
