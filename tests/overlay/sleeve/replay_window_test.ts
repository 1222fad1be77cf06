import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { ReplayWindow } from "../../../src/overlay/sleeve/replay_window.ts";

Deno.test("ReplayWindow.accept() takes each number once, in any order within the window", () => {
  const w = new ReplayWindow(64);
  assert.equal(w.accept(5), true);
  assert.equal(w.accept(5), false);
  assert.equal(w.accept(3), true);
  assert.equal(w.accept(100), true);
  assert.equal(w.accept(37), true, "100 − 37 = 63 is still inside a 64-wide window");
  assert.equal(w.accept(36), false, "100 − 36 = 64 is too old");
  assert.equal(w.accept(3), false);
  assert.equal(w.highest, 100);
  assert.equal(w.accept(2 ** 53 - 1), true);
  assert.equal(w.accept(99), false);
  w.reset();
  assert.equal(w.highest, -1);
  assert.equal(w.accept(0), true);
});

Deno.test("ReplayWindow refuses widths that are not multiples of 32 in range", () => {
  for (const bad of [0, 31, 48, 1 << 21, 1.5]) {
    assert.throws(() => new ReplayWindow(bad), /Invalid replay window width/);
  }
});

Deno.test("ReplayWindow.accept() matches a Set model over seeded random sequences", () => {
  for (const width of [32, 64, 1024]) {
    const rnd = new SeededRandom(width);
    const w = new ReplayWindow(width);
    const seen = new Set<number>();
    let highest = -1;
    for (let i = 0; i < 20_000; i++) {
      // Mostly near the top (reordering and duplicates), sometimes far ahead or far behind.
      const r = rnd.next();
      const seq = Math.max(
        0,
        r < 0.05 ? highest + rnd.int(5 * width) : highest - width - 8 + rnd.int(width + 24),
      );
      const expected = !seen.has(seq) && (seq > highest || highest - seq < width);
      assert.equal(w.check(seq), expected, `check ${seq} (highest ${highest}, width ${width})`);
      assert.equal(w.accept(seq), expected, `accept ${seq} (highest ${highest}, width ${width})`);
      if (expected) {
        seen.add(seq);
        highest = Math.max(highest, seq);
      }
      assert.equal(w.highest, highest);
    }
  }
});
