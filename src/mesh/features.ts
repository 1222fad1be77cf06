/**
 * The features message both ends send at the end of the handshake, and its binary encoding.
 *
 * Encoding: a sequence of records, each 1 type byte, a 2-byte big-endian value length, then the value.
 * Strings are UTF-8; `uid` and `connId` are 8-byte big-endian unsigned integers, `port` 2 bytes; each overlay,
 * each sleeve cipher and each sleeve offload is its own record, in preference order. Every field but
 * `overlays`, `ciphers` and `offloads` appears exactly once. Records of unknown type are skipped, so a later
 * version can add fields; everything else that is not exactly this shape is an error (the input comes from
 * the network).
 *
 * @module
 */

/** What a peer tells the other end about itself during the handshake. */
export interface Features {
  /** Peer name (e.g. "ce:31:e0:06:45:1e"); never empty. */
  name: string;
  /** Human-friendly name, usually the host name; may be empty. */
  nickname: string;
  /** Random u64 chosen at every process start; a new value means the peer restarted. */
  uid: bigint;
  /** Random u64 chosen for this connection; the connection uid is ours XOR theirs. */
  connId: bigint;
  /** Overlays the peer supports, in preference order (e.g. ["fastdp", "sleeve"]). */
  overlays: string[];
  /** Software version string (e.g. "0.1.0"). */
  version: string;
  /** The peer's mesh port: TCP for control, UDP for the sleeve (an inbound connection's source port is not it). */
  port: number;
  /**
   * The ciphers its sleeve can seal with, most preferred first (ffi/sodium.ts `CIPHERS`); absent from a peer
   * that predates the choice, which seals with `xsalsa20poly1305` only.
   */
  ciphers?: string[];
  /**
   * The sleeve offloads its receiver takes (e.g. `partial-checksum`, src/overlay/sleeve/constants.ts); absent
   * from a peer that predates them or takes none.
   */
  offloads?: string[];
}

/** Record types of the encoding. */
const FieldType = {
  name: 1,
  nickname: 2,
  uid: 3,
  connId: 4,
  overlay: 5,
  version: 6,
  port: 7,
  cipher: 8,
  offload: 9,
} as const;

const RECORD_HEADER_SIZE = 3;
const MAX_VALUE_SIZE = 0xffff;
const U64_SIZE = 8;
const U64_MAX = (1n << 64n) - 1n;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes features for the wire.
 *
 * @throws {RangeError} when a string is longer than 65535 UTF-8 bytes, the name is empty, `uid` or
 *   `connId` is not a u64, or `port` is not 1–65535
 * @example
 * ```ts
 * import { decodeFeatures, encodeFeatures } from "./features.ts";
 * const f = { name: "ce:31:e0:06:45:1e", nickname: "h1", uid: 7n, connId: 9n, overlays: ["sleeve"], version: "0.1.0", port: 6783 };
 * decodeFeatures(encodeFeatures(f)); // equal to f
 * ```
 */
export function encodeFeatures(features: Features): Uint8Array {
  if (features.name === "") throw new RangeError("Cannot encode features: the peer name is empty");
  const records: [number, Uint8Array][] = [
    [FieldType.name, utf8.encode(features.name)],
    [FieldType.nickname, utf8.encode(features.nickname)],
    [FieldType.uid, encodeU64(features.uid, "uid")],
    [FieldType.connId, encodeU64(features.connId, "connId")],
    ...features.overlays.map((o): [number, Uint8Array] => [FieldType.overlay, utf8.encode(o)]),
    [FieldType.version, utf8.encode(features.version)],
    [FieldType.port, encodePort(features.port)],
    ...(features.ciphers ?? []).map((c): [number, Uint8Array] => [FieldType.cipher, utf8.encode(c)]),
    ...(features.offloads ?? []).map((o): [number, Uint8Array] => [FieldType.offload, utf8.encode(o)]),
  ];
  let size = 0;
  for (const [type, value] of records) {
    if (value.length > MAX_VALUE_SIZE) {
      throw new RangeError(
        `Cannot encode features: field ${type} is ${value.length} bytes, more than ${MAX_VALUE_SIZE}`,
      );
    }
    size += RECORD_HEADER_SIZE + value.length;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const [type, value] of records) {
    out[offset] = type;
    view.setUint16(offset + 1, value.length);
    out.set(value, offset + RECORD_HEADER_SIZE);
    offset += RECORD_HEADER_SIZE + value.length;
  }
  return out;
}

/**
 * Decodes a features message received from a peer.
 *
 * @throws {Error} `Cannot decode peer features: …` when a record is truncated, a field is missing,
 *   repeated or of the wrong size, a string is not valid UTF-8, or the name is empty
 */
export function decodeFeatures(bytes: Uint8Array): Features {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const singles = new Map<number, Uint8Array>();
  const overlays: string[] = [], ciphers: string[] = [], offloads: string[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < RECORD_HEADER_SIZE) {
      throw featureError(`record header at byte ${offset} is truncated`);
    }
    const type = bytes[offset];
    const length = view.getUint16(offset + 1);
    const start = offset + RECORD_HEADER_SIZE;
    if (start + length > bytes.length) {
      throw featureError(
        `field ${type} at byte ${offset} claims ${length} bytes but ${bytes.length - start} remain`,
      );
    }
    const value = bytes.subarray(start, start + length);
    offset = start + length;
    if (type === FieldType.overlay) overlays.push(decodeString(value, "overlay"));
    else if (type === FieldType.cipher) ciphers.push(decodeString(value, "cipher"));
    else if (type === FieldType.offload) offloads.push(decodeString(value, "offload"));
    else if (Object.values(FieldType).includes(type as never)) {
      if (singles.has(type)) throw featureError(`field ${type} appears more than once`);
      singles.set(type, value);
    }
  }
  const field = (type: number, what: string): Uint8Array => {
    const value = singles.get(type);
    if (value === undefined) throw featureError(`the ${what} field is missing`);
    return value;
  };
  const name = decodeString(field(FieldType.name, "name"), "name");
  if (name === "") throw featureError("the peer name is empty");
  return {
    name,
    nickname: decodeString(field(FieldType.nickname, "nickname"), "nickname"),
    uid: decodeU64(field(FieldType.uid, "uid"), "uid"),
    connId: decodeU64(field(FieldType.connId, "connId"), "connId"),
    overlays,
    version: decodeString(field(FieldType.version, "version"), "version"),
    port: decodePort(field(FieldType.port, "port")),
    ...(ciphers.length > 0 ? { ciphers } : {}),
    ...(offloads.length > 0 ? { offloads } : {}),
  };
}

function featureError(detail: string): Error {
  return new Error(`Cannot decode peer features: ${detail}; the peer is not speaking the meshnet protocol`);
}

function decodeString(value: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(value);
  } catch {
    throw featureError(`the ${what} field is not valid UTF-8`);
  }
}

function encodeU64(value: bigint, what: string): Uint8Array {
  if (value < 0n || value > U64_MAX) {
    throw new RangeError(`Cannot encode features: ${what} '${value}' is not an unsigned 64-bit integer`);
  }
  const out = new Uint8Array(U64_SIZE);
  new DataView(out.buffer).setBigUint64(0, value);
  return out;
}

function decodeU64(value: Uint8Array, what: string): bigint {
  if (value.length !== U64_SIZE) {
    throw featureError(`the ${what} field is ${value.length} bytes, expected ${U64_SIZE}`);
  }
  return new DataView(value.buffer, value.byteOffset, U64_SIZE).getBigUint64(0);
}

function encodePort(port: number): Uint8Array {
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new RangeError(`Cannot encode features: port '${port}' is not 1 to 65535`);
  }
  return Uint8Array.of(port >> 8, port & 0xff);
}

function decodePort(value: Uint8Array): number {
  if (value.length !== 2) throw featureError(`the port field is ${value.length} bytes, expected 2`);
  const port = (value[0] << 8) | value[1];
  if (port === 0) throw featureError("the port is 0");
  return port;
}
