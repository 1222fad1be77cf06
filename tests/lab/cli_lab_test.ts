/**
 * `./meshnet lab …` as a user runs it (subprocesses, needs root). Lives beside the lab tests rather than
 * in tests/cli/ because it builds real namespaces; each test uses its own prefix and removes it in finally.
 */
import assert from "node:assert/strict";
import { lab } from "./cli_run.ts";
import { processAlive, processState } from "../proc.ts";
import { labNamespaces, removeLab } from "../../src/lab/namespaces.ts";
import { uniquePrefix } from "../../src/lab/with_lab.ts";

Deno.test("meshnet lab up/status/exec/cut/loss/down work end to end", async () => {
  const p = await uniquePrefix();
  try {
    const up = await lab("up", "--prefix", p, "--hosts", "2", "--containers", "1", "--topology", "line");
    assert.equal(up.code, 0, up.err);
    assert.match(up.out, new RegExp(`Lab '${p}' is up: 2 hosts, 1 containers each, topology line`));

    const again = await lab("up", "--prefix", p);
    assert.equal(again.code, 1);
    assert.match(
      again.err,
      new RegExp(`^meshnet: Lab '${p}' already exists .*lab down --prefix ${p}' first\\n$`),
    );

    const ping = await lab("exec", "--prefix", p, "h1", "--", "ping", "-c1", "-W1", "198.18.0.2");
    assert.equal(ping.code, 0, ping.err);
    assert.match(ping.out, /1 received/);
    assert.equal((await lab("exec", "--prefix", p, `${p}h2c1`, "--", "sh", "-c", "exit 3")).code, 3);

    assert.equal((await lab("cut", "--prefix", p, "h1", "h2")).code, 0);
    assert.equal((await lab("loss", "--prefix", p, "h2", "h1", "25")).code, 0);
    assert.equal((await lab("exec", "--prefix", p, "h1", "--", "ping", "-c1", "-W1", "198.18.0.2")).code, 1);
    const status = await lab("status", "--prefix", p);
    assert.match(status.out, /h1 {2}\S+h1 {2}198\.18\.0\.1 {2}peers h2 {2}containers \S+h1c1/);
    assert.match(status.out, /Cuts: h1-h2\nLoss: h1-h2 25%/);
    const json = JSON.parse((await lab("status", "--prefix", p, "--json")).out);
    assert.equal(json.namespaces.length, 5);
    assert.deepEqual(json.state.cuts, [{ a: 1, b: 2 }]);
    assert.deepEqual(json.hosts.map((h: { address: string }) => h.address), ["198.18.0.1", "198.18.0.2"]);
    assert.equal((await lab("heal", "--prefix", p)).code, 0);
    assert.equal((await lab("loss", "--prefix", p, "h1", "h2", "0")).code, 0);
    assert.match((await lab("status", "--prefix", p)).out, /Cuts: none\nLoss: none/);
    assert.equal((await lab("exec", "--prefix", p, "h1", "--", "ping", "-c1", "-W1", "198.18.0.2")).code, 0);

    const down = await lab("down", "--prefix", p);
    assert.equal(down.code, 0, down.err);
    assert.match(down.out, new RegExp(`Removed lab '${p}' \\(5 namespaces\\)`));
    assert.deepEqual(await labNamespaces(p), []);
    assert.match((await lab("status", "--prefix", p)).out, new RegExp(`No lab '${p}'`));
  } finally {
    await removeLab(p);
  }
});

Deno.test("meshnet lab down cleans up after kill -9 of a process running in the lab", async () => {
  const p = await uniquePrefix();
  try {
    assert.equal((await lab("up", "--prefix", p, "--hosts", "1")).code, 0);
    const runner = new Deno.Command("./meshnet", {
      args: ["lab", "exec", "--prefix", p, "h1", "--", "sleep", "60"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    let sleeper: number | undefined;
    for (let i = 0; i < 200 && sleeper === undefined; i++) {
      const pids = await new Deno.Command("ip", { args: ["netns", "pids", `${p}h1`] }).output();
      sleeper = Number(new TextDecoder().decode(pids.stdout).trim().split("\n")[0]) || undefined;
      if (sleeper === undefined) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(sleeper, "sleep never started");
    runner.kill("SIGKILL");
    await runner.status;
    assert.ok(await processAlive(sleeper), "sleep outlives its runner");
    const down = await lab("down", "--prefix", p);
    assert.equal(down.code, 0, down.err);
    assert.deepEqual(await labNamespaces(p), []);
    assert.ok(!await processAlive(sleeper), `sleep ${sleeper} survived: ${await processState(sleeper)}`);
  } finally {
    await removeLab(p);
  }
});
