import assert from "node:assert/strict";
import type { Clock } from "../../src/mesh/clock.ts";
import { FakeClock } from "../../src/mesh/testing/fake_clock.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";
import { TokenBucket } from "../../src/mesh/token_bucket.ts";

Deno.test("TokenBucket.take() allows a burst of 20, then one token per 50 ms", async () => {
  const clock = new FakeClock(1_000);
  const bucket = new TokenBucket({ clock });
  for (let i = 0; i < 20; i++) assert.equal(bucket.take(), 0);
  assert.equal(bucket.take(), 50);
  assert.equal(bucket.take(), 100);
  await clock.advance(100);
  assert.equal(bucket.take(), 50);
});

Deno.test("TokenBucket refills to at most its capacity while idle", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ clock, capacity: 3, intervalMs: 10 });
  for (let i = 0; i < 3; i++) bucket.take();
  await clock.advance(1_000_000);
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [0, 0, 0, 10]);
});

Deno.test("TokenBucket.wait() resolves when the token exists", async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ clock, capacity: 1, intervalMs: 50 });
  await bucket.wait();
  let done = false;
  const waiting = bucket.wait().then(() => (done = true));
  await clock.advance(49);
  assert.equal(done, false);
  await clock.advance(1);
  await waiting;
  assert.equal(done, true);
});

Deno.test("TokenBucket rejects a bad capacity or interval", () => {
  assert.throws(() => new TokenBucket({ capacity: 0 }), {
    message: "Cannot make token bucket: capacity '0' is not a positive integer",
  });
  assert.throws(() => new TokenBucket({ intervalMs: 0 }), RangeError);
});

Deno.test("TokenBucket matches a counting model at random times (seeded property)", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rng = new SeededRandom(seed);
    let now = rng.int(1e9);
    const clock: Clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} }; // take() never waits
    const capacity = 1 + rng.int(25);
    const interval = 1 + rng.int(100);
    const bucket = new TokenBucket({ clock, capacity, intervalMs: interval });
    // Model: a real-valued token count that refills continuously, never above capacity, and may go
    // negative (tokens taken on credit, to be waited for).
    let tokens = capacity;
    for (let step = 0; step < 300; step++) {
      const elapsed = rng.int(3) === 0 ? rng.int(interval * 5) : 0;
      now += elapsed;
      tokens = Math.min(capacity, tokens + elapsed / interval);
      const expected = tokens >= 1 ? 0 : (1 - tokens) * interval;
      tokens -= 1;
      const wait = bucket.take();
      assert.ok(Math.abs(wait - expected) < 1e-6, `seed ${seed} step ${step}: ${wait} vs ${expected}`);
    }
  }
});
