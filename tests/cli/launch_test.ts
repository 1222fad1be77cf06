import assert from "node:assert/strict";

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout), err: d.decode(o.stderr) };
}

Deno.test("launch refuses bad flags with exit 2 and starts nothing", async () => {
  for (
    const args of [
      ["--conn-limit", "x"],
      ["--port", "99999"],
      ["--name", "bad"],
      ["h:0"],
      ["bad host!!"],
    ]
  ) {
    const r = await run("./meshnet", ["launch", "--data-dir", "/nonexistent-meshnet-test", ...args]);
    assert.equal(r.code, 2, `${args}: ${r.err}`);
    assert.match(r.err, /^meshnet: Invalid/);
  }
});

Deno.test("dns-add and attach refuse a name that is not a host name with exit 2, before asking the router", async () => {
  for (
    const args of [
      ["dns-add", "10.32.0.5", "-h", "bad name!!"],
      ["attach", "--name", "a b", "c1"],
    ]
  ) {
    const r = await run("./meshnet", args);
    assert.equal(r.code, 2, `${args}: ${r.err}`);
    assert.match(r.err, /^meshnet: Invalid name '(bad name!!|a b)': label .* is not a host name label/);
  }
});
