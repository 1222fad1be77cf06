import assert from "node:assert/strict";
import { checkState } from "../../src/lab/state.ts";
import { valid } from "./state_fixture.ts";
import { between, prng } from "./prng.ts";

Deno.test("checkState() accepts a valid state unchanged", () => {
  assert.deepEqual(checkState(structuredClone(valid)), valid);
});

Deno.test("checkState() names the bad field", () => {
  const cases: [unknown, RegExp][] = [
    [null, /expected a JSON object/],
    [[], /expected a JSON object/],
    [{ ...valid, prefix: "Bad" }, /Invalid lab prefix 'Bad'/],
    [{ ...valid, hosts: 0 }, /hosts must be an integer from 1/],
    [{ ...valid, containers: 1.5 }, /containers must be an integer/],
    [{ ...valid, topology: "ring" }, /Unknown topology 'ring'/],
    [{ ...valid, cuts: [{ a: 2, b: 1 }] }, /cuts\[0\] must have a < b/],
    [{ ...valid, cuts: [{ a: 1, b: 4 }] }, /cuts\[0\]\.b must be an integer from 1 to 3/],
    [{ ...valid, losses: [{ a: 1, b: 2, percent: 0 }] }, /losses\[0\]\.percent/],
    [{ ...valid, losses: "x" }, /cuts and losses must be arrays/],
  ];
  for (const [v, re] of cases) {
    assert.throws(
      () => checkState(v),
      (e) => e instanceof Error && e.message.startsWith("Invalid lab state: ") && re.test(e.message),
    );
  }
});

/** Replaces a random leaf of `v` with a random value of a random kind. */
function mutate(v: unknown, rand: () => number): unknown {
  const junk = [null, -1, 0, 1, 2.5, 1e9, "", "h1", "full", [], {}, true, { a: 1, b: 2 }, [1, 2]];
  if (typeof v !== "object" || v === null || rand() < 0.2) return junk[between(rand, 0, junk.length - 1)];
  const copy: Record<string, unknown> = Array.isArray(v)
    ? [...v] as unknown as Record<string, unknown>
    : { ...v };
  const keys = Object.keys(copy);
  if (keys.length === 0 || rand() < 0.1) {
    copy[["prefix", "hosts", "x", "0"][between(rand, 0, 3)]] = junk[between(rand, 0, junk.length - 1)];
    return copy;
  }
  const k = keys[between(rand, 0, keys.length - 1)];
  if (rand() < 0.1) delete copy[k];
  else copy[k] = mutate(copy[k], rand);
  return copy;
}

Deno.test("checkState() on mutated states either accepts a consistent state or throws a clear error (seeded fuzz)", () => {
  const rand = prng(2026);
  for (let i = 0; i < 3000; i++) {
    let v: unknown = structuredClone(valid);
    for (let m = between(rand, 1, 3); m > 0; m--) v = mutate(v, rand);
    const before = JSON.stringify(v);
    try {
      const s = checkState(v);
      for (const p of [...s.cuts, ...s.losses]) assert.ok(1 <= p.a && p.a < p.b && p.b <= s.hosts);
    } catch (err) {
      assert.ok(err instanceof Error && err.message.startsWith("Invalid lab state: "), String(err));
    }
    assert.equal(JSON.stringify(v), before, "checkState() must not change its input");
  }
});
