import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { MemoMap } from "../../../src/overlay/sleeve/memo_map.ts";

Deno.test("MemoMap answers like a Map under seeded random get, set, delete, clear and delete-while-iterating", () => {
  const rnd = new SeededRandom(5);
  const m = new MemoMap<number, { v: number }>(), model = new Map<number, { v: number }>();
  for (let i = 0; i < 20_000; i++) {
    const key = rnd.int(12), op = rnd.int(100);
    if (op < 50) {
      assert.equal(m.get(key), model.get(key), `get ${key} at step ${i}`);
    } else if (op < 75) {
      const value = { v: i };
      m.set(key, value);
      model.set(key, value);
    } else if (op < 93) {
      assert.equal(m.delete(key), model.delete(key));
    } else if (op < 98) {
      // Deleting while iterating, as MacCache.sweep() and forget() do.
      for (const [k, v] of m) if (v.v % 2 === i % 2) m.delete(k);
      for (const [k, v] of model) if (v.v % 2 === i % 2) model.delete(k);
    } else {
      m.clear();
      model.clear();
    }
    assert.equal(m.size, model.size);
  }
});

Deno.test("MemoMap forgets the entry it just found when that entry is replaced or goes", () => {
  const m = new MemoMap<string, number>();
  m.set("a", 1);
  assert.equal(m.get("a"), 1);
  m.set("a", 2);
  assert.equal(m.get("a"), 2, "replaced");
  m.delete("a");
  assert.equal(m.get("a"), undefined, "deleted");
  m.set("a", 3);
  assert.equal(m.get("a"), 3);
  m.clear();
  assert.equal(m.get("a"), undefined, "cleared");
  assert.equal(m.get("b"), undefined, "a miss is not remembered");
  m.set("b", 4);
  assert.equal(m.get("b"), 4);
});
