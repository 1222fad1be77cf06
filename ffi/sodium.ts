/**
 * The data plane's NaCl: libsodium through FFI (780 MB/s secretbox at 1400 bytes, limits.md §5), falling back to
 * the pure-JS npm `tweetnacl` (61 MB/s) when libsodium.so.23 is missing. Both give byte-identical output.
 *
 * `seal`/`open` write into caller buffers and return lengths, not views, so the sleeve's hot path allocates
 * nothing with libsodium (the tweetnacl fallback allocates inside and copies); `open` works in place. libsodium
 * is loaded here, not in libc.ts, because it is another library; nothing above ffi/ calls `Deno.dlopen`.
 *
 * @module
 */
import nacl from "tweetnacl";
import { createHash } from "node:crypto";

/** Bytes in a secretbox key. */
export const KEY_BYTES = 32;
/** Bytes in a secretbox nonce. */
export const NONCE_BYTES = 24;
/** Bytes in an AES-256-GCM nonce. */
export const GCM_NONCE_BYTES = 12;
/** Bytes secretbox adds to a message (the Poly1305 tag, in front of the ciphertext). */
export const MAC_BYTES = 16;
/** Bytes in a Curve25519 public or secret key, and in a scalar multiplication result. */
export const CURVE_BYTES = 32;
/** Bytes in a SHA-256 digest. */
export const SHA256_BYTES = 32;

/** The data plane's ciphers, most preferred first: AES-256-GCM where the CPU has AES-NI, else XSalsa20-Poly1305. */
export const CIPHERS = ["aes256gcm", "xsalsa20poly1305"] as const;

/** A data-plane cipher's name, as peers offer it in the handshake's features. */
export type Cipher = typeof CIPHERS[number];

/**
 * Authenticated encryption into caller buffers: NaCl's secretbox (XSalsa20-Poly1305), or AES-256-GCM with the
 * same sizes but a 12-byte nonce and the tag after the ciphertext.
 */
export interface SecretBox {
  /**
   * Which implementation runs: `libsodium` (FFI), `tweetnacl` (pure JS), or for AES-256-GCM only `libgcrypt` or
   * `openssl` (FFI).
   */
  readonly backend: "libsodium" | "tweetnacl" | "openssl" | "libgcrypt";
  /** Which cipher it is. */
  readonly cipher: Cipher;
  /** Bytes in its nonce: {@link NONCE_BYTES} for secretbox, {@link GCM_NONCE_BYTES} for AES-256-GCM. */
  readonly nonceBytes: number;

  /**
   * Seals the first `length` bytes of `plain` (`length + 16` bytes: tag and ciphertext) into the start of
   * `out`, which must not overlap `plain`.
   *
   * @param length how many bytes of `plain` to seal, from its start. Default `plain.length`
   * @returns the bytes written to `out`, `length + 16`
   * @throws {RangeError} when the key is not 32 bytes, the nonce not {@link nonceBytes}, `length` not within
   *   `plain`, or `out` too short
   */
  seal(out: Uint8Array, plain: Uint8Array, nonce: Uint8Array, key: Uint8Array, length?: number): number;

  /**
   * Opens `sealed` into the start of `out` (`sealed.length − 16` bytes) when its tag verifies. `out` may be
   * `sealed` itself (the same start): the plaintext then replaces the box in place, with every backend. When
   * the tag does not verify, `out` may hold unverified bytes: do not use them.
   *
   * @returns the plaintext's length, `sealed.length − 16`; −1 when forged, tampered or shorter than 16 bytes
   * @throws {RangeError} when the key is not 32 bytes, the nonce not {@link nonceBytes}, or `out` too short
   */
  open(out: Uint8Array, sealed: Uint8Array, nonce: Uint8Array, key: Uint8Array): number;
}

/** A Curve25519 key pair. */
export interface BoxKeyPair {
  /** 32 bytes, shared with the peer. */
  publicKey: Uint8Array;
  /** 32 bytes, kept secret. */
  secretKey: Uint8Array;
}

/** The NaCl operations meshnet uses, from libsodium or tweetnacl. */
export interface Sodium extends SecretBox {
  /** A fresh random Curve25519 key pair (`crypto_box_keypair`). */
  boxKeyPair(): BoxKeyPair;

  /**
   * The 32-byte shared key of `crypto_box` (HSalsa20 of the Curve25519 shared point), as `nacl.box.before`.
   *
   * @throws {RangeError} when a key is not 32 bytes
   */
  boxBeforenm(publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array;

  /**
   * The raw Curve25519 product `scalar · point` (`crypto_scalarmult`), 32 bytes.
   *
   * @throws {RangeError} when an input is not 32 bytes
   * @throws {Error} when the result is all zero (a low-order point from a malicious peer)
   */
  scalarMult(scalar: Uint8Array, point: Uint8Array): Uint8Array;

  /** The 32-byte SHA-256 digest of `data`. */
  sha256(data: Uint8Array): Uint8Array;

  /** Fills `buf` with bytes from the system CSPRNG. */
  randomBytes(buf: Uint8Array): void;
}

const symbols = {
  sodium_init: { parameters: [], result: "i32" },
  crypto_secretbox_easy: { parameters: ["buffer", "buffer", "u64", "buffer", "buffer"], result: "i32" },
  crypto_secretbox_open_easy: { parameters: ["buffer", "buffer", "u64", "buffer", "buffer"], result: "i32" },
  crypto_box_keypair: { parameters: ["buffer", "buffer"], result: "i32" },
  crypto_box_beforenm: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  crypto_scalarmult: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  crypto_hash_sha256: { parameters: ["buffer", "buffer", "u64"], result: "i32" },
  randombytes_buf: { parameters: ["buffer", "usize"], result: "void" },
  // AES-256-GCM: (c, clen_p, m, mlen, ad, adlen, nsec, npub, k) and (m, mlen_p, nsec, c, clen, ad, adlen, npub, k).
  crypto_aead_aes256gcm_is_available: { parameters: [], result: "i32" },
  crypto_aead_aes256gcm_encrypt: {
    parameters: ["buffer", "buffer", "buffer", "u64", "buffer", "u64", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  crypto_aead_aes256gcm_decrypt: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "u64", "buffer", "u64", "buffer", "buffer"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** libsodium's symbols, loaded and initialised. */
type Lib = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** libsodium opened and initialised, by path: {@link libsodium} and {@link aes256gcm} share one load. */
const opened = new Map<string, Lib>();

/**
 * Loads libsodium (one symbol table for secretbox, keys, hashes and AES-256-GCM) and initialises it, once
 * per path in this isolate.
 * @throws {Error} `Cannot load libsodium 'path': …; install libsodium23 or use tweetnaclSodium()`
 * @throws {Deno.errors.NotCapable} when FFI is not permitted
 */
function openLibsodium(path: string): Lib {
  const known = opened.get(path);
  if (known) return known;
  let lib: Lib;
  try {
    lib = Deno.dlopen(path, symbols).symbols;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw e;
    throw new Error(
      `Cannot load libsodium '${path}': ${
        (e as Error).message
      }; install libsodium23 or use tweetnaclSodium()`,
    );
  }
  if (lib.sodium_init() < 0) throw new Error(`Cannot initialise libsodium '${path}': sodium_init() failed`);
  opened.set(path, lib);
  return lib;
}

/**
 * Refuses wrong key, nonce and output sizes for a seal or open, naming the operation and the size found.
 *
 * @throws {RangeError} saying which size is wrong
 */
export function checkSealSizes(
  op: string,
  out: Uint8Array,
  need: number,
  nonce: Uint8Array,
  key: Uint8Array,
  nonceBytes = NONCE_BYTES,
): void {
  if (key.length !== KEY_BYTES) {
    throw new RangeError(`Cannot ${op}: key is ${key.length} bytes, expected ${KEY_BYTES}`);
  }
  if (nonce.length !== nonceBytes) {
    throw new RangeError(`Cannot ${op}: nonce is ${nonce.length} bytes, expected ${nonceBytes}`);
  }
  if (out.length < need) throw new RangeError(`Cannot ${op}: output is ${out.length} bytes, needs ${need}`);
}

/**
 * Refuses a seal of the first `length` bytes of `plain` into `out` whose length is not a whole number of bytes
 * within `plain` (FFI would read past it), or whose key, nonce or output sizes are wrong ({@link checkSealSizes}).
 *
 * @throws {RangeError} naming what is wrong and the size found
 */
export function checkSeal(
  out: Uint8Array,
  plain: Uint8Array,
  length: number,
  nonce: Uint8Array,
  key: Uint8Array,
  nonceBytes = NONCE_BYTES,
): void {
  if (!Number.isInteger(length) || length < 0 || length > plain.length) {
    throw new RangeError(`Cannot seal: length ${length} is not within the ${plain.length}-byte plaintext`);
  }
  checkSealSizes("seal", out, length + MAC_BYTES, nonce, key, nonceBytes);
}

function checkCurve(op: string, ...keys: Uint8Array[]): void {
  for (const k of keys) {
    if (k.length !== CURVE_BYTES) {
      throw new RangeError(`Cannot ${op}: key is ${k.length} bytes, expected ${CURVE_BYTES}`);
    }
  }
}

function zeroProduct(): Error {
  return new Error("Cannot multiply: the peer's public key is a low-order point; refuse this peer");
}

/**
 * Loads libsodium through FFI and initialises it.
 *
 * @param path the library to load. Default `libsodium.so.23`
 * @throws {Error} `Cannot load libsodium 'path': …; install libsodium23 or use tweetnaclSodium()`
 */
export function libsodium(path = "libsodium.so.23"): Sodium {
  const lib = openLibsodium(path);
  return {
    backend: "libsodium",
    cipher: "xsalsa20poly1305",
    nonceBytes: NONCE_BYTES,
    seal(out, plain, nonce, key, length = plain.length) {
      checkSeal(out, plain, length, nonce, key);
      lib.crypto_secretbox_easy(out, plain, BigInt(length), nonce, key);
      return length + MAC_BYTES;
    },
    open(out, sealed, nonce, key) {
      if (sealed.length < MAC_BYTES) return -1;
      const need = sealed.length - MAC_BYTES;
      checkSealSizes("open", out, need, nonce, key);
      return lib.crypto_secretbox_open_easy(out, sealed, BigInt(sealed.length), nonce, key) === 0 ? need : -1;
    },
    boxKeyPair() {
      const publicKey = new Uint8Array(CURVE_BYTES), secretKey = new Uint8Array(CURVE_BYTES);
      lib.crypto_box_keypair(publicKey, secretKey);
      return { publicKey, secretKey };
    },
    boxBeforenm(publicKey, secretKey) {
      checkCurve("compute the shared key", publicKey, secretKey);
      const k = new Uint8Array(KEY_BYTES);
      if (lib.crypto_box_beforenm(k, publicKey, secretKey) !== 0) throw zeroProduct();
      return k;
    },
    scalarMult(scalar, point) {
      checkCurve("multiply", scalar, point);
      const q = new Uint8Array(CURVE_BYTES);
      if (lib.crypto_scalarmult(q, scalar, point) !== 0) throw zeroProduct();
      return q;
    },
    sha256(data) {
      const out = new Uint8Array(SHA256_BYTES);
      lib.crypto_hash_sha256(out, data, BigInt(data.length));
      return out;
    },
    randomBytes(buf) {
      lib.randombytes_buf(buf, BigInt(buf.length));
    },
  };
}

/** The same operations in pure JavaScript (npm `tweetnacl`, SHA-256 from node:crypto); always available. */
export function tweetnaclSodium(): Sodium {
  return {
    backend: "tweetnacl",
    cipher: "xsalsa20poly1305",
    nonceBytes: NONCE_BYTES,
    seal(out, plain, nonce, key, length = plain.length) {
      checkSeal(out, plain, length, nonce, key);
      const sealed = nacl.secretbox(plain.subarray(0, length), nonce, key);
      out.set(sealed);
      return sealed.length;
    },
    open(out, sealed, nonce, key) {
      if (sealed.length < MAC_BYTES) return -1;
      checkSealSizes("open", out, sealed.length - MAC_BYTES, nonce, key);
      const plain = nacl.secretbox.open(sealed, nonce, key);
      if (!plain) return -1;
      out.set(plain);
      return plain.length;
    },
    boxKeyPair() {
      return nacl.box.keyPair();
    },
    boxBeforenm(publicKey, secretKey) {
      checkCurve("compute the shared key", publicKey, secretKey);
      if (nacl.scalarMult(secretKey, publicKey).every((b) => b === 0)) throw zeroProduct();
      return nacl.box.before(publicKey, secretKey);
    },
    scalarMult(scalar, point) {
      checkCurve("multiply", scalar, point);
      const q = nacl.scalarMult(scalar, point);
      if (q.every((b) => b === 0)) throw zeroProduct();
      return q;
    },
    sha256(data) {
      return new Uint8Array(createHash("sha256").update(data).digest());
    },
    randomBytes(buf) {
      for (let i = 0; i < buf.length; i += 65536) crypto.getRandomValues(buf.subarray(i, i + 65536));
    },
  };
}

/**
 * AES-256-GCM from libsodium, or undefined where it cannot run: libsodium missing, or a CPU without AES-NI
 * and PCLMULQDQ (libsodium has no constant-time software AES). About twice secretbox's speed per 1400-byte
 * datagram here (1.0 against 1.9 µs).
 *
 * @throws {Deno.errors.NotCapable} when FFI is not permitted
 */
export function aes256gcm(path = "libsodium.so.23"): SecretBox | undefined {
  let lib: Lib;
  try {
    lib = openLibsodium(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw e;
    return undefined;
  }
  if (lib.crypto_aead_aes256gcm_is_available() !== 1) return undefined;
  return {
    backend: "libsodium",
    cipher: "aes256gcm",
    nonceBytes: GCM_NONCE_BYTES,
    seal(out, plain, nonce, key, length = plain.length) {
      checkSeal(out, plain, length, nonce, key, GCM_NONCE_BYTES);
      lib.crypto_aead_aes256gcm_encrypt(out, null, plain, BigInt(length), null, 0n, null, nonce, key);
      return length + MAC_BYTES;
    },
    open(out, sealed, nonce, key) {
      if (sealed.length < MAC_BYTES) return -1;
      const need = sealed.length - MAC_BYTES;
      checkSealSizes("open", out, need, nonce, key, GCM_NONCE_BYTES);
      const n = BigInt(sealed.length);
      return lib.crypto_aead_aes256gcm_decrypt(out, null, null, sealed, n, null, 0n, nonce, key) === 0
        ? need
        : -1;
    },
  };
}

let chosen: Sodium | undefined;

/**
 * The process's NaCl: libsodium when it loads, else tweetnacl. Chosen once; check {@link SecretBox.backend}
 * to report which (status shows it, since tweetnacl is about 13× slower).
 *
 * @throws {Deno.errors.NotCapable} when FFI is not permitted (grant --allow-ffi, or call tweetnaclSodium())
 *
 * @example
 * ```ts
 * const na = sodium();
 * const sealed = na.seal(out, frame, nonce, sessionKey);
 * ```
 */
export function sodium(): Sodium {
  if (chosen) return chosen;
  try {
    chosen = libsodium();
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw e;
    chosen = tweetnaclSodium();
  }
  return chosen;
}
