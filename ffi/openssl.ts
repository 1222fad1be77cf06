/**
 * AES-256-GCM from OpenSSL's libcrypto through FFI: the same cipher and bytes as libsodium's
 * `crypto_aead_aes256gcm` (12-byte nonce, 16-byte tag after the ciphertext), so peers cannot tell which one
 * sealed a datagram. It is faster here: OpenSSL uses the CPU's vector AES and carry-less multiply (VAES,
 * VPCLMULQDQ) where libsodium uses one block at a time, and it keeps each key's schedule in a cipher
 * context instead of expanding the key on every call (bench/RESULTS.md, "sleeve: partial checksums…").
 *
 * One encryption and one decryption context per key, made on first use and freed when the key's array is
 * garbage collected (the last key used is held until another is). A context remembers the key's bytes: an
 * array whose bytes changed gets new contexts. The last key's contexts are found without a map lookup, as a
 * link seals or opens many datagrams in a row.
 * Synchronous, one caller at a time (the sleeve Worker). libcrypto is loaded here, not in libc.ts, because it
 * is another library; nothing above ffi/ calls `Deno.dlopen`.
 *
 * @module
 */
import { checkSealSizes, GCM_NONCE_BYTES, KEY_BYTES, MAC_BYTES, type SecretBox } from "./sodium.ts";

/** `EVP_CIPHER_CTX_ctrl` commands (openssl/evp.h). */
const EVP_CTRL_GCM_GET_TAG = 0x10, EVP_CTRL_GCM_SET_TAG = 0x11;

const symbols = {
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  EVP_EncryptInit_ex: { parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"], result: "i32" },
  EVP_EncryptUpdate: { parameters: ["pointer", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptInit_ex: { parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptUpdate: { parameters: ["pointer", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  EVP_DecryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
} as const;

type Lib = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** A key's two cipher contexts and the bytes they were made with. */
interface Contexts {
  key: Uint8Array;
  seal: Deno.PointerObject;
  open: Deno.PointerObject;
}

/** The last key used and its contexts: a link seals and opens many datagrams in a row with one key. */
interface LastKey {
  array: Uint8Array | undefined;
  contexts: Contexts | undefined;
}

/**
 * OpenSSL's AES-256-GCM as a {@link SecretBox} (`backend` "openssl"), or undefined when libcrypto does not
 * load or lacks the cipher.
 *
 * @param path the library to load. Default `libcrypto.so.3`
 * @throws {Deno.errors.NotCapable} when FFI is not permitted
 */
export function opensslAes256gcm(path = "libcrypto.so.3"): SecretBox | undefined {
  let lib: Lib;
  try {
    lib = Deno.dlopen(path, symbols).symbols;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw e;
    return undefined;
  }
  const cipher = lib.EVP_aes_256_gcm();
  if (cipher === null) return undefined;
  const contexts = new WeakMap<Uint8Array, Contexts>();
  const freed = new FinalizationRegistry<Contexts>((c) => {
    lib.EVP_CIPHER_CTX_free(c.seal);
    lib.EVP_CIPHER_CTX_free(c.open);
  });
  const length = new Int32Array(1), tag = new Uint8Array(MAC_BYTES), rest = new Uint8Array(MAC_BYTES);

  /** Holds the last key's array strongly: its contexts outlive it until another key is used. */
  const last: LastKey = { array: undefined, contexts: undefined };

  /** The contexts of `key` (its current bytes), made when new; the last key's without a map lookup. */
  const of = (key: Uint8Array): Contexts => {
    if (key === last.array && sameKey(last.contexts!.key, key)) return last.contexts!;
    let found = contexts.get(key);
    if (found === undefined || !sameKey(found.key, key)) found = made(key, found);
    last.array = key;
    last.contexts = found;
    return found;
  };

  /** New contexts for `key`, replacing (and freeing) `stale`, made with the key's old bytes. */
  const made = (key: Uint8Array, stale: Contexts | undefined): Contexts => {
    const seal = lib.EVP_CIPHER_CTX_new(), open = lib.EVP_CIPHER_CTX_new();
    if (
      seal === null || open === null || lib.EVP_EncryptInit_ex(seal, cipher, null, key, null) !== 1 ||
      lib.EVP_DecryptInit_ex(open, cipher, null, key, null) !== 1
    ) {
      if (seal !== null) lib.EVP_CIPHER_CTX_free(seal);
      if (open !== null) lib.EVP_CIPHER_CTX_free(open);
      throw new Error("Cannot set up AES-256-GCM in OpenSSL: out of memory or a broken libcrypto");
    }
    const fresh = { key: key.slice(), seal, open };
    if (stale !== undefined) {
      freed.unregister(stale);
      lib.EVP_CIPHER_CTX_free(stale.seal);
      lib.EVP_CIPHER_CTX_free(stale.open);
    }
    contexts.set(key, fresh);
    freed.register(key, fresh, fresh);
    return fresh;
  };

  return {
    backend: "openssl",
    cipher: "aes256gcm",
    nonceBytes: GCM_NONCE_BYTES,
    seal(out, plain, nonce, key) {
      const n = plain.length;
      checkSealSizes("seal", out, n + MAC_BYTES, nonce, key, GCM_NONCE_BYTES);
      const ctx = of(key).seal;
      if (
        lib.EVP_EncryptInit_ex(ctx, null, null, null, nonce) !== 1 ||
        lib.EVP_EncryptUpdate(ctx, out, length, plain, n) !== 1 || length[0] !== n ||
        lib.EVP_EncryptFinal_ex(ctx, rest, length) !== 1 ||
        lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, MAC_BYTES, tag) !== 1
      ) {
        throw new Error(`Cannot seal ${n} bytes with OpenSSL's AES-256-GCM: libcrypto refused`);
      }
      for (let i = 0; i < MAC_BYTES; i++) out[n + i] = tag[i];
      return out.subarray(0, n + MAC_BYTES);
    },
    open(out, sealed, nonce, key) {
      if (sealed.length < MAC_BYTES) return undefined;
      const n = sealed.length - MAC_BYTES;
      checkSealSizes("open", out, n, nonce, key, GCM_NONCE_BYTES);
      const ctx = of(key).open;
      for (let i = 0; i < MAC_BYTES; i++) tag[i] = sealed[n + i];
      const ok = lib.EVP_DecryptInit_ex(ctx, null, null, null, nonce) === 1 &&
        lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, MAC_BYTES, tag) === 1 &&
        lib.EVP_DecryptUpdate(ctx, out, length, sealed, n) === 1 &&
        lib.EVP_DecryptFinal_ex(ctx, rest, length) === 1;
      return ok ? out.subarray(0, n) : undefined;
    },
  };
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  if (b.length !== KEY_BYTES) return false;
  for (let i = 0; i < KEY_BYTES; i++) if (a[i] !== b[i]) return false;
  return true;
}
