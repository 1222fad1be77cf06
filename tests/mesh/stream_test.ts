import assert from "node:assert/strict";
import { type Duplex, StreamReader, writeAll } from "../../src/mesh/stream.ts";
import { memoryDuplexPair } from "../../src/mesh/testing/memory_duplex.ts";

Deno.test("StreamReader.readExact() reassembles bytes split across reads", async () => {
  const [a, b] = memoryDuplexPair({ maxChunk: 3 });
  await a.write(Uint8Array.from({ length: 10 }, (_, i) => i));
  const reader = new StreamReader(b);
  assert.deepEqual(await reader.readExact(4, "x"), Uint8Array.of(0, 1, 2, 3));
  assert.deepEqual(await reader.readExact(6, "x"), Uint8Array.of(4, 5, 6, 7, 8, 9));
  a.close();
  b.close();
});

Deno.test("StreamReader.readExactOrEnd() returns null at end of stream and throws when truncated", async () => {
  const [a, b] = memoryDuplexPair();
  const reader = new StreamReader(b);
  await a.write(Uint8Array.of(1, 2));
  a.close();
  await assert.rejects(reader.readExactOrEnd(4, "message length"), {
    message: "Cannot read message length: connection closed after 2 of 4 bytes",
  });
  assert.equal(await reader.readExactOrEnd(4, "message length"), null);
  await assert.rejects(reader.readExact(1, "tag"), { message: "Cannot read tag: connection closed by peer" });
  b.close();
});

Deno.test("writeAll() loops over short writes", async () => {
  const written: number[] = [];
  const duplex: Duplex = {
    read: () => Promise.resolve(null),
    write: (p) => {
      const n = Math.min(2, p.length);
      written.push(...p.subarray(0, n));
      return Promise.resolve(n);
    },
    close: () => {},
  };
  await writeAll(duplex, Uint8Array.of(1, 2, 3, 4, 5));
  assert.deepEqual(written, [1, 2, 3, 4, 5]);
});
