import assert from "node:assert/strict";
import { processArgs } from "../proc.ts";
import { removeOrphanedNamespaces } from "../orphaned_namespaces.ts";

const NS = `mnt-cli-${Deno.pid}`;

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout), err: d.decode(o.stderr) };
}

function meshnet(...args: string[]) {
  return run("ip", ["netns", "exec", NS, "./meshnet", ...args]);
}

Deno.test("launch, status, report, double launch, stop, stop again: under ip netns exec", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "mn-launch-" });
  await removeOrphanedNamespaces();
  await run("ip", ["netns", "add", NS]);
  try {
    await run("ip", ["-n", NS, "link", "set", "lo", "up"]);
    const l = await meshnet("launch", "--data-dir", dir, "--nickname", "h1", "--password", "pw");
    assert.equal(l.code, 0, l.err);
    const name = l.out.trim();
    assert.match(name, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const args = await processArgs(Number(Deno.readTextFileSync(`${dir}/meshnet.pid`).trim()));
    assert.match(args, /launch --foreground/);
    assert.doesNotMatch(args, /pw/);

    const s = await meshnet("status");
    assert.equal(s.code, 0);
    assert.match(s.out, new RegExp(`Name: ${name}\\(h1\\)`));
    assert.match(s.out, /Encryption: enabled/);

    const r = JSON.parse((await meshnet("report")).out);
    assert.equal(r.name, name);

    const again = await meshnet("launch", "--data-dir", dir);
    assert.equal(again.code, 1);
    assert.match(again.err, /already running here as .*run 'meshnet stop' first/);

    const st = await meshnet("stop");
    assert.equal(st.code, 0, st.err);
    assert.ok(!Deno.statSync(dir).isFile);
    assert.throws(() => Deno.statSync(`${dir}/meshnet.pid`));

    const gone = await meshnet("status");
    assert.equal(gone.code, 1);
    assert.match(gone.err, /not running here.*meshnet launch/);

    const relaunch = await meshnet("launch", "--data-dir", dir);
    assert.equal(relaunch.out.trim(), name, "the peer name persists across starts");
    await meshnet("stop");
  } finally {
    for (const pid of (await run("ip", ["netns", "pids", NS])).out.split("\n").filter(Boolean)) {
      await run("kill", ["-9", pid]);
    }
    await run("ip", ["netns", "del", NS]);
    Deno.removeSync(dir, { recursive: true });
  }
});
