import assert from "node:assert/strict";
import { releaseMemory } from "../../src/heap.ts";

Deno.test("releaseMemory() shrinks the JS heap back to what is live after a peak", () => {
  let peak: unknown[] = [];
  for (let i = 0; i < 300_000; i++) peak.push({ i, text: `entry ${i}` });
  const grown = Deno.memoryUsage().heapTotal;
  peak = [];
  releaseMemory();
  releaseMemory(); // a second call reuses the collector
  const after = Deno.memoryUsage().heapTotal;
  assert.ok(grown - after > 20 << 20, `heap ${grown >> 20} MB at the peak, ${after >> 20} MB after`);
  assert.equal(peak.length, 0);
});
