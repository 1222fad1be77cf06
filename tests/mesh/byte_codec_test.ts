import assert from "node:assert/strict";
import { ByteReader, ByteWriter } from "../../src/mesh/byte_codec.ts";

Deno.test("ByteWriter and ByteReader round-trip every field type, growing as needed", () => {
  const blob = new Uint8Array(1000).fill(7);
  const bytes = new ByteWriter(1).u8(255).u16(65535).u32(2 ** 32 - 1).u64(2n ** 64n - 1n).str("ascii").str(
    "ünï",
  )
    .bytes(blob).raw(new Uint8Array([1])).finish();
  const r = new ByteReader(bytes, "test");
  assert.equal(r.u8("a"), 255);
  assert.equal(r.u16("b"), 65535);
  assert.equal(r.u32("c"), 2 ** 32 - 1);
  assert.equal(r.u64("d"), 2n ** 64n - 1n);
  assert.equal(r.str("e"), "ascii");
  assert.equal(r.str("f"), "ünï");
  assert.deepEqual(r.bytes("g"), blob);
  assert.deepEqual(r.raw(1, "h"), new Uint8Array([1]));
  r.end();
});

Deno.test("ByteReader throws clear errors on truncation, bad UTF-8 and trailing bytes", () => {
  assert.throws(
    () => new ByteReader(new Uint8Array([0, 5, 65]), "thing").str("name"),
    /^Error: Cannot decode thing: 'name' needs 5 bytes at offset 2 but only 1 remain; /,
  );
  assert.throws(
    () => new ByteReader(new Uint8Array([0, 1, 0xff]), "thing").str("name"),
    /'name' is not valid UTF-8/,
  );
  assert.throws(() => new ByteReader(new Uint8Array([1]), "thing").end(), /1 unexpected trailing bytes/);
  assert.throws(() => new ByteWriter().str("é".repeat(40000)), /^Error: Cannot encode string of 80000 bytes/);
});
