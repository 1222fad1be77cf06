import assert from "node:assert/strict";
import { GSO_MAX_SEGMENTS } from "../../../ffi/udp.ts";
import { MAX_DATAGRAM } from "../../../src/overlay/sleeve/constants.ts";
import { SendBatch } from "../../../src/overlay/sleeve/send_batch.ts";
import { SeededRandom } from "../../../testing/seeded_random.ts";

/** The batch's datagrams back to back, as a GSO send takes them (its buffer up to its length). */
function sent(batch: SendBatch): Uint8Array {
  return batch.length === 0 ? new Uint8Array(0) : batch.buffer.subarray(0, batch.length);
}

/** Checks `batch` holds exactly `model`'s datagrams, in order, as one GSO send would carry them. */
function assertHolds(batch: SendBatch, model: Uint8Array[], where: string): void {
  assert.equal(batch.count, model.length, where);
  if (model.length === 0) return;
  assert.equal(batch.segmentSize, model[0].length, where);
  assert.deepEqual(sent(batch), new Uint8Array(model.flatMap((m) => [...m])), where);
  model.forEach((m, i) => assert.deepEqual(batch.datagram(i), m, where));
}

Deno.test("SendBatch takes what one UDP GSO send can carry, in order, and nothing else (seeded, against a model)", () => {
  const rnd = new SeededRandom(0x65b);
  const sizes = [1400, 1400, 900, 60, 8000, 30_000, 65_000];
  for (let round = 0; round < 40; round++) {
    const batch = new SendBatch();
    const model: Uint8Array[] = [];
    for (let step = 0; step < 200; step++) {
      const where = `round ${round} step ${step}`;
      const d = rnd.bytes(rnd.int(3) === 0 ? sizes[rnd.int(sizes.length)] : 1 + rnd.int(1500));
      const maxSize = d.length + rnd.int(100); // the builder may end up shorter than it reserved
      const first = model[0]?.length ?? Infinity, total = model.reduce((a, m) => a + m.length, 0);
      const open = model.length === 0 || (model.at(-1)!.length === first && model.length < GSO_MAX_SEGMENTS);
      let at = batch.reserve(maxSize);
      assert.equal(at >= 0, open, `${where}: reserve`);
      if (at < 0) { // the engine sends the batch, which clears it
        assertHolds(batch, model, where);
        batch.clear();
        model.length = 0;
        at = batch.reserve(maxSize);
      }
      assert.ok(batch.buffer.length >= at + maxSize, `${where}: room to build in`);
      batch.buffer.set(d, at);
      const joins = model.length === 0 || (d.length <= first && total + d.length <= MAX_DATAGRAM);
      assert.equal(batch.commit(d.length), joins, `${where}: commit`);
      if (!joins) { // the engine sends the others, then the refused one starts the next batch
        assertHolds(batch, model, where);
        batch.clear();
        batch.restart(d.length);
        model.length = 0;
      }
      model.push(d);
      if (rnd.int(20) === 0) assertHolds(batch, model, where);
    }
  }
});

Deno.test("SendBatch keeps its buffer once grown, and a refused datagram moves to the front whole", () => {
  const batch = new SendBatch();
  const a = new Uint8Array(1000).fill(1), b = new Uint8Array(1200).fill(2);
  let at = batch.reserve(1472);
  batch.buffer.set(a, at);
  assert.ok(batch.commit(a.length));
  at = batch.reserve(1472);
  assert.equal(at, 1000);
  const grown = batch.buffer;
  batch.buffer.set(b, at);
  assert.equal(batch.commit(b.length), false, "larger than the first: it cannot join");
  assert.deepEqual(sent(batch), a, "the others, to send");
  batch.clear();
  batch.restart(b.length);
  assert.equal(batch.count, 1);
  assert.deepEqual(sent(batch), b);
  assert.equal(batch.reserve(1472), 1200);
  assert.equal(batch.buffer, grown, "the same array: nothing is reallocated once grown");
});
