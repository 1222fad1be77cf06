import assert from "node:assert/strict";
import { ByteBudget } from "../../src/mesh/byte_budget.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

Deno.test("ByteBudget refuses reservations beyond its limit and never holds more (seeded, against a model)", () => {
  const rng = new SeededRandom(7);
  const budget = new ByteBudget(1000);
  const held: number[] = [];
  for (let i = 0; i < 5000; i++) {
    if (held.length > 0 && rng.int(2) === 0) {
      budget.release(held.splice(rng.int(held.length), 1)[0]);
    } else {
      const n = rng.int(300);
      const fits = held.reduce((a, b) => a + b, 0) + n <= 1000;
      assert.equal(budget.tryReserve(n), fits);
      if (fits) held.push(n);
    }
    assert.equal(budget.held, held.reduce((a, b) => a + b, 0));
    assert.ok(budget.held <= budget.limit);
  }
});

Deno.test("ByteBudget rejects a bad limit and releasing more than held", () => {
  assert.throws(() => new ByteBudget(-1), RangeError);
  const budget = new ByteBudget(10);
  budget.tryReserve(4);
  assert.throws(() => budget.release(5), /Cannot release 5 bytes from a budget holding 4/);
});
