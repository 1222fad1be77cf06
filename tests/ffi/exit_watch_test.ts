import assert from "node:assert/strict";
import { ExitWatch } from "../../ffi/exit_watch.ts";
import { until } from "../../testing/poll.ts";

function sleeper(): Deno.ChildProcess {
  return new Deno.Command("sleep", { args: ["60"], stdout: "null", stderr: "null" }).spawn();
}

Deno.test("ExitWatch reports each watched process's exit once, only watched ones, and none after unwatch", async () => {
  const exited: string[] = [];
  const watch = new ExitWatch((key) => exited.push(key));
  const procs = [sleeper(), sleeper(), sleeper()];
  try {
    procs.forEach((p, i) => assert.equal(watch.watch(`p${i}`, p.pid), true));
    watch.unwatch("p2");
    procs[1].kill("SIGKILL");
    await procs[1].status;
    await until("p1's exit to be reported", 5000, () => Promise.resolve(exited.length ? true : undefined));
    assert.deepEqual(exited, ["p1"]);
    procs[2].kill("SIGKILL");
    await procs[2].status;
    procs[0].kill("SIGKILL");
    await procs[0].status;
    await until(
      "p0's exit to be reported",
      5000,
      () => Promise.resolve(exited.length === 2 ? true : undefined),
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(exited, ["p1", "p0"], "p2 was unwatched");
    assert.deepEqual(watch.keys(), []);
    assert.equal(watch.watch("gone", procs[0].pid), false, "a process that is gone cannot be watched");
  } finally {
    for (const p of procs) {
      try {
        p.kill("SIGKILL");
      } catch {
        // exited already
      }
    }
    await watch.close();
  }
});
