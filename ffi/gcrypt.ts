/**
 * AES-256-GCM from libgcrypt through FFI: the same cipher and bytes as OpenSSL's and libsodium's (12-byte nonce,
 * 16-byte tag after the ciphertext), so peers cannot tell which one sealed a datagram. It is the fastest of the
 * three here per sleeve datagram: its calls are plain C functions, where OpenSSL 3.0 spends about as long again
 * as the cipher itself in its provider layer on every message (parameter lookups by name), and libsodium 1.0.18
 * encrypts one block at a time (bench/RESULTS.md, "sleeve: … libgcrypt").
 *
 * One encryption and one decryption handle per key ({@link KeyStates}: made on first use, made again when the
 * array's bytes change, closed with the array). A message is three calls: set the nonce, encrypt (or decrypt,
 * in place when the output is the input), read (or check) the tag. An empty message skips the middle one:
 * libgcrypt reads a null input (what an empty array passes) as "encrypt the output in place".
 *
 * `size_t` arguments are declared as pointers and passed as cached pointer values of the length: both are one
 * 64-bit integer register on x86-64 and AArch64, and Deno's FFI calls a function with a `usize` parameter on its
 * slow path (about 100 ns more per call here, bench/RESULTS.md "sleeve: partial checksums…"), which would cost
 * more than the cipher saves.
 *
 * Synchronous, one caller at a time (the sleeve Worker). libgcrypt is loaded here, not in libc.ts, because it is
 * another library; nothing above ffi/ calls `Deno.dlopen`.
 *
 * @module
 */
import { gcmBox } from "./gcm_box.ts";
import { KeyStates, sealOpenPairs } from "./key_states.ts";
import { openOptional } from "./optional_library.ts";
import { GCM_NONCE_BYTES, KEY_BYTES, MAC_BYTES, type SecretBox } from "./sodium.ts";

/** gcrypt.h: GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM. */
const GCRY_CIPHER_AES256 = 9, GCRY_CIPHER_MODE_GCM = 9;

/** Lengths up to this have a cached pointer value (a sleeve datagram is at most 65,507 bytes). */
const CACHED_LENGTHS = 65_536;

const symbols = {
  gcry_check_version: { parameters: ["pointer"], result: "pointer" },
  gcry_cipher_open: { parameters: ["buffer", "i32", "i32", "u32"], result: "u32" },
  gcry_cipher_close: { parameters: ["pointer"], result: "void" },
  gcry_cipher_setkey: { parameters: ["pointer", "buffer", "pointer"], result: "u32" },
  gcry_cipher_setiv: { parameters: ["pointer", "buffer", "pointer"], result: "u32" },
  gcry_cipher_encrypt: { parameters: ["pointer", "buffer", "pointer", "buffer", "pointer"], result: "u32" },
  gcry_cipher_decrypt: { parameters: ["pointer", "buffer", "pointer", "buffer", "pointer"], result: "u32" },
  gcry_cipher_gettag: { parameters: ["pointer", "buffer", "pointer"], result: "u32" },
  gcry_cipher_checktag: { parameters: ["pointer", "buffer", "pointer"], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * NIST's GCM test case 14 (AES-256, zero key and nonce, 16 zero bytes): ciphertext then tag. A library that does
 * not seal it so (broken, or refusing caller-chosen nonces as in FIPS mode) is not used.
 */
const KNOWN_ANSWER = "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919";

/**
 * libgcrypt's AES-256-GCM as a {@link SecretBox} (`backend` "libgcrypt"), or undefined when libgcrypt does not
 * load or does not seal NIST's known answer.
 *
 * @param path the library to load. Default `libgcrypt.so.20`
 * @throws {Deno.errors.NotCapable} when FFI is not permitted
 */
export function gcryptAes256gcm(path = "libgcrypt.so.20"): SecretBox | undefined {
  const lib = openOptional(path, symbols);
  if (lib === undefined) return undefined;
  if (lib.gcry_check_version(null) === null) return undefined; // initialises the library
  const lengths: Deno.PointerValue[] = [];
  /** `n` as a pointer-typed `size_t` argument (see the module doc). */
  const size = (n: number): Deno.PointerValue =>
    n < CACHED_LENGTHS
      ? (lengths[n] ??= Deno.UnsafePointer.create(BigInt(n)))
      : Deno.UnsafePointer.create(BigInt(n));
  const handle = (key: Uint8Array): Deno.PointerObject | null => {
    const out = new BigUint64Array(1);
    if (lib.gcry_cipher_open(new Uint8Array(out.buffer), GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0) !== 0) {
      return null;
    }
    const h = Deno.UnsafePointer.create(out[0]);
    if (h !== null && lib.gcry_cipher_setkey(h, key, size(KEY_BYTES)) === 0) return h;
    if (h !== null) lib.gcry_cipher_close(h);
    return null;
  };
  const handles = new KeyStates(sealOpenPairs("libgcrypt", handle, (h) => lib.gcry_cipher_close(h)));
  /** The tag read after a seal and written before an open (off-heap, so it never moves). */
  const tag = new Uint8Array(new ArrayBuffer(MAC_BYTES));
  const nonceSize = size(GCM_NONCE_BYTES), tagSize = size(MAC_BYTES);

  const box = gcmBox("libgcrypt", "libgcrypt", handles, tag, {
    // An empty message skips the crypt call: libgcrypt reads a null input (an empty array) as "in place". The
    // output's size is given as n, which gcmBox checked it has room for (its length may be beyond the cache).
    seal: (h, out, plain, n, nonce) =>
      lib.gcry_cipher_setiv(h.seal, nonce, nonceSize) === 0 &&
      (n === 0 || lib.gcry_cipher_encrypt(h.seal, out, size(n), plain, size(n)) === 0) &&
      lib.gcry_cipher_gettag(h.seal, tag, tagSize) === 0,
    open: (h, out, sealed, n, nonce) =>
      lib.gcry_cipher_setiv(h.open, nonce, nonceSize) === 0 &&
      (n === 0 || lib.gcry_cipher_decrypt(h.open, out, size(n), sealed, size(n)) === 0) &&
      lib.gcry_cipher_checktag(h.open, tag, tagSize) === 0,
  });
  return sealsKnownAnswer(box) ? box : undefined;
}

function sealsKnownAnswer(box: SecretBox): boolean {
  const out = new Uint8Array(32);
  try {
    box.seal(out, new Uint8Array(16), new Uint8Array(GCM_NONCE_BYTES), new Uint8Array(KEY_BYTES));
  } catch {
    return false;
  }
  return Array.from(out, (b) => b.toString(16).padStart(2, "0")).join("") === KNOWN_ANSWER;
}
