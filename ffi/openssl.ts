/**
 * AES-256-GCM from OpenSSL's libcrypto through FFI: the same cipher and bytes as libsodium's
 * `crypto_aead_aes256gcm` (12-byte nonce, 16-byte tag after the ciphertext), so peers cannot tell which one
 * sealed a datagram. It is faster here: OpenSSL uses the CPU's vector AES and carry-less multiply (VAES,
 * VPCLMULQDQ) where libsodium uses one block at a time, and it keeps each key's schedule in a cipher
 * context instead of expanding the key on every call (bench/RESULTS.md, "sleeve: partial checksums…").
 *
 * One encryption and one decryption context per key ({@link KeyStates}: made on first use, made again when
 * the array's bytes change, freed with the array). `open` in place (the plaintext over the box) is EVP's
 * in-place decryption, output and input at the same address.
 * Synchronous, one caller at a time (the sleeve Worker). libcrypto is loaded here, not in libc.ts, because it
 * is another library; nothing above ffi/ calls `Deno.dlopen`.
 *
 * @module
 */
import { KeyStates } from "./key_states.ts";
import { checkSealLength, checkSealSizes, GCM_NONCE_BYTES, MAC_BYTES, type SecretBox } from "./sodium.ts";

/**
 * The tag is read and set through `EVP_CIPHER_CTX_get_params`/`set_params` with one prebuilt `OSSL_PARAM`
 * array (openssl/core.h: key, data_type, data, data_size, return_size; 40 bytes on 64-bit Linux) rather than
 * `EVP_CIPHER_CTX_ctrl`, which builds such an array on every call. The array, its key string, the tag and the
 * lengths the EVP calls write live in one off-heap block made once, passed by pointer.
 */
const PARAM_SIZE = 40, OSSL_PARAM_OCTET_STRING = 5;
/**
 * Offsets in that block: the array (the tag's entry, then the all-zero end), the key "tag", the tag, the
 * length an update or final writes, and the unused output of a final (GCM's final writes no bytes).
 */
const AT_KEY = 2 * PARAM_SIZE, AT_TAG = AT_KEY + 8, AT_LENGTH = AT_TAG + MAC_BYTES, AT_REST = AT_LENGTH + 8;
const BLOCK_BYTES = AT_REST + MAC_BYTES;

const symbols = {
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_CIPHER_CTX_get_params: { parameters: ["pointer", "pointer"], result: "i32" },
  EVP_CIPHER_CTX_set_params: { parameters: ["pointer", "pointer"], result: "i32" },
  EVP_EncryptInit_ex: { parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"], result: "i32" },
  EVP_EncryptUpdate: { parameters: ["pointer", "buffer", "pointer", "buffer", "i32"], result: "i32" },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "pointer", "pointer"], result: "i32" },
  EVP_DecryptInit_ex: { parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptUpdate: { parameters: ["pointer", "buffer", "pointer", "buffer", "i32"], result: "i32" },
  EVP_DecryptFinal_ex: { parameters: ["pointer", "pointer", "pointer"], result: "i32" },
} as const;

type Lib = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** A key's two cipher contexts. */
interface Contexts {
  seal: Deno.PointerObject;
  open: Deno.PointerObject;
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
  const contexts = new KeyStates<Contexts>({
    make(key) {
      const seal = lib.EVP_CIPHER_CTX_new(), open = lib.EVP_CIPHER_CTX_new();
      if (
        seal === null || open === null || lib.EVP_EncryptInit_ex(seal, cipher, null, key, null) !== 1 ||
        lib.EVP_DecryptInit_ex(open, cipher, null, key, null) !== 1
      ) {
        if (seal !== null) lib.EVP_CIPHER_CTX_free(seal);
        if (open !== null) lib.EVP_CIPHER_CTX_free(open);
        throw new Error("Cannot set up AES-256-GCM in OpenSSL: out of memory or a broken libcrypto");
      }
      return { seal, open };
    },
    free(c) {
      lib.EVP_CIPHER_CTX_free(c.seal);
      lib.EVP_CIPHER_CTX_free(c.open);
    },
  });
  const { params, tag, length, lengthAt, rest } = scratchBlock();

  return {
    backend: "openssl",
    cipher: "aes256gcm",
    nonceBytes: GCM_NONCE_BYTES,
    seal(out, plain, nonce, key, n = plain.length) {
      checkSealLength(plain, n);
      checkSealSizes("seal", out, n + MAC_BYTES, nonce, key, GCM_NONCE_BYTES);
      const ctx = contexts.of(key).seal;
      if (
        lib.EVP_EncryptInit_ex(ctx, null, null, null, nonce) !== 1 ||
        lib.EVP_EncryptUpdate(ctx, out, lengthAt, plain, n) !== 1 || length[0] !== n ||
        lib.EVP_EncryptFinal_ex(ctx, rest, lengthAt) !== 1 || lib.EVP_CIPHER_CTX_get_params(ctx, params) !== 1
      ) {
        throw new Error(`Cannot seal ${n} bytes with OpenSSL's AES-256-GCM: libcrypto refused`);
      }
      for (let i = 0; i < MAC_BYTES; i++) out[n + i] = tag[i];
      return n + MAC_BYTES;
    },
    open(out, sealed, nonce, key) {
      if (sealed.length < MAC_BYTES) return -1;
      const n = sealed.length - MAC_BYTES;
      checkSealSizes("open", out, n, nonce, key, GCM_NONCE_BYTES);
      const ctx = contexts.of(key).open;
      for (let i = 0; i < MAC_BYTES; i++) tag[i] = sealed[n + i];
      const ok = lib.EVP_DecryptInit_ex(ctx, null, null, null, nonce) === 1 &&
        lib.EVP_CIPHER_CTX_set_params(ctx, params) === 1 &&
        lib.EVP_DecryptUpdate(ctx, out, lengthAt, sealed, n) === 1 &&
        lib.EVP_DecryptFinal_ex(ctx, rest, lengthAt) === 1;
      return ok ? n : -1;
    },
  };
}

/** The off-heap block of {@link AT_KEY} and friends: an ArrayBuffer's bytes live outside V8's heap and never move. */
function scratchBlock() {
  const block = new ArrayBuffer(BLOCK_BYTES), base = Deno.UnsafePointer.of(block)!;
  const address = (offset: number) => Deno.UnsafePointer.offset(base, offset)!;
  const entry = new DataView(block);
  entry.setBigUint64(0, Deno.UnsafePointer.value(address(AT_KEY)), true);
  entry.setUint32(8, OSSL_PARAM_OCTET_STRING, true);
  entry.setBigUint64(16, Deno.UnsafePointer.value(address(AT_TAG)), true);
  entry.setBigUint64(24, BigInt(MAC_BYTES), true);
  new Uint8Array(block, AT_KEY, 4).set([0x74, 0x61, 0x67, 0]); // "tag"
  return {
    /** The OSSL_PARAM array naming the tag (the block stays alive as long as `tag` and `length` do). */
    params: base,
    tag: new Uint8Array(block, AT_TAG, MAC_BYTES),
    length: new Int32Array(block, AT_LENGTH, 1),
    lengthAt: address(AT_LENGTH),
    rest: address(AT_REST),
  };
}
