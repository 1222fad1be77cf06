import assert from "node:assert/strict";
import { FakeClock } from "../../src/mesh/testing/fake_clock.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";
import { StallTolerantDeadline } from "../../src/mesh/stall_tolerant_deadline.ts";

function make(clock: FakeClock, timeoutMs = 8_000) {
  const expired: [number, number][] = [];
  const d = new StallTolerantDeadline({
    clock,
    timeoutMs,
    checks: 8,
    onExpire: (silent, stalled) => expired.push([silent, stalled]),
  });
  return { d, expired };
}

Deno.test("StallTolerantDeadline expires after the timeout of silence exactly, and not before", async () => {
  const clock = new FakeClock();
  const { d, expired } = make(clock);
  d.start();
  await clock.advance(7_999);
  assert.deepEqual(expired, []);
  await clock.advance(1);
  assert.deepEqual(expired, [[8_000, 0]]);
  assert.equal(d.running, false);
  assert.equal(clock.pending, 0);
});

Deno.test("StallTolerantDeadline counts from the last sign of life, with no timer per sign", async () => {
  const clock = new FakeClock();
  const { d, expired } = make(clock);
  d.start();
  await clock.advance(5_300);
  d.alive();
  assert.equal(clock.pending, 1);
  await clock.advance(7_999);
  assert.deepEqual(expired, []);
  await clock.advance(1);
  assert.deepEqual(expired, [[8_000, 0]]);
});

Deno.test("StallTolerantDeadline does not charge a stall of our own event loop to the peer", async () => {
  const clock = new FakeClock();
  const { d, expired } = make(clock);
  d.start();
  await clock.advance(500);
  clock.stall(30_000); // a CPU-starved host: no timer ran for 30 s
  await clock.advance(0); // the late check charges at most one interval (1 s)
  assert.deepEqual(expired, [], "a stall alone never expires the deadline");
  d.alive(); // the peer's message, read once the loop runs again
  await clock.advance(7_999);
  assert.deepEqual(expired, []);
  await clock.advance(1);
  assert.deepEqual(expired, [[8_000, 0]]);
});

Deno.test("StallTolerantDeadline reports how much of a silence was a stall", async () => {
  const clock = new FakeClock();
  const { d, expired } = make(clock);
  d.start();
  clock.stall(20_000);
  await clock.advance(7_000); // 1 s charged for the stall, then 7 checks of 1 s
  assert.deepEqual(expired, [[27_000, 19_000]]);
});

Deno.test("StallTolerantDeadline charges our running time in full and each stall at most one check interval (seeded property)", async () => {
  const rnd = new SeededRandom(0xdead);
  for (let run = 0; run < 30; run++) {
    const clock = new FakeClock();
    const { d, expired } = make(clock, 4_000);
    d.start();
    // The model: running time since the last sign of life counts in full; a stall adds 0 to one interval.
    let lo = 0, hi = 0;
    for (let step = 0; step < 40 && expired.length === 0; step++) {
      const r = rnd.next();
      if (r < 0.2) {
        d.alive();
        lo = hi = 0;
      } else if (r < 0.4) {
        const ms = rnd.int(10_000);
        clock.stall(ms);
        await clock.advance(0);
        hi += Math.min(ms, 500);
      } else {
        const ms = rnd.int(800);
        await clock.advance(ms);
        lo += ms;
        hi += ms;
      }
      if (hi < 4_000) assert.deepEqual(expired, [], `run ${run} step ${step}: expired early`);
      if (lo >= 4_000 + 500) assert.equal(expired.length, 1, `run ${run} step ${step}: expired late`);
    }
    d.stop();
  }
});

Deno.test("StallTolerantDeadline refuses a timeout or check count that is not positive", () => {
  assert.throws(
    () => new StallTolerantDeadline({ timeoutMs: 0, onExpire: () => {} }),
    /Invalid deadline: timeout 0 ms with 8 checks/,
  );
  assert.throws(
    () => new StallTolerantDeadline({ timeoutMs: 10, checks: 0, onExpire: () => {} }),
    RangeError,
  );
});

Deno.test("StallTolerantDeadline on a grid checks only on its multiples, so deadlines share wakeups, and expires within one grid late", async () => {
  const fake = new FakeClock(1_000);
  const fireAt = new Set<number>();
  const clock = {
    now: () => fake.now(),
    setTimeout: (fn: () => void, ms: number) => (fireAt.add(fake.now() + ms), fake.setTimeout(fn, ms)),
    clearTimeout: (id: number) => fake.clearTimeout(id),
  };
  const expired: number[] = [];
  for (const offset of [0, 130, 270, 990]) {
    await fake.advance(offset - (fake.now() - 1_000));
    const start = fake.now();
    new StallTolerantDeadline({
      clock,
      timeoutMs: 8_000,
      gridMs: 1_000,
      onExpire: () => expired.push(fake.now() - start),
    }).start();
  }
  await fake.advance(20_000);
  assert.equal(expired.length, 4);
  for (const ms of expired) assert.ok(ms >= 8_000 && ms < 9_000, `expired after ${ms} ms`);
  assert.deepEqual([...fireAt].filter((t) => t % 1_000 !== 0), [], "every check on the grid");
  assert.ok(fireAt.size <= 10, `four deadlines woke the loop at ${fireAt.size} times`);
});
