import assert from "node:assert/strict";
import { SeededRandom } from "../../testing/seeded_random.ts";
import {
  aes256gcm,
  libsodium,
  MAC_BYTES,
  type SecretBox,
  type Sodium,
  sodium,
  tweetnaclSodium,
} from "../../ffi/sodium.ts";
import { gcryptAes256gcm } from "../../ffi/gcrypt.ts";
import { opensslAes256gcm } from "../../ffi/openssl.ts";

const ffi = libsodium();
const js = tweetnaclSodium();

/** Seals `plain` with `box` into a new buffer `spare` bytes longer than needed; the sealed bytes. */
function sealed(
  box: SecretBox,
  plain: Uint8Array,
  nonce: Uint8Array,
  key: Uint8Array,
  spare = 0,
): Uint8Array {
  const out = new Uint8Array(plain.length + MAC_BYTES + spare);
  const n = box.seal(out, plain, nonce, key);
  assert.equal(n, plain.length + MAC_BYTES);
  return out.subarray(0, n);
}

/** Opens `box`'s `sealed` bytes into `out` (default a new buffer): the plaintext, or undefined when refused. */
function opened(
  box: SecretBox,
  sealed: Uint8Array,
  nonce: Uint8Array,
  key: Uint8Array,
  out = new Uint8Array(Math.max(0, sealed.length - MAC_BYTES)),
): Uint8Array | undefined {
  const n = box.open(out, sealed, nonce, key);
  return n < 0 ? undefined : out.subarray(0, n);
}

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
    const a = sealed(ffi, plain, nonce, key, 7), b = sealed(js, plain, nonce, key);
    assert.deepEqual(a, b);
    for (const [opener, box] of [[ffi, b], [js, a]] as [Sodium, Uint8Array][]) {
      assert.deepEqual(opened(opener, box, nonce, key), plain);
    }
  }
});

/**
 * Seals 300 seeded bytes with `box` and checks that open() refuses every flipped bit, a wrong nonce or key and
 * short input, and still opens the original afterwards; returns the inputs for further checks.
 */
function assertRefusesForgeries(box: SecretBox, seed: number) {
  const rnd = new SeededRandom(seed);
  const plain = rnd.bytes(300), nonce = rnd.bytes(box.nonceBytes), key = rnd.bytes(32);
  const box316 = sealed(box, plain, nonce, key);
  const out = new Uint8Array(300);
  for (let i = 0; i < 50; i++) {
    const bad = box316.slice();
    bad[Math.floor(rnd.next() * bad.length)] ^= 1 << Math.floor(rnd.next() * 8);
    assert.equal(box.open(out, bad, nonce, key), -1, `${box.backend} accepted a flipped bit`);
    assert.equal(box.open(bad, bad, nonce, key), -1, `${box.backend} accepted a flipped bit in place`);
  }
  const otherNonce = nonce.slice(), otherKey = key.slice();
  otherNonce[nonce.length - 1] ^= 1;
  otherKey[0] ^= 1;
  assert.equal(box.open(out, box316, otherNonce, key), -1);
  assert.equal(box.open(out, box316, nonce, otherKey), -1);
  assert.equal(box.open(out, box316.subarray(0, 15), nonce, key), -1);
  assert.equal(box.open(out, box316.subarray(0, 299), nonce, key), -1);
  assert.deepEqual(opened(box, box316, nonce, key, out), plain, "a failed open leaves the key usable");
  return { plain, nonce, key, sealed: box316, out };
}

Deno.test("open() rejects tampered data, a wrong nonce or key, and short input", () => {
  assertRefusesForgeries(ffi, 7);
  assertRefusesForgeries(js, 8);
});

/**
 * Checks `box` against `reference` (a backend sealing the same bytes): a seal of the first `length` bytes of a
 * larger buffer equals a seal of those bytes alone, and the result opens in place, its plaintext replacing the
 * box from its first byte.
 */
function assertSealsPrefixAndOpensInPlace(box: SecretBox, reference: SecretBox, seed: number): void {
  const rnd = new SeededRandom(seed);
  for (let i = 0; i < 40; i++) {
    const len = i < 3 ? i : rnd.int(1600);
    const buffer = rnd.bytes(len + rnd.int(40)), nonce = rnd.bytes(box.nonceBytes), key = rnd.bytes(32);
    const plain = buffer.slice(0, len), out = new Uint8Array(len + MAC_BYTES + 3);
    assert.equal(box.seal(out, buffer, nonce, key, len), len + MAC_BYTES);
    const whole = out.subarray(0, len + MAC_BYTES);
    assert.deepEqual(whole, sealed(reference, plain, nonce, key), `${box.backend}: the first ${len} bytes`);
    const around = new Uint8Array(5 + whole.length + 5).fill(0xa5);
    around.set(whole, 5);
    const inPlace = around.subarray(5, 5 + whole.length);
    assert.equal(box.open(inPlace, inPlace, nonce, key), len, `${box.backend}: opens in place`);
    assert.deepEqual(around.subarray(5, 5 + len), plain);
    assert.deepEqual(
      [...around.subarray(0, 5), ...around.subarray(5 + whole.length)],
      new Array(10).fill(0xa5),
    );
  }
}

Deno.test("seal() takes a length within its input, and open() opens in place, in libsodium and tweetnacl", () => {
  assertSealsPrefixAndOpensInPlace(ffi, js, 21);
  assertSealsPrefixAndOpensInPlace(js, ffi, 22);
  for (const box of [ffi, js]) {
    const out = new Uint8Array(64), n = new Uint8Array(24), k = new Uint8Array(32), p = new Uint8Array(10);
    for (const bad of [11, -1, 2.5, NaN]) {
      assert.throws(() => box.seal(out, p, n, k, bad), new RegExp(`length ${bad} is not within the 10-byte`));
    }
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

/** libsodium's AES-256-GCM, which loads exactly where the CPU has AES-NI and PCLMULQDQ. */
const gcm = aes256gcm();
// Through cat: Deno reads /proc only with --allow-all, which the test tasks do not grant.
const cpuinfo = new TextDecoder().decode(
  new Deno.Command("cat", { args: ["/proc/cpuinfo"] }).outputSync().stdout,
);
const cpuFlags = cpuinfo.match(/^flags\s*:(.*)$/m)?.[1].split(/\s+/) ?? [];
const cpuHasAes = cpuFlags.includes("aes") && cpuFlags.includes("pclmulqdq");

Deno.test("aes256gcm() is there exactly when the CPU has AES-NI", () => {
  assert.equal(gcm !== undefined, cpuHasAes);
});

/** The AES-256-GCM implementations, where the CPU has AES-NI: libsodium's, OpenSSL's and libgcrypt's. */
const gcms: [string, SecretBox | undefined][] = [
  ["aes256gcm()", gcm],
  ["opensslAes256gcm()", cpuHasAes ? opensslAes256gcm() : undefined],
  ["gcryptAes256gcm()", cpuHasAes ? gcryptAes256gcm() : undefined],
];

for (const [what, impl] of gcms) {
  Deno.test({
    name: `${what} seals as WebCrypto's AES-256-GCM does and opens WebCrypto's output`,
    ignore: !cpuHasAes,
    fn: async () => {
      assert.ok(impl, "AES-256-GCM is available on this CPU");
      const box: SecretBox = impl;
      assert.equal(box.cipher, "aes256gcm");
      const rnd = new SeededRandom(11);
      for (let i = 0; i < 60; i++) {
        const len = i < 3 ? i : Math.floor(rnd.next() * 2000);
        const [plain, nonce, key] = [rnd.bytes(len), rnd.bytes(12), rnd.bytes(32)].map((b) =>
          new Uint8Array(b)
        );
        const ours = sealed(box, plain, nonce, key, 5);
        const k = await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["encrypt"]);
        const theirs = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, k, plain));
        assert.deepEqual(ours, theirs);
        assert.deepEqual(opened(box, theirs, nonce, key), plain);
      }
    },
  });

  Deno.test({
    name: `${what} rejects tampered data, a wrong nonce or key, short input, and a 24-byte nonce`,
    ignore: !cpuHasAes,
    fn: () => {
      assert.ok(impl);
      const box: SecretBox = impl;
      const { plain, nonce, key, sealed, out } = assertRefusesForgeries(box, 12);
      assert.throws(() => box.seal(out, plain, new Uint8Array(24), key), /nonce is 24 bytes, expected 12/);
      assert.throws(() => box.seal(new Uint8Array(315), plain, nonce, key), /output is 315 bytes, needs 316/);
      assert.throws(() => box.open(out, sealed, nonce, key.subarray(0, 31)), /key is 31 bytes, expected 32/);
      assert.throws(() => box.seal(new Uint8Array(400), plain, nonce, key, 301), /length 301 is not within/);
      assertSealsPrefixAndOpensInPlace(box, gcm!, 23);
    },
  });
}

for (
  const [what, make] of [["opensslAes256gcm()", opensslAes256gcm], [
    "gcryptAes256gcm()",
    gcryptAes256gcm,
  ]] as const
) {
  Deno.test({
    name:
      `${what} and libsodium seal alike across many keys, a key array whose bytes change, and both directions`,
    ignore: !cpuHasAes,
    fn: () => {
      const ours = make()!, theirs = gcm!;
      assert.equal(ours.backend, what.startsWith("openssl") ? "openssl" : "libgcrypt");
      const rnd = new SeededRandom(13);
      const key = rnd.bytes(32), nonce = rnd.bytes(12), a = new Uint8Array(2100), b = new Uint8Array(2100);
      for (let i = 0; i < 300; i++) {
        if (i % 7 === 0) key.set(rnd.bytes(32)); // the same array, new bytes: new contexts
        const k = i % 3 === 0 ? rnd.bytes(32) : key; // and many short-lived keys
        nonce[i % 12] ^= 1 + i;
        const plain = rnd.bytes(rnd.int(2000));
        const box = a.subarray(0, ours.seal(a, plain, nonce, k));
        assert.deepEqual(box, b.subarray(0, theirs.seal(b, plain, nonce, k)), `datagram ${i}`);
        assert.deepEqual(opened(theirs, box, nonce, k), plain);
        assert.deepEqual(opened(ours, box.slice(), nonce, k), plain);
      }
    },
  });
}

Deno.test("opensslAes256gcm() and gcryptAes256gcm() are undefined, not an error, when their library is missing", () => {
  assert.equal(opensslAes256gcm("libmeshnet-nope.so"), undefined);
  assert.equal(gcryptAes256gcm("libmeshnet-nope.so"), undefined);
});

Deno.test("aes256gcm() is undefined, not an error, when libsodium is missing", () => {
  assert.equal(aes256gcm("libmeshnet-nope.so"), undefined);
});
