import assert from "node:assert/strict";
import { FakeClock } from "../../src/mesh/testing/fake_clock.ts";
import { PendingReplies } from "../../src/worker/pending_replies.ts";

Deno.test("PendingReplies resolves answered requests and ignores answers after the deadline", async () => {
  const clock = new FakeClock(0);
  const r = new PendingReplies<string>(clock);
  const a = r.open(100, () => "stale a"), b = r.open(100, () => "stale b");
  assert.notEqual(a.id, b.id);
  r.settle(a.id, "fresh a");
  assert.equal(await a.reply, "fresh a");
  await clock.advance(100);
  assert.equal(await b.reply, "stale b", "the deadline's value");
  r.settle(b.id, "too late");
  r.settle(12345, "unknown");
  assert.equal(r.size, 0);
});

Deno.test("PendingReplies rejects at the deadline when onTimeout throws, and all open ones on failAll", async () => {
  const clock = new FakeClock(0);
  const r = new PendingReplies<number>(clock);
  const late = r.open(50, () => {
    throw new Error("no answer within 50 ms");
  });
  const open = r.open(1_000, () => 0);
  const lateRejected = assert.rejects(late.reply, /no answer within 50 ms/);
  await clock.advance(50);
  await lateRejected;
  const openRejected = assert.rejects(open.reply, /worker stopped/);
  r.failAll(new Error("worker stopped"));
  await openRejected;
  await clock.advance(1_000); // the cleared deadline does not fire
  assert.equal(r.size, 0);
});
