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
import { gcmBox } from "./gcm_box.ts";
import { KeyStates, sealOpenPairs } from "./key_states.ts";
import { openOptional } from "./optional_library.ts";
import { MAC_BYTES, type SecretBox } from "./sodium.ts";

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

/**
 * OpenSSL's AES-256-GCM as a {@link SecretBox} (`backend` "openssl"), or undefined when libcrypto does not
 * load or lacks the cipher.
 *
 * @param path the library to load. Default `libcrypto.so.3`
 * @throws {Deno.errors.NotCapable} when FFI is not permitted
 */
export function opensslAes256gcm(path = "libcrypto.so.3"): SecretBox | undefined {
  const lib = openOptional(path, symbols);
  if (lib === undefined) return undefined;
  const cipher = lib.EVP_aes_256_gcm();
  if (cipher === null) return undefined;
  const contexts = new KeyStates(sealOpenPairs("OpenSSL", (key, sealing) => {
    const c = lib.EVP_CIPHER_CTX_new();
    if (c === null) return null;
    const init = sealing ? lib.EVP_EncryptInit_ex : lib.EVP_DecryptInit_ex;
    if (init(c, cipher, null, key, null) === 1) return c;
    lib.EVP_CIPHER_CTX_free(c);
    return null;
  }, (c) => lib.EVP_CIPHER_CTX_free(c)));
  const { params, tag, length, lengthAt, rest } = scratchBlock();

  return gcmBox("openssl", "OpenSSL", contexts, tag, {
    seal: (c, out, plain, n, nonce) =>
      lib.EVP_EncryptInit_ex(c.seal, null, null, null, nonce) === 1 &&
      lib.EVP_EncryptUpdate(c.seal, out, lengthAt, plain, n) === 1 && length[0] === n &&
      lib.EVP_EncryptFinal_ex(c.seal, rest, lengthAt) === 1 &&
      lib.EVP_CIPHER_CTX_get_params(c.seal, params) === 1,
    open: (c, out, sealed, n, nonce) =>
      lib.EVP_DecryptInit_ex(c.open, null, null, null, nonce) === 1 &&
      lib.EVP_CIPHER_CTX_set_params(c.open, params) === 1 &&
      lib.EVP_DecryptUpdate(c.open, out, lengthAt, sealed, n) === 1 &&
      lib.EVP_DecryptFinal_ex(c.open, rest, lengthAt) === 1,
  });
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
