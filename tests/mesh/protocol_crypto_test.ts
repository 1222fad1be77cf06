import assert from "node:assert/strict";
import {
  AuthenticationError,
  deriveSessionKey,
  generateKeyPair,
  makeNonce,
  MESSAGE_SEAL_OVERHEAD,
  MessageOpener,
  MessageSealer,
  writeNonce,
} from "../../src/mesh/protocol_crypto.ts";

const password = new TextEncoder().encode("s3cret");

async function sessionPair(): Promise<[Uint8Array, Uint8Array]> {
  const a = generateKeyPair();
  const b = generateKeyPair();
  return [await deriveSessionKey(a, b.publicKey, password), await deriveSessionKey(b, a.publicKey, password)];
}

Deno.test("deriveSessionKey() gives both ends the same 32-byte key, which depends on the password", async () => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  const ka = await deriveSessionKey(a, b.publicKey, password);
  const kb = await deriveSessionKey(b, a.publicKey, password);
  assert.equal(ka.length, 32);
  assert.deepEqual(ka, kb);
  const other = await deriveSessionKey(b, a.publicKey, new TextEncoder().encode("s3cres"));
  assert.notDeepEqual(ka, other);
  await assert.rejects(deriveSessionKey(a, new Uint8Array(31), password), {
    message: "Cannot derive session key: peer public key is 31 bytes, expected 32",
  });
});

Deno.test("makeNonce() sets the outbound and TCP bits and the big-endian sequence", () => {
  const nonce = makeNonce(0x0102030405060708n, true, true);
  assert.equal(nonce.length, 24);
  assert.equal(nonce[0], 0xc0);
  assert.deepEqual(nonce.subarray(1, 16), new Uint8Array(15));
  assert.deepEqual(nonce.subarray(16), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  assert.equal(makeNonce(1n, false, true)[0], 0x40);
  assert.equal(makeNonce(1n, true, false)[0], 0x80);
  assert.equal(makeNonce(1n, false, false)[0], 0x00);
});

Deno.test("MessageSealer.seal() output opens in order on the other end", async () => {
  const [ka, kb] = await sessionPair();
  const sealer = new MessageSealer(ka, true);
  const opener = new MessageOpener(kb, false);
  for (let i = 0; i < 5; i++) {
    const plain = Uint8Array.of(i, i + 1);
    const sealed = sealer.seal(plain);
    assert.equal(sealed.length, plain.length + MESSAGE_SEAL_OVERHEAD);
    assert.deepEqual(opener.open(sealed), plain);
  }
});

Deno.test("MessageOpener.open() rejects replayed, reordered, dropped, tampered and reflected messages", async () => {
  const [ka, kb] = await sessionPair();
  const sealer = new MessageSealer(ka, true);
  const m0 = sealer.seal(Uint8Array.of(0));
  const m1 = sealer.seal(Uint8Array.of(1));
  const m2 = sealer.seal(Uint8Array.of(2));

  const reordered = new MessageOpener(kb, false);
  assert.throws(() => reordered.open(m1), AuthenticationError);
  assert.deepEqual(reordered.open(m0), Uint8Array.of(0)); // the failure did not advance the counter

  const replayed = new MessageOpener(kb, false);
  replayed.open(m0);
  assert.throws(() => replayed.open(m0), {
    name: "AuthenticationError",
    message: /Cannot open message 1 from peer/,
  });

  const dropped = new MessageOpener(kb, false);
  dropped.open(m0);
  assert.throws(() => dropped.open(m2), AuthenticationError);

  const tampered = new MessageOpener(kb, false);
  const bad = m0.slice();
  bad[bad.length - 1] ^= 1;
  assert.throws(() => tampered.open(bad), AuthenticationError);
  assert.throws(() => tampered.open(new Uint8Array(3)), AuthenticationError);

  // Our own message sent back to us: the outbound bit differs, so it does not open.
  const reflected = new MessageOpener(ka, true);
  assert.throws(() => reflected.open(m0), AuthenticationError);
});

Deno.test("writeNonce() writes what makeNonce() makes, for sequences up to 2^53, over any previous content", () => {
  const into = new Uint8Array(24).fill(0xff);
  for (const seq of [0, 1, 255, 256, 0xffff_ffff, 0x1_0000_0000, 2 ** 52 + 12345, Number.MAX_SAFE_INTEGER]) {
    for (const [outbound, tcp] of [[true, true], [false, false], [true, false]]) {
      assert.deepEqual(writeNonce(into, seq, outbound, tcp), makeNonce(BigInt(seq), outbound, tcp), `${seq}`);
    }
  }
});

Deno.test("writeNonce() into 12 bytes: the flags byte, zeros, then the sequence big-endian in the last 8", () => {
  const n = writeNonce(new Uint8Array(12).fill(0xff), 0x0102_0304_0506, true, false);
  assert.deepEqual([...n], [0x80, 0, 0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06]);
});
