/**
 * Which cipher seals a sleeve link: both ends offer theirs in the handshake's features, and each picks the first
 * of {@link CIPHERS} (one fixed order) that both offer, so both pick the same one without another message.
 *
 * @module
 */
import { type Cipher, CIPHERS } from "../../../ffi/sodium.ts";

/** The cipher a peer that offers none seals with (it predates the choice). */
export const LEGACY_CIPHER: Cipher = "xsalsa20poly1305";

/**
 * The cipher of a link between a peer offering `ours` and one offering `theirs`: the first of {@link CIPHERS}
 * in both; {@link LEGACY_CIPHER} when `theirs` is empty or nothing is shared.
 */
export function agreedCipher(ours: readonly string[], theirs: readonly string[]): Cipher {
  return CIPHERS.find((c) => ours.includes(c) && theirs.includes(c)) ?? LEGACY_CIPHER;
}
