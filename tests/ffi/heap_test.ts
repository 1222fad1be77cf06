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

Deno.test("releaseMemory() uses the global gc when Deno runs with --v8-flags=--expose-gc (the launchers)", async () => {
  const heap = new URL("../../src/heap.ts", import.meta.url).href;
  const script = `const g = globalThis.gc; let calls = 0; globalThis.gc = () => { calls++; g(); };
    const { releaseMemory } = await import(${JSON.stringify(heap)}); releaseMemory(); releaseMemory();
    console.log(calls);`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "2");
});
