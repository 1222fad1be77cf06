import assert from "node:assert/strict";
import { SeededRandom } from "../../testing/seeded_random.ts";
import { libsodium, MAC_BYTES, type Sodium, sodium, tweetnaclSodium } from "../../ffi/sodium.ts";

const ffi = libsodium();
const js = tweetnaclSodium();

Deno.test("sodium() picks libsodium when it loads", () => {
  assert.equal(sodium().backend, "libsodium");
  assert.equal(sodium(), sodium());
});

Deno.test("libsodium() names a missing library and the fallback", () => {
  assert.throws(
    () => libsodium("libmeshnet-nope.so"),
    /Cannot load libsodium 'libmeshnet-nope\.so'.*tweetnaclSodium/,
  );
});

Deno.test("seal() is byte-identical in libsodium and tweetnacl, and each opens the other's", () => {
  const rnd = new SeededRandom(42);
  for (let i = 0; i < 200; i++) {
    const len = i < 5 ? i : Math.floor(rnd.next() * 2000);
    const plain = rnd.bytes(len), nonce = rnd.bytes(24), key = rnd.bytes(32);
    const a = ffi.seal(new Uint8Array(len + MAC_BYTES + 7), plain, nonce, key);
    const b = js.seal(new Uint8Array(len + MAC_BYTES), plain, nonce, key);
    assert.equal(a.length, len + MAC_BYTES);
    assert.deepEqual(a, b);
    for (const [opener, sealed] of [[ffi, b], [js, a]] as [Sodium, Uint8Array][]) {
      assert.deepEqual(opener.open(new Uint8Array(len), sealed, nonce, key), plain);
    }
  }
});

Deno.test("open() rejects tampered data, a wrong nonce or key, and short input", () => {
  const rnd = new SeededRandom(7);
  for (const box of [ffi, js]) {
    const plain = rnd.bytes(300), nonce = rnd.bytes(24), key = rnd.bytes(32);
    const sealed = box.seal(new Uint8Array(316), plain, nonce, key).slice();
    const out = new Uint8Array(300);
    for (let i = 0; i < 50; i++) {
      const bad = sealed.slice();
      bad[Math.floor(rnd.next() * bad.length)] ^= 1 << Math.floor(rnd.next() * 8);
      assert.equal(box.open(out, bad, nonce, key), undefined, `${box.backend} accepted a flipped bit`);
    }
    const otherNonce = nonce.slice(), otherKey = key.slice();
    otherNonce[23] ^= 1;
    otherKey[0] ^= 1;
    assert.equal(box.open(out, sealed, otherNonce, key), undefined);
    assert.equal(box.open(out, sealed, nonce, otherKey), undefined);
    assert.equal(box.open(out, sealed.subarray(0, 15), nonce, key), undefined);
    assert.equal(box.open(out, sealed.subarray(0, 299), nonce, key), undefined);
    assert.deepEqual(box.open(out, sealed, nonce, key), plain);
  }
});

Deno.test("seal() and open() refuse wrong key, nonce and output sizes, naming them", () => {
  for (const box of [ffi, js]) {
    const n = new Uint8Array(24), k = new Uint8Array(32), p = new Uint8Array(10);
    assert.throws(
      () => box.seal(new Uint8Array(26), p, n, new Uint8Array(31)),
      /key is 31 bytes, expected 32/,
    );
    assert.throws(
      () => box.seal(new Uint8Array(26), p, new Uint8Array(8), k),
      /nonce is 8 bytes, expected 24/,
    );
    assert.throws(() => box.seal(new Uint8Array(25), p, n, k), /output is 25 bytes, needs 26/);
    assert.throws(() => box.open(new Uint8Array(9), new Uint8Array(26), n, k), RangeError);
  }
});

Deno.test("boxKeyPair(), boxBeforenm() and scalarMult() agree across backends", () => {
  for (const [x, y] of [[ffi, js], [js, ffi]]) {
    const alice = x.boxKeyPair(), bob = y.boxKeyPair();
    assert.equal(alice.publicKey.length, 32);
    assert.deepEqual(
      x.scalarMult(alice.secretKey, bob.publicKey),
      y.scalarMult(bob.secretKey, alice.publicKey),
    );
    assert.deepEqual(
      x.scalarMult(alice.secretKey, bob.publicKey),
      y.scalarMult(alice.secretKey, bob.publicKey),
    );
    const k1 = x.boxBeforenm(bob.publicKey, alice.secretKey),
      k2 = y.boxBeforenm(alice.publicKey, bob.secretKey);
    assert.deepEqual(k1, k2);
    assert.notDeepEqual(k1, x.scalarMult(alice.secretKey, bob.publicKey), "beforenm hashes the shared point");
  }
});

Deno.test("scalarMult() and boxBeforenm() refuse a low-order point", () => {
  for (const box of [ffi, js]) {
    const sk = box.boxKeyPair().secretKey;
    assert.throws(() => box.scalarMult(sk, new Uint8Array(32)), /low-order point/);
    assert.throws(() => box.boxBeforenm(new Uint8Array(32), sk), /low-order point/);
    assert.throws(() => box.scalarMult(sk, new Uint8Array(31)), /key is 31 bytes/);
  }
});

Deno.test("sha256() matches the FIPS 180-2 vector in both backends", () => {
  const abc = new TextEncoder().encode("abc");
  const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  for (const box of [ffi, js]) {
    assert.equal(Array.from(box.sha256(abc), (b) => b.toString(16).padStart(2, "0")).join(""), want);
  }
  const rnd = new SeededRandom(3), data = rnd.bytes(5000);
  assert.deepEqual(ffi.sha256(data), js.sha256(data));
});

Deno.test("randomBytes() fills the whole buffer, also beyond 64 KiB", () => {
  for (const box of [ffi, js]) {
    const buf = new Uint8Array(70_000);
    box.randomBytes(buf);
    assert.ok(buf.subarray(0, 32).some((b) => b !== 0));
    assert.ok(buf.subarray(69_968).some((b) => b !== 0));
  }
});
