import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { FLOOD_RESTART_GAP } from "../../../src/overlay/sleeve/constants.ts";
import { FloodFilter } from "../../../src/overlay/sleeve/flood_filter.ts";

const WINDOW = 64;

Deno.test("FloodFilter takes each flood once, refuses copies and stale numbers, per origin", () => {
  const f = new FloodFilter(WINDOW, 8);
  assert.equal(f.accept(1, 10), undefined);
  assert.equal(f.accept(1, 10), "duplicate");
  assert.equal(f.accept(2, 10), undefined, "another origin has its own window");
  assert.equal(f.accept(1, 12), undefined);
  assert.equal(f.accept(1, 11), undefined, "out of order within the window");
  assert.equal(f.accept(1, 11), "duplicate");
  assert.equal(f.accept(1, 12 + WINDOW), undefined);
  assert.equal(f.accept(1, 12), "stale", "a window behind the highest");
  assert.equal(f.accept(1, 13), undefined, "cleared as the window moved");
});

Deno.test("FloodFilter follows the 32-bit counter across its wrap and an origin's restart", () => {
  const f = new FloodFilter(WINDOW, 8);
  assert.equal(f.accept(1, 0xffff_fffe), undefined);
  assert.equal(f.accept(1, 1), undefined, "0 and 1 are after 2^32 − 2");
  assert.equal(f.accept(1, 0xffff_ffff), undefined);
  assert.equal(f.accept(1, 0xffff_fffe), "duplicate");
  assert.equal(f.accept(1, 1), "duplicate");
  const restart = (1 - FLOOD_RESTART_GAP) >>> 0;
  assert.equal(f.accept(1, restart), undefined, "far behind: the origin restarted");
  assert.equal(f.accept(1, restart), "duplicate");
  assert.equal(f.accept(1, restart + 1), undefined);
});

Deno.test("FloodFilter remembers at most its limit of origins, forgetting the least recently seen", () => {
  const f = new FloodFilter(WINDOW, 3);
  for (const origin of [1, 2, 3]) f.accept(origin, 5);
  f.accept(1, 6); // 1 is now the most recent
  f.accept(4, 5); // evicts 2
  assert.equal(f.size, 3);
  assert.equal(f.accept(1, 5), "duplicate");
  assert.equal(f.accept(2, 5), undefined, "2 was forgotten");
  assert.throws(() => new FloodFilter(48), /Invalid flood window '48': use a power of two/);
  assert.throws(() => new FloodFilter(64, 0), /Invalid flood origin limit '0'/);
});

Deno.test("FloodFilter matches an unwrapped Set model over seeded jittered sequences near the wrap", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const rnd = new SeededRandom(seed);
    const f = new FloodFilter(WINDOW, 16);
    const base = 2 ** 32 - 500; // the counters wrap during the run
    const model = new Map<number, { highest: number; seen: Set<number> }>();
    const heads = [0, 0, 0, 0];
    for (let i = 0; i < 2000; i++) {
      const origin = rnd.int(4);
      heads[origin] += rnd.int(3);
      // Mostly near the head, sometimes a window or more behind (stale copies).
      const u = Math.max(0, heads[origin] - (rnd.next() < 0.1 ? rnd.int(3 * WINDOW) : rnd.int(WINDOW / 2)));
      const m = model.get(origin) ?? { highest: -1, seen: new Set<number>() };
      model.set(origin, m);
      let expected: string | undefined;
      if (u > m.highest) m.highest = u, m.seen.add(u);
      else if (m.highest - u >= WINDOW) expected = "stale";
      else if (m.seen.has(u)) expected = "duplicate";
      else m.seen.add(u);
      assert.equal(
        f.accept(origin, (base + u) % 2 ** 32),
        expected,
        `seed ${seed} step ${i}: ${origin}/${u}`,
      );
    }
  }
});
