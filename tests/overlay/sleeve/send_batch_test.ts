import assert from "node:assert/strict";
import { GSO_MAX_SEGMENTS } from "../../../ffi/udp.ts";
import { MAX_DATAGRAM } from "../../../src/overlay/sleeve/constants.ts";
import { SendBatch } from "../../../src/overlay/sleeve/send_batch.ts";
import { SeededRandom } from "../../../testing/seeded_random.ts";

Deno.test("SendBatch takes what one UDP GSO send can carry, in order, and nothing else (seeded, against a model)", () => {
  const rnd = new SeededRandom(0x65b);
  for (let round = 0; round < 40; round++) {
    const batch = new SendBatch();
    const model: Uint8Array[] = [];
    const sizes = [1400, 1400, 900, 60, 8000, 30_000, 65_000];
    for (let step = 0; step < 200; step++) {
      const d = rnd.bytes(rnd.int(3) === 0 ? sizes[rnd.int(sizes.length)] : 1 + rnd.int(1500));
      const first = model[0]?.length ?? Infinity, total = model.reduce((a, m) => a + m.length, 0);
      const fits = model.length === 0 ||
        (d.length <= first && model.at(-1)!.length === first && model.length < GSO_MAX_SEGMENTS &&
          total + d.length <= MAX_DATAGRAM);
      assert.equal(batch.add(d), fits, `round ${round} step ${step}`);
      if (fits) model.push(d);
      if (!fits || rnd.int(20) === 0) {
        assert.equal(batch.count, model.length);
        assert.equal(batch.segmentSize, model[0].length);
        assert.deepEqual(batch.bytes, new Uint8Array(model.flatMap((m) => [...m])));
        model.forEach((m, i) => assert.deepEqual(batch.datagram(i), m));
        batch.clear();
        model.length = 0;
        assert.equal(batch.count, 0);
      }
    }
  }
});
