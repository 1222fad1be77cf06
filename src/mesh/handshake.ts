/**
 * The control-connection handshake, run by both ends at once over a fresh {@link Duplex}.
 *
 * Flow (each step: write ours, read theirs, concurrently, so neither end waits for the other):
 * 1. Header: the magic "meshnet", our min version, our max version (1 byte each). The agreed version is
 *    the lower max; it fails if that is below the higher min.
 * 2. Encryption flag byte (0 plain, 1 encrypted) and, if encrypted, our 32-byte ephemeral Curve25519
 *    public key. Both ends must agree: a password on one end only is an error on both.
 * 3. Features (see features.ts) as the first framed message, sealed with the session key when encrypted;
 *    a wrong password shows up here, as a message that does not open, on both ends.
 * Until the features are in (opened, when encrypted: the peer is authenticated), the connection reads
 * through a {@link PRE_AUTH_READ_BUFFER_SIZE}-byte buffer and takes frames of at most
 * {@link MAX_HANDSHAKE_MESSAGE_SIZE} bytes, so an unauthenticated peer holds at most
 * PRE_AUTH_CONNECTION_BYTES (constants.ts) of our memory; a larger announced frame fails the handshake before its
 * body is read. Afterwards the channel takes frames up to {@link MAX_MESSAGE_SIZE}.
 * The whole exchange has one deadline, counted in our own running time (stall_tolerant_deadline.ts: when
 * many peers handshake at once on a busy host, a stalled event loop is not the peer's slowness); on any
 * failure the stream is closed and the error thrown.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import {
  EncryptionFlag,
  HANDSHAKE_TIMEOUT_MS,
  MAX_HANDSHAKE_MESSAGE_SIZE,
  MAX_MESSAGE_SIZE,
  PRE_AUTH_READ_BUFFER_SIZE,
  PROTOCOL_MAGIC,
  PROTOCOL_MAX_VERSION,
  PROTOCOL_MIN_VERSION,
  PUBLIC_KEY_SIZE,
  READ_BUFFER_SIZE,
} from "./constants.ts";
import { decodeFeatures, encodeFeatures, type Features } from "./features.ts";
import { MessageChannel } from "./message_channel.ts";
import { StallTolerantDeadline } from "./stall_tolerant_deadline.ts";
import { AuthenticationError, deriveSessionKey, generateKeyPair } from "./protocol_crypto.ts";
import { type Duplex, StreamReader, writeAll } from "./stream.ts";

const MAGIC = new TextEncoder().encode(PROTOCOL_MAGIC);
/** Header size in bytes: magic, min version, max version. */
const HEADER_SIZE = MAGIC.length + 2;
const SAME_PASSWORD = "give every peer the same --password";

/** The handshake reached this peer itself: the address dialled is one of our own. */
export class SelfConnectionError extends Error {
  /** @param name our peer name, which the other end also announced */
  constructor(name: string) {
    super(
      `Cannot connect to ourselves: the peer's name '${name}' is our own; ` +
        "the address is this host's and is not dialled again",
    );
    this.name = "SelfConnectionError";
  }
}

/** A version range one end speaks, inclusive. */
export interface VersionRange {
  /** Oldest version, 1..255. */
  min: number;
  /** Newest version, min..255. */
  max: number;
}

/** Options of {@link handshake}. */
export interface HandshakeOptions {
  /** Our features except the connection id. */
  features: Omit<Features, "connId">;
  /** True if we dialled the connection, false if we accepted it. */
  outbound: boolean;
  /** The mesh password; absent or empty means an unencrypted connection. */
  password?: string;
  /** This connection's random id (default: 64 random bits). */
  connId?: bigint;
  /** Deadline for the whole handshake in milliseconds (default {@link HANDSHAKE_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Clock for the deadline (default the system clock). */
  clock?: Clock;
  /** Versions we speak (default {@link PROTOCOL_MIN_VERSION}..{@link PROTOCOL_MAX_VERSION}); for tests. */
  versions?: VersionRange;
}

/** What a successful handshake yields. */
export interface HandshakeResult {
  /** The agreed protocol version. */
  version: number;
  /** Our features as sent, with this connection's id. */
  local: Features;
  /** The peer's features. */
  remote: Features;
  /** The message channel, sealed when encrypted; its `sessionKey` is what the sleeve uses. */
  channel: MessageChannel;
}

/**
 * Runs the handshake on a new connection.
 *
 * @param duplex the connection; closed by the handshake if it fails
 * @param options our side of the exchange
 * @returns the agreed version, both feature sets and the channel to continue on
 * @throws {Error} `Handshake timed out after N ms …`, or `Cannot handshake with peer: …` for a peer that
 *   is not a meshnet peer, speaks no common version, disagrees about encryption, uses another password
 *   (`wrong password?`), sends malformed features or closes the connection, and
 *   `Cannot connect to ourselves: …` when the peer has our name
 * @example
 * ```ts ignore
 * const { remote, channel } = await handshake(conn, { features, outbound: true, password });
 * ```
 */
export async function handshake(duplex: Duplex, options: HandshakeOptions): Promise<HandshakeResult> {
  const timeoutMs = options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  let timer: StallTolerantDeadline | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = new StallTolerantDeadline({
      clock: options.clock,
      timeoutMs,
      onExpire: (silent, stalled) =>
        reject(
          new Error(
            `Handshake timed out after ${Math.round(silent)} ms${
              stalled > 0 ? ` (our event loop stalled for ${Math.round(stalled)} ms of it, not counted)` : ""
            }; the peer is too slow or not a meshnet peer`,
          ),
        ),
    });
    timer.start();
  });
  const exchanged = exchange(duplex, options);
  try {
    return await Promise.race([exchanged, deadline]);
  } catch (e) {
    exchanged.catch(() => {}); // ends with an error once the stream is closed below
    duplex.close();
    throw e;
  } finally {
    timer!.stop();
  }
}

async function exchange(duplex: Duplex, options: HandshakeOptions): Promise<HandshakeResult> {
  const reader = new StreamReader(duplex, PRE_AUTH_READ_BUFFER_SIZE);
  const ours = options.versions ?? { min: PROTOCOL_MIN_VERSION, max: PROTOCOL_MAX_VERSION };
  const header = await swap(
    reader.readExact(HEADER_SIZE, "protocol header"),
    writeAll(duplex, encodeHeader(ours)),
  );
  const version = negotiateVersion(ours, decodeHeader(header));

  const password = options.password ?? "";
  const keyPair = password === "" ? null : generateKeyPair();
  const encryption = keyPair === null
    ? Uint8Array.of(EncryptionFlag.plain)
    : Uint8Array.of(EncryptionFlag.encrypted, ...keyPair.publicKey);
  const flag = await swap(reader.readExact(1, "encryption flag"), writeAll(duplex, encryption));
  checkEncryptionFlag(flag[0], keyPair !== null);

  const channel = new MessageChannel(duplex, reader, { maxMessageSize: MAX_HANDSHAKE_MESSAGE_SIZE });
  if (keyPair !== null) {
    const theirKey = await swap(reader.readExact(PUBLIC_KEY_SIZE, "public key"));
    const sessionKey = await deriveSessionKey(keyPair, theirKey, new TextEncoder().encode(password));
    channel.setSessionKey(sessionKey, options.outbound);
  }

  const local: Features = { ...options.features, connId: options.connId ?? randomU64() };
  const encoded = encodeFeatures(local); // before the read starts: a throw here must not leave it dangling
  const body = await swap(channel.receiveFrame(), channel.sendFrame(encoded));
  if (body === null) {
    throw new Error("Cannot handshake with peer: the connection closed before the peer's features");
  }
  const remote = decodeFeatures(body);
  if (remote.name === local.name) throw new SelfConnectionError(remote.name);
  reader.resize(READ_BUFFER_SIZE);
  channel.maxMessageSize = MAX_MESSAGE_SIZE;
  return { version, local, remote, channel };
}

/**
 * One step of the exchange: the peer's read and our write (if any), concurrently. The read's error wins,
 * since it says why the peer hung up (a write fails as soon as the peer closes, which tells nothing).
 */
async function swap<T>(read: Promise<T>, write: Promise<void> = Promise.resolve()): Promise<T> {
  const [written, received] = await Promise.allSettled([write, read]);
  if (received.status === "rejected") throw handshakeError(received.reason);
  if (written.status === "rejected") throw handshakeError(written.reason);
  return received.value;
}

/** A failed read or write of the exchange as a handshake error; one that does not open means another password. */
function handshakeError(e: unknown): Error {
  if (e instanceof AuthenticationError) {
    return new Error(
      `Cannot handshake with peer: its features do not open with our session key (wrong password?); ${SAME_PASSWORD}`,
      { cause: e },
    );
  }
  const message = e instanceof Error ? e.message : String(e);
  return new Error(`Cannot handshake with peer: ${message.charAt(0).toLowerCase()}${message.slice(1)}`, {
    cause: e,
  });
}

function encodeHeader(range: VersionRange): Uint8Array {
  return Uint8Array.of(...MAGIC, range.min, range.max);
}

function decodeHeader(header: Uint8Array): VersionRange {
  const magic = header.subarray(0, MAGIC.length);
  if (!magic.every((b, i) => b === MAGIC[i])) {
    throw new Error(
      `Cannot handshake with peer: expected the protocol header '${PROTOCOL_MAGIC}' but received ` +
        `'${printable(header)}'; the peer is not a meshnet peer`,
    );
  }
  return { min: header[MAGIC.length], max: header[MAGIC.length + 1] };
}

/**
 * Picks the version both ends speak: the lower of the two maxima.
 *
 * @throws {Error} when the peer's range is empty or the ranges do not overlap
 * @example
 * ```ts
 * import { negotiateVersion } from "./handshake.ts";
 * negotiateVersion({ min: 1, max: 3 }, { min: 2, max: 5 }); // 3
 * ```
 */
export function negotiateVersion(ours: VersionRange, theirs: VersionRange): number {
  if (theirs.min > theirs.max) {
    throw new Error(
      `Cannot handshake with peer: its protocol version range ${theirs.min}..${theirs.max} is empty; ` +
        "the peer is not a meshnet peer",
    );
  }
  const agreed = Math.min(ours.max, theirs.max);
  if (agreed < Math.max(ours.min, theirs.min)) {
    throw new Error(
      `Cannot handshake with peer: protocol versions do not overlap: ours ${ours.min}..${ours.max}, ` +
        `the peer's ${theirs.min}..${theirs.max}; upgrade the older peer`,
    );
  }
  return agreed;
}

function checkEncryptionFlag(flag: number, encrypted: boolean): void {
  if (flag !== EncryptionFlag.plain && flag !== EncryptionFlag.encrypted) {
    throw new Error(
      `Cannot handshake with peer: invalid encryption flag 0x${flag.toString(16).padStart(2, "0")}; ` +
        "the peer is not speaking the meshnet protocol",
    );
  }
  if (encrypted && flag === EncryptionFlag.plain) {
    throw new Error(
      `Cannot handshake with peer: password specified, but peer requested an unencrypted connection; ${SAME_PASSWORD}`,
    );
  }
  if (!encrypted && flag === EncryptionFlag.encrypted) {
    throw new Error(
      `Cannot handshake with peer: no password specified, but peer requested an encrypted connection; ${SAME_PASSWORD}`,
    );
  }
}

/** Bytes as text with anything unprintable escaped, for error messages about foreign protocols. */
function printable(bytes: Uint8Array): string {
  return Array.from(
    bytes,
    (b) =>
      b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, "0")}`,
  )
    .join("");
}

/** 64 random bits from the platform CSPRNG. */
export function randomU64(): bigint {
  return new DataView(crypto.getRandomValues(new Uint8Array(8)).buffer).getBigUint64(0);
}
