/**
 * WorkerLink against a double Worker (link_double.ts): start, requests and stop each end within their
 * deadline whatever the Worker does; a crash ends the link and rejects what was open.
 */
import assert from "node:assert/strict";
import { WorkerLink, type WorkerLinkOptions } from "../../src/worker/worker_link.ts";

const granted = Deno.permissions.querySync({ name: "read" }).state === "granted";

function options(mode: string, extra: Partial<WorkerLinkOptions> = {}): WorkerLinkOptions {
  return {
    module: new URL(`./link_double.ts?mode=${mode}`, import.meta.url),
    permissions: {},
    what: "the double",
    start: { op: "start", hello: "hi" },
    startTimeoutMs: 30_000, // a Worker module is type-checked on its first load, slow on a busy host
    ...extra,
  };
}

function linkTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !granted, fn });
}

linkTest("WorkerLink starts, answers requests by id, passes other messages on, and stops", async () => {
  const seen: unknown[] = [];
  const { link, started } = await WorkerLink.start<{ op: "started"; hello: string }>(
    options("ok", { onMessage: (m) => seen.push(m) }),
  );
  assert.equal(started.hello, "hi");
  const answers = await Promise.all(
    [1, 2, 3].map((v) => link.request((id) => ({ op: "ask", id, value: v }), 5000, () => -1)),
  );
  assert.deepEqual(answers, [2, 4, 6]);
  link.post({ op: "event", value: 7 } as { op: string });
  await link.request((id) => ({ op: "ask", id, value: 0 }), 5000, () => -1); // the event came before
  assert.deepEqual(seen, [{ op: "event", value: 7 }]);
  await link.stop({ op: "stop" }, 5000);
  assert.ok(link.stopped);
  await link.done;
  assert.throws(() => link.post({ op: "event" }), /Cannot event: the Worker of the double has stopped/);
  await link.stop({ op: "stop" }, 5000); // idempotent
});

linkTest("WorkerLink.start() rejects with the Worker's reason, or at its deadline", async () => {
  await assert.rejects(WorkerLink.start(options("fail")), /Cannot start the double: no such device 'x'/);
  await assert.rejects(
    WorkerLink.start(options("mute", { startTimeoutMs: 300 })),
    /did not report started within 300 ms/,
  );
});

linkTest("WorkerLink requests and stop have deadlines when the Worker does not answer", async () => {
  const { link } = await WorkerLink.start(options("deaf"));
  assert.equal(await link.request((id) => ({ op: "ask", id, value: 1 }), 200, () => "late"), "late");
  const started = performance.now();
  await link.stop({ op: "stop" }, 300);
  assert.ok(performance.now() - started < 3000);
  await assert.rejects(link.done, /did not stop within 300 ms; terminated it/);
});

linkTest("WorkerLink: a crash ends the link, rejects open requests and done", async () => {
  const errors: Error[] = [];
  const { link } = await WorkerLink.start(options("crash", { onError: (e) => errors.push(e) }));
  await assert.rejects(
    link.request((id) => ({ op: "ask", id, value: 1 }), 5000, () => 0),
    /The Worker of the double stopped before answering: .*crashed/,
  );
  await assert.rejects(link.done, /crashed/);
  assert.ok(link.stopped);
  assert.match(errors[0].message, /crashed/);
});
