import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { MemoryFrameDevice, memoryFramePair } from "../../../ffi/testing/memory_frame_device.ts";

Deno.test("memoryFramePair() delivers frames in order to the other end, copied", async () => {
  const [a, b] = memoryFramePair({ mtu: 1400 });
  const f1 = new Uint8Array([1, 2, 3]), f2 = new Uint8Array(60).fill(7);
  assert.equal(a.write([f1, f2]), 2);
  f1[0] = 9; // the queued copy must not change
  assert.equal(await b.readable(0), true);
  const bufs = [new Uint8Array(100), new Uint8Array(100), new Uint8Array(100)], sizes = [0, 0, 0];
  assert.equal(b.read(bufs, sizes), 2);
  assert.deepEqual(bufs[0].subarray(0, sizes[0]), new Uint8Array([1, 2, 3]));
  assert.deepEqual(bufs[1].subarray(0, sizes[1]), new Uint8Array(60).fill(7));
  assert.equal(b.read(bufs, sizes), 0);
  assert.equal(a.queued, 0);
  assert.equal(b.mtu(), 1400);
});

Deno.test("MemoryFrameDevice.readable() times out, wakes on write and on close", async () => {
  const [a, b] = memoryFramePair();
  assert.equal(await b.readable(5), false);
  const waiting = b.readable();
  assert.throws(() => b.readable(), Deno.errors.Busy);
  a.write([new Uint8Array(20)]);
  assert.equal(await waiting, true);
  b.read([new Uint8Array(20)], [0]);
  const closing = b.readable();
  b.close();
  assert.equal(await closing, false);
  assert.throws(() => b.read([new Uint8Array(20)], [0]), Deno.errors.BadResource);
  assert.throws(() => b.mtu(), /closed/);
  assert.equal(a.write([new Uint8Array(20)]), 1, "frames to a closed peer vanish like on a TAP");
  b.close();
});

Deno.test("MemoryFrameDevice.write() refuses frames beyond the peer's capacity and read() truncates", () => {
  const [a, b] = memoryFramePair({ capacity: 2 });
  assert.equal(a.write([new Uint8Array(10), new Uint8Array(11), new Uint8Array(12)]), 2);
  const sizes = [0];
  assert.equal(b.read([new Uint8Array(4)], sizes), 1);
  assert.equal(sizes[0], 4);
  assert.equal(b.queued, 1);
});

Deno.test("MemoryFrameDevice matches a FIFO model under seeded random writes and reads", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rnd = new SeededRandom(seed);
    const a = new MemoryFrameDevice("x"), b = new MemoryFrameDevice("y", { capacity: 16 });
    MemoryFrameDevice.connect(a, b);
    const model: number[][] = [];
    for (let step = 0; step < 300; step++) {
      if (rnd.next() < 0.5) {
        const frames = Array.from(
          { length: Math.floor(rnd.next() * 5) },
          () => Array.from({ length: 1 + Math.floor(rnd.next() * 8) }, () => Math.floor(rnd.next() * 256)),
        );
        const n = a.write(frames.map((f) => new Uint8Array(f)));
        assert.equal(n, Math.min(frames.length, 16 - model.length));
        model.push(...frames.slice(0, n));
      } else {
        const k = Math.floor(rnd.next() * 4);
        const bufs = Array.from({ length: k }, () => new Uint8Array(8)), sizes = new Array(k).fill(0);
        const n = b.read(bufs, sizes);
        const want = model.splice(0, k);
        assert.equal(n, want.length);
        want.forEach((f, i) => assert.deepEqual(Array.from(bufs[i].subarray(0, sizes[i])), f));
      }
      assert.equal(b.queued, model.length);
    }
  }
});
