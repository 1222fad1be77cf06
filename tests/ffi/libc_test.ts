/**
 * The libc helpers that are not a socket or a device: trimHeap() gives freed malloc memory back to the kernel
 * (its effect on a router is measured by bench:scale, not here).
 */
import assert from "node:assert/strict";
import { trimHeap } from "../../ffi/libc.ts";

Deno.test("trimHeap() finds malloc_trim and never makes the process bigger, also when called again", () => {
  trimHeap(); // loads libc's symbols first, which takes memory of its own
  let blocks: Uint8Array[] | undefined = Array.from({ length: 256 }, () => new Uint8Array(64 * 1024).fill(1));
  assert.equal(blocks.length, 256);
  blocks = undefined;
  const before = Deno.memoryUsage().rss;
  trimHeap();
  trimHeap(); // nothing left to give back
  assert.ok(Deno.memoryUsage().rss <= before + 1024 * 1024, "trimming does not grow the process");
});
