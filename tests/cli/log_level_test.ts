/** `--log-level`: checked against the levels, and exported so that a router launched with it inherits it. */
import assert from "node:assert/strict";

async function meshnet(args: string[]): Promise<{ code: number; err: string }> {
  const o = await new Deno.Command("./meshnet", { args, stdout: "null", stderr: "piped" }).output();
  return { code: o.code, err: new TextDecoder().decode(o.stderr) };
}

Deno.test("--log-level: an unknown level is a usage error listing the levels", async () => {
  const r = await meshnet(["--log-level", "loud", "version"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /'loud' is invalid\. Allowed choices are debug, info, warn, error/);
});

Deno.test("--log-level: set for the command and its children (MESHNET_LOG_LEVEL)", async () => {
  const script = "import { run } from './src/cli/main.ts'; await run(['--log-level', 'warn', 'version']);" +
    "console.error('level=' + Deno.env.get('MESHNET_LOG_LEVEL'));";
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", "--config", "deno.json", script],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.match(new TextDecoder().decode(o.stderr), /level=warn/);
});
