import assert from "node:assert/strict";
import {
  includes,
  intersect,
  lowest,
  meets,
  normalize,
  ofAddresses,
  type Range,
  same,
  subtract,
  topSlice,
  total,
  union,
} from "../../src/ipam/space.ts";
import { prng } from "../dns/prng.ts";

const r = (start: number, end: number): Range => ({ start: BigInt(start), end: BigInt(end) });

Deno.test("normalize() sorts, drops empty ranges and joins adjacent ones", () => {
  assert.deepEqual(normalize([r(5, 7), r(0, 2), r(2, 3), r(9, 9), r(6, 8)]), [r(0, 3), r(5, 8)]);
});

Deno.test("subtract(), intersect(), union() and topSlice() on small cases", () => {
  assert.deepEqual(subtract([r(0, 10)], [r(2, 4), r(6, 7)]), [r(0, 2), r(4, 6), r(7, 10)]);
  assert.deepEqual(intersect([r(0, 5), r(8, 12)], [r(3, 9)]), [r(3, 5), r(8, 9)]);
  assert.deepEqual(union([r(0, 2)], [r(2, 4)]), [r(0, 4)]);
  assert.deepEqual(topSlice([r(0, 4), r(10, 12)], 3n), [r(3, 4), r(10, 12)]);
  assert.equal(lowest([r(7, 9), r(3, 4)]), 3n);
  assert.equal(lowest([]), undefined);
});

Deno.test("range set functions agree with a set-of-numbers model (seeded random)", () => {
  const rng = prng(7);
  const randomSet = () =>
    Array.from({ length: rng.int(5) }, () => {
      const s = rng.int(60);
      return r(s, s + rng.int(10));
    });
  const model = (rs: Range[]) =>
    new Set(
      rs.flatMap((x) => Array.from({ length: Number(x.end - x.start) }, (_, i) => Number(x.start) + i)),
    );
  const asSet = (rs: Range[]) => [...model(rs)].sort((a, b) => a - b);
  for (let i = 0; i < 500; i++) {
    const [a, b] = [randomSet(), randomSet()];
    const [ma, mb] = [model(a), model(b)];
    assert.deepEqual(asSet(subtract(a, b)), [...ma].filter((x) => !mb.has(x)).sort((x, y) => x - y));
    assert.deepEqual(asSet(intersect(a, b)), [...ma].filter((x) => mb.has(x)).sort((x, y) => x - y));
    assert.deepEqual(asSet(union(a, b)), [...new Set([...ma, ...mb])].sort((x, y) => x - y));
    assert.equal(total(normalize(a)), BigInt(ma.size));
    assert.equal(meets(a, b), [...ma].some((x) => mb.has(x)));
    assert.ok(same(union(a, b), union(b, a)));
    const x = rng.int(70);
    assert.equal(includes(normalize(a), BigInt(x)), ma.has(x));
    assert.deepEqual(asSet(ofAddresses([...ma].map(BigInt))), asSet(a));
    const k = rng.int(20);
    const top = topSlice(a, BigInt(k));
    assert.equal(total(top), BigInt(Math.min(k, ma.size)));
    assert.deepEqual(subtract(top, a), []);
  }
});
