/**
 * Control-plane crypto: per-connection Curve25519 key pairs, the session key, and sequence-numbered
 * secretbox sealing of TCP messages.
 *
 * Session key = SHA-256(Curve25519 shared key ‖ password): forward secrecy from the ephemeral key pairs,
 * and the password is never sent. SHA-256 comes from WebCrypto (`crypto.subtle.digest`): it is built into
 * Deno, audited, and the handshake that needs it is asynchronous anyway, so a hand-written synchronous
 * SHA-256 would only add code to review.
 *
 * Nonces are 24 bytes: byte 0 bit 7 set when the sender is the outbound end, bit 6 set for TCP (clear for
 * the sleeve's UDP nonces under the same key), bytes 16..23 the big-endian sequence number. Each end
 * counts the messages it sends and the messages it receives, so a replayed, reordered, dropped or
 * tampered message fails to open and the connection dies.
 *
 * @module
 */

import nacl from "tweetnacl";
import {
  NONCE_OUTBOUND_BIT,
  NONCE_SEQUENCE_OFFSET,
  NONCE_SIZE,
  NONCE_TCP_BIT,
  PUBLIC_KEY_SIZE,
} from "./constants.ts";

/**
 * Bytes secretbox adds to every sealed control message: the Poly1305 tag (16). The sleeve's datagrams add an
 * 8-byte sequence number on top (overlay/sleeve/datagram.ts SEAL_OVERHEAD, 24).
 */
export const MESSAGE_SEAL_OVERHEAD: number = nacl.secretbox.overheadLength;

/** An ephemeral Curve25519 key pair, new for every connection. */
export interface KeyPair {
  /** 32-byte public key, sent to the peer in the handshake. */
  publicKey: Uint8Array;
  /** 32-byte secret key, never leaves this process. */
  secretKey: Uint8Array;
}

/** Makes a fresh Curve25519 key pair (random from the platform CSPRNG). */
export function generateKeyPair(): KeyPair {
  return nacl.box.keyPair();
}

/**
 * Derives the 32-byte session key shared by both ends of a connection.
 *
 * @param ours our ephemeral key pair for this connection
 * @param theirPublicKey the peer's 32-byte ephemeral public key
 * @param password the mesh password (UTF-8 bytes)
 * @returns SHA-256(Curve25519 shared key ‖ password)
 * @throws {Error} when `theirPublicKey` is not 32 bytes
 */
export async function deriveSessionKey(
  ours: KeyPair,
  theirPublicKey: Uint8Array,
  password: Uint8Array,
): Promise<Uint8Array> {
  if (theirPublicKey.length !== PUBLIC_KEY_SIZE) {
    throw new Error(
      `Cannot derive session key: peer public key is ${theirPublicKey.length} bytes, expected ${PUBLIC_KEY_SIZE}`,
    );
  }
  const shared = nacl.box.before(theirPublicKey, ours.secretKey);
  const input = new Uint8Array(shared.length + password.length);
  input.set(shared);
  input.set(password, shared.length);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", input));
}

/**
 * Builds the 24-byte nonce for message `sequence` of a sender.
 *
 * @param sequence the sender's message counter, 0 for its first message (below 2^64)
 * @param senderOutbound true if the sender dialled the connection
 * @param tcp true for control (TCP) messages, false for sleeve (UDP) frames
 * @example
 * ```ts
 * import { makeNonce } from "./protocol_crypto.ts";
 * makeNonce(1n, true, true); // [0xc0, 0, …, 0, 0, 0, 0, 0, 0, 0, 0, 1]
 * ```
 */
export function makeNonce(sequence: bigint, senderOutbound: boolean, tcp: boolean): Uint8Array {
  const nonce = writeNonce(new Uint8Array(NONCE_SIZE), 0, senderOutbound, tcp);
  new DataView(nonce.buffer).setBigUint64(NONCE_SEQUENCE_OFFSET, sequence);
  return nonce;
}

/**
 * Writes the nonce of {@link makeNonce} into `into` without allocating: the sleeve builds one per datagram,
 * where a fresh array and a BigInt cost about as much as half a 1400-byte seal. A 24-byte `into` gets exactly
 * {@link makeNonce}'s bytes; a 12-byte one (AES-256-GCM) the same flags byte and the sequence in its last 8.
 *
 * @param sequence the sender's message counter, an integer below 2^53
 * @returns `into`
 */
export function writeNonce(
  into: Uint8Array,
  sequence: number,
  senderOutbound: boolean,
  tcp: boolean,
): Uint8Array {
  const at = into.length - 8;
  for (let i = 1; i < at; i++) into[i] = 0; // a loop: 16 ns less than fill() per datagram here
  into[0] = (senderOutbound ? NONCE_OUTBOUND_BIT : 0) | (tcp ? NONCE_TCP_BIT : 0);
  writeUint64(into, at, sequence);
  return into;
}

/** Writes `value` (an integer below 2^53) big-endian as 8 bytes at `at`. */
export function writeUint64(into: Uint8Array, at: number, value: number): void {
  const high = Math.floor(value / 0x1_0000_0000), low = value >>> 0;
  into[at] = high >>> 24;
  into[at + 1] = high >>> 16;
  into[at + 2] = high >>> 8;
  into[at + 3] = high;
  into[at + 4] = low >>> 24;
  into[at + 5] = low >>> 16;
  into[at + 6] = low >>> 8;
  into[at + 7] = low;
}

/**
 * Seals our outgoing TCP messages in order; message n uses sequence number n.
 *
 * @example
 * ```ts ignore
 * const sealer = new MessageSealer(sessionKey, outbound);
 * await conn.write(sealer.seal(plain));
 * ```
 */
export class MessageSealer {
  #key: Uint8Array;
  #outbound: boolean;
  #sequence = 0n;

  /**
   * Makes a sealer whose first message has sequence number 0.
   *
   * @param sessionKey the 32-byte session key
   * @param outbound true if we dialled the connection
   */
  constructor(sessionKey: Uint8Array, outbound: boolean) {
    this.#key = sessionKey;
    this.#outbound = outbound;
  }

  /** Seals the next message; the result is {@link MESSAGE_SEAL_OVERHEAD} bytes longer than `plain`. */
  seal(plain: Uint8Array): Uint8Array {
    const nonce = makeNonce(this.#sequence++, this.#outbound, true);
    return nacl.secretbox(plain, nonce, this.#key);
  }
}

/**
 * Opens the peer's TCP messages, expecting them in order with no gaps.
 */
export class MessageOpener {
  #key: Uint8Array;
  #peerOutbound: boolean;
  #sequence = 0n;

  /**
   * Makes an opener expecting sequence number 0 first.
   *
   * @param sessionKey the 32-byte session key
   * @param outbound true if WE dialled the connection (so the peer's nonces have the outbound bit clear)
   */
  constructor(sessionKey: Uint8Array, outbound: boolean) {
    this.#key = sessionKey;
    this.#peerOutbound = !outbound;
  }

  /**
   * Opens the next message.
   *
   * @returns the plain message
   * @throws {AuthenticationError} when it does not authenticate (wrong key, tampered, replayed, reordered
   *   or a message missing before it); the counter does not advance then
   */
  open(sealed: Uint8Array): Uint8Array {
    const nonce = makeNonce(this.#sequence, this.#peerOutbound, true);
    const plain = nacl.secretbox.open(sealed, nonce, this.#key);
    if (plain === null) {
      throw new AuthenticationError(
        `Cannot open message ${this.#sequence} from peer: authentication failed; ` +
          "it was tampered with, replayed or reordered, or the peers use different passwords",
      );
    }
    this.#sequence++;
    return plain;
  }
}

/** A sealed message did not authenticate under the session key and its expected sequence number. */
export class AuthenticationError extends Error {
  /**
   * Makes the error.
   *
   * @param message what failed to open
   */
  constructor(message: string) {
    super(message);
    this.name = "AuthenticationError";
  }
}
