import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { MacCache } from "../../../src/overlay/sleeve/mac_cache.ts";

Deno.test("MacCache.learn() records owners and reports live moves only", () => {
  const c = new MacCache(1000, 100);
  assert.equal(c.learn(0xa, 1, 0), undefined);
  assert.equal(c.lookup(0xa, 500), 1);
  assert.equal(c.learn(0xa, 1, 900), undefined, "same owner refreshes");
  assert.deepEqual(c.learn(0xa, 2, 1800), { mac: 0xa, from: 1, to: 2 });
  assert.equal(c.lookup(0xa, 1800), 2);
  assert.equal(c.lookup(0xa, 2800), undefined, "expired");
  assert.equal(c.learn(0xa, 3, 2800), undefined, "an expired owner is no move");
  assert.equal(c.lookup(0xa, 2800), 3);
});

Deno.test("MacCache.sweep() and forget() delete expired and a peer's entries", () => {
  const c = new MacCache(1000, 100);
  c.learn(1, 7, 0);
  c.learn(2, 7, 500);
  c.learn(3, 8, 500);
  assert.equal(c.sweep(1200), 1);
  assert.equal(c.size, 2);
  assert.equal(c.forget(7), 1);
  assert.equal(c.lookup(3, 1200), 8);
  assert.equal(c.size, 1);
});

Deno.test("MacCache stays within its limit under a flood of new MACs", () => {
  const c = new MacCache(1000, 64);
  const rnd = new SeededRandom(3);
  for (let i = 0; i < 10_000; i++) c.learn(rnd.int(2 ** 32), rnd.int(4), i);
  assert.ok(c.size <= 64);
});

Deno.test("MacCache.lookup() matches a Map model over seeded random learning", () => {
  const rnd = new SeededRandom(11);
  const c = new MacCache(50, 1 << 20);
  const model = new Map<number, { owner: number; seen: number }>();
  for (let now = 0; now < 5000; now++) {
    const mac = rnd.int(40), owner = rnd.int(3);
    if (rnd.next() < 0.5) {
      const before = model.get(mac);
      const move = c.learn(mac, owner, now);
      const live = before !== undefined && now - before.seen < 50;
      assert.deepEqual(
        move,
        live && before.owner !== owner ? { mac, from: before.owner, to: owner } : undefined,
      );
      model.set(mac, { owner, seen: now });
    } else {
      const m = model.get(mac);
      assert.equal(c.lookup(mac, now), m && now - m.seen < 50 ? m.owner : undefined);
    }
    if (now % 97 === 0) {
      c.sweep(now);
      for (const [m, e] of model) if (now - e.seen >= 50) model.delete(m);
    }
    if (rnd.next() < 0.02) {
      const gone = rnd.int(3);
      assert.equal(c.forget(gone), [...model.values()].filter((e) => e.owner === gone).length);
      for (const [m, e] of model) if (e.owner === gone) model.delete(m);
    }
    assert.equal(c.size, model.size);
  }
});

Deno.test("MacCache forgets an entry it just found when the entry goes (forget, sweep, eviction)", () => {
  const c = new MacCache(1000, 2);
  c.learn(1, 7, 0);
  assert.equal(c.lookup(1, 0), 7);
  c.forget(7);
  assert.equal(c.lookup(1, 0), undefined, "forgotten");
  c.learn(1, 8, 0);
  assert.equal(c.lookup(1, 0), 8, "learned again");
  c.sweep(1000);
  assert.equal(c.lookup(1, 1000), undefined, "swept");
  c.learn(1, 9, 1000);
  assert.equal(c.lookup(1, 1000), 9);
  c.learn(2, 9, 1000);
  c.learn(3, 9, 1000); // over the limit: the oldest, MAC 1, goes
  assert.equal(c.lookup(1, 1000), undefined, "evicted");
  c.learn(1, 5, 1000);
  assert.equal(c.lookup(1, 1000), 5);
  assert.equal(c.size, 2);
});
