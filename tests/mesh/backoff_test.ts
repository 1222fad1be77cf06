import assert from "node:assert/strict";
import { Backoff } from "../../src/mesh/backoff.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

Deno.test("Backoff.next() starts at 2 s and grows ×1.5 to the 6 min cap", () => {
  const backoff = new Backoff({ random: () => 0.5 });
  const centres = Array.from({ length: 4 }, () => backoff.next());
  assert.deepEqual(centres, [2_000, 3_000, 4_500, 6_750]);
  for (let i = 0; i < 20; i++) backoff.next();
  assert.equal(backoff.interval, 360_000);
  assert.equal(backoff.next(), 360_000);
});

Deno.test("Backoff.next() delays span [interval/2, 3·interval/2)", () => {
  assert.equal(new Backoff({ random: () => 0 }).next(), 1_000);
  assert.ok(new Backoff({ random: () => 0.999999 }).next() < 3_000);
});

Deno.test("Backoff.connectionEnded() resets only after a connection lasting over 1 min", () => {
  const backoff = new Backoff({ random: () => 0.5 });
  backoff.next();
  backoff.next();
  backoff.connectionEnded(60_000);
  assert.equal(backoff.interval, 4_500);
  backoff.connectionEnded(60_001);
  assert.equal(backoff.interval, 2_000);
  backoff.next();
  backoff.reset();
  assert.equal(backoff.next(), 2_000);
});

Deno.test("Backoff matches a simple model under random attempts and connections (seeded property)", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const rng = new SeededRandom(seed);
    const backoff = new Backoff({ random: () => rng.next() });
    let interval = 2_000; // the model
    for (let step = 0; step < 200; step++) {
      if (rng.int(5) === 0) {
        const lasted = rng.int(120_000);
        backoff.connectionEnded(lasted);
        if (lasted > 60_000) interval = 2_000;
        continue;
      }
      const delay = backoff.next();
      assert.ok(
        delay >= interval / 2 && delay < (3 * interval) / 2,
        `seed ${seed}: ${delay} for ${interval}`,
      );
      assert.ok(delay < 540_000);
      interval = Math.min(interval * 1.5, 360_000);
      assert.equal(backoff.interval, interval);
    }
  }
});
