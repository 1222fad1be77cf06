import assert from "node:assert/strict";
import { readFrame, writeFrame } from "../../src/dns/framing.ts";
import { DnsFormatError } from "../../src/dns/message.ts";

/** A reader over fixed chunks, at most one chunk per read call. */
function reader(...chunks: number[][]) {
  return {
    read(p: Uint8Array): Promise<number | null> {
      const c = chunks.shift();
      if (!c) return Promise.resolve(null);
      const n = Math.min(c.length, p.length);
      p.set(c.slice(0, n));
      if (n < c.length) chunks.unshift(c.slice(n));
      return Promise.resolve(n);
    },
  };
}

Deno.test("readFrame() reads frames split across reads and ends cleanly between them", async () => {
  const r = reader([0, 3, 1], [2], [3, 0], [1, 9]);
  assert.deepEqual(await readFrame(r), Uint8Array.of(1, 2, 3));
  assert.deepEqual(await readFrame(r), Uint8Array.of(9));
  assert.equal(await readFrame(r), undefined);
});

Deno.test("readFrame() refuses a length larger than what follows", async () => {
  await assert.rejects(readFrame(reader([0x10, 0, 1, 2])), (e: Error) => e instanceof DnsFormatError);
  await assert.rejects(readFrame(reader([0x10])), /after 1 of 2 bytes/);
  await assert.rejects(readFrame(reader([0, 5])), /after the length prefix 5/);
});

Deno.test("writeFrame() prefixes the length and writes through partial writes", async () => {
  const out: number[] = [];
  const w = { write: (p: Uint8Array) => (out.push(p[0]), Promise.resolve(1)) };
  await writeFrame(w, Uint8Array.of(7, 8));
  assert.deepEqual(out, [0, 2, 7, 8]);
  await assert.rejects(writeFrame(w, new Uint8Array(70000)), RangeError);
});
