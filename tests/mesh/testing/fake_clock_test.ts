import assert from "node:assert/strict";
import { FakeClock } from "../../../src/mesh/testing/fake_clock.ts";

Deno.test("FakeClock.advance() fires due timers in time order, including ones scheduled meanwhile", async () => {
  const clock = new FakeClock(100);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
  clock.setTimeout(() => {
    fired.push(`a@${clock.now()}`);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 5);
  }, 10);
  const cancelled = clock.setTimeout(() => fired.push("never"), 1);
  clock.clearTimeout(cancelled);
  await clock.advance(14);
  assert.deepEqual(fired, ["a@110"]);
  await clock.advance(100);
  assert.deepEqual(fired, ["a@110", "c@115", "b@120"]);
  assert.equal(clock.now(), 214);
  assert.equal(clock.pending, 0);
});
