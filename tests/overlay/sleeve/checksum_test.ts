import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { fold, sumWords } from "../../../src/overlay/sleeve/checksum.ts";
import { onesSum, wordsOf } from "./tcp_frames.ts";

Deno.test("sumWords() equals the plain oracle at every alignment, view offset and length (seeded)", () => {
  const rnd = new SeededRandom(0x5a);
  const buffers = [rnd.bytes(70_000), rnd.bytes(3000)];
  for (let i = 0; i < 3000; i++) {
    const buf = buffers[rnd.int(2)];
    const offset = rnd.int(8), view = buf.subarray(offset);
    const start = rnd.int(Math.min(view.length, 100)), length = rnd.int(view.length - start + 1);
    const initial = rnd.int(3) === 0 ? rnd.int(2 ** 20) : 0;
    const want = fold(onesSum(wordsOf(view.subarray(start, start + length))) + initial);
    const got = fold(sumWords(view, start, length, initial));
    // 0 and 0xffff are the same number in ones' complement.
    assert.equal(got % 0xffff, want % 0xffff, `offset ${offset} start ${start} length ${length}`);
  }
});
