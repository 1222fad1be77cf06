/**
 * The {@link SecretBox} of an AES-256-GCM library that keeps state per key and hands the tag over separately
 * (OpenSSL's EVP, libgcrypt): the size checks, the key's state, the tag's place behind the ciphertext and the
 * lengths returned are the same for both, and live here; each library gives only its own calls.
 *
 * @module
 */
import type { KeyStates } from "./key_states.ts";
import { checkSeal, checkSealSizes, GCM_NONCE_BYTES, MAC_BYTES, type SecretBox } from "./sodium.ts";

/** One library's calls on one key's state `S`; the tag goes through the array given to {@link gcmBox}. */
export interface GcmCalls<S> {
  /** Seals `plain[0, n)` into `out` under `nonce` and leaves the tag in the tag array; false when refused. */
  seal(state: S, out: Uint8Array, plain: Uint8Array, n: number, nonce: Uint8Array): boolean;
  /**
   * Opens `sealed[0, n)` into `out` (which may be `sealed` itself) under `nonce`, checking the tag in the tag
   * array; false when it does not verify.
   */
  open(state: S, out: Uint8Array, sealed: Uint8Array, n: number, nonce: Uint8Array): boolean;
}

/**
 * A SecretBox over `calls`.
 *
 * @param backend its name in {@link SecretBox.backend}
 * @param library the library's name in errors
 * @param states each key's state
 * @param tag the {@link MAC_BYTES}-byte array the calls read and write the tag in
 */
export function gcmBox<S>(
  backend: SecretBox["backend"],
  library: string,
  states: KeyStates<S>,
  tag: Uint8Array,
  calls: GcmCalls<S>,
): SecretBox {
  return {
    backend,
    cipher: "aes256gcm",
    nonceBytes: GCM_NONCE_BYTES,
    seal(out, plain, nonce, key, n = plain.length) {
      checkSeal(out, plain, n, nonce, key, GCM_NONCE_BYTES);
      if (!calls.seal(states.of(key), out, plain, n, nonce)) {
        throw new Error(`Cannot seal ${n} bytes with ${library}'s AES-256-GCM: ${library} refused`);
      }
      for (let i = 0; i < MAC_BYTES; i++) out[n + i] = tag[i];
      return n + MAC_BYTES;
    },
    open(out, sealed, nonce, key) {
      if (sealed.length < MAC_BYTES) return -1;
      const n = sealed.length - MAC_BYTES;
      checkSealSizes("open", out, n, nonce, key, GCM_NONCE_BYTES);
      const state = states.of(key);
      for (let i = 0; i < MAC_BYTES; i++) tag[i] = sealed[n + i];
      return calls.open(state, out, sealed, n, nonce) ? n : -1;
    },
  };
}
