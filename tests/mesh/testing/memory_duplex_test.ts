import assert from "node:assert/strict";
import { memoryDuplexPair } from "../../../src/mesh/testing/memory_duplex.ts";

Deno.test("memoryDuplexPair() delivers writes in order, honouring maxChunk", async () => {
  const [a, b] = memoryDuplexPair({ maxChunk: 2 });
  await a.write(Uint8Array.of(1, 2, 3));
  await a.write(Uint8Array.of(4));
  const buf = new Uint8Array(8);
  const got: number[] = [];
  while (got.length < 4) {
    const n = await b.read(buf);
    assert.ok(n !== null && n <= 2);
    got.push(...buf.subarray(0, n));
  }
  assert.deepEqual(got, [1, 2, 3, 4]);
  a.close();
  b.close();
});

Deno.test("MemoryDuplex.close() ends the peer's stream after queued bytes and fails local reads", async () => {
  const [a, b] = memoryDuplexPair();
  const pending = a.read(new Uint8Array(4));
  await b.write(Uint8Array.of(9));
  assert.equal(await pending, 1);
  const blocked = a.read(new Uint8Array(4));
  await a.write(Uint8Array.of(7));
  a.close();
  await assert.rejects(blocked, { message: "Cannot read: connection closed" });
  const buf = new Uint8Array(4);
  assert.equal(await b.read(buf), 1);
  assert.equal(await b.read(buf), null);
  await assert.rejects(b.write(Uint8Array.of(1)), { message: "Cannot write: connection closed by peer" });
  await assert.rejects(a.write(Uint8Array.of(1)), { message: "Cannot write: connection closed" });
  assert.ok(a.closed);
  b.close();
});
