/**
 * `meshnet stop` and `reset` stop the daemon or say truthfully that they could not: after an interrupted
 * `prime` (a request the daemon still waits on), and with a daemon that cannot run (SIGSTOP).
 */
import assert from "node:assert/strict";
import { launchMeshnet, meshnet, meshnetDataDir, withLab } from "../../src/lab/mod.ts";
import { until } from "../../testing/poll.ts";
import { meshnetCommand } from "../../src/self.ts";
import { processAlive as running } from "../proc.ts";

Deno.test("reset after an interrupted prime stops the daemon, and a second reset finds it gone", async () => {
  await withLab({ hosts: 1, containers: 0 }, async (lab) => {
    const dir = meshnetDataDir(lab, 1);
    await launchMeshnet(lab, 1, ["--ipalloc-init", "consensus=2"], []); // a ring that is never ready
    const pid = Number(Deno.readTextFileSync(`${dir}/meshnet.pid`).trim());
    const prime = lab.spawn("h1", [meshnetCommand(), "prime"]);
    await new Promise((r) => setTimeout(r, 1500)); // the daemon now waits on the prime request
    prime.kill("SIGKILL");
    await prime.status;
    const first = await meshnet(lab, 1, ["reset", "--data-dir", dir]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(await running(pid), false, `reset said it was done while the daemon (pid ${pid}) runs`);
    const second = await meshnet(lab, 1, ["reset", "--data-dir", dir]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /Removed no links and 0 state files/);
  });
});

Deno.test("stop of a daemon that cannot run fails naming its PID, also when asked again", async () => {
  await withLab({ hosts: 1, containers: 0 }, async (lab) => {
    const dir = meshnetDataDir(lab, 1);
    await launchMeshnet(lab, 1, [], []);
    const pid = Number(Deno.readTextFileSync(`${dir}/meshnet.pid`).trim());
    Deno.kill(pid, "SIGSTOP");
    try {
      for (const cmd of ["stop", "reset"]) {
        const r = await meshnet(lab, 1, [cmd, "--data-dir", dir]);
        assert.equal(r.code, 1, `${cmd} of a stopped daemon: ${r.stdout}`);
        assert.match(
          r.stderr,
          new RegExp(`meshnet \\(pid ${pid}\\) did not stop within \\d+ s and still runs`),
        );
        assert.ok(Deno.statSync(`${dir}/meshnet.pid`).isFile, `${cmd} removed nothing`);
      }
    } finally {
      Deno.kill(pid, "SIGCONT");
    }
    await until(
      "the daemon to act on the pending SIGTERM and exit",
      30_000,
      async () => await running(pid) ? undefined : true,
    );
  });
});
