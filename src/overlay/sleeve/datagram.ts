/**
 * The sleeve's UDP datagram: a header, then a batch of records, sealed per hop when the link has a key.
 *
 * ```
 * plain:  version(1) flags(1) sender(6) | record…
 * sealed: version(1) flags(1)=sealed sender(6) | sequence(8, BE) | sealed(record…)  (+16 bytes tag)
 * record: kind(1) src peer(6) dst peer(6) length(2, BE) | body(length)
 * frame body: hop limit(1) flood sequence(4, BE) | Ethernet frame          (FRAME_HEADER_SIZE, constants.ts)
 * offloaded frame body: hop limit(1) flood sequence(4, BE) | virtio-net header(10, vnet_header.ts) | frame
 * ```
 *
 * The nonce of a sealed datagram is the mesh's UDP nonce ({@link writeNonce} with tcp = false): the sender's
 * polarity bit and the sequence number, so one session key serves both directions and the TCP channel. The
 * cipher is the link's, as both ends chose it from the handshake's features: secretbox (24-byte nonce, tag first)
 * or AES-256-GCM (12-byte nonce, tag last, a key derived from the session key; see {@link linkKey}).
 *
 * {@link DatagramBuilder} writes into one reused buffer; {@link readHeader} and {@link RecordReader} decode
 * untrusted bytes strictly (every field bounded, every kind known, no trailing bytes) and throw
 * {@link DatagramError}, validating a whole batch before any record is acted on.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { SecretBox } from "../../../ffi/sodium.ts";
import { MAC_BYTES } from "../../../ffi/sodium.ts";
import { writeNonce, writeUint64 } from "../../mesh/protocol_crypto.ts";
import {
  BROADCAST_PEER,
  DatagramFlag,
  ETHERNET_HEADER_SIZE,
  FRAME_HEADER_SIZE,
  GCM_KEY_LABEL,
  HEADER_SIZE,
  HEARTBEAT_BODY_SIZE,
  PMTU_BODY_SIZE,
  RECORD_HEADER_SIZE,
  RecordKind,
  SEQUENCE_SIZE,
  SLEEVE_VERSION,
  VNET_HEADER_SIZE,
} from "./constants.ts";
import { formatMac48, readMac48, writeMac48 } from "./mac48.ts";
import { checkVnetHeader } from "./vnet_header.ts";

/** Bytes a sealed datagram adds over a plain one: the sequence number and the secretbox tag. */
export const SEAL_OVERHEAD = SEQUENCE_SIZE + MAC_BYTES;

/** A link's cipher, key and which end we are, for sealing and opening its datagrams; see {@link linkKey}. */
export interface LinkKey {
  /** The cipher (secretbox from libsodium or tweetnacl, or AES-256-GCM). */
  readonly box: SecretBox;
  /** The mesh connection's 32-byte session key, as the handshake derived it. */
  readonly session: Uint8Array;
  /** The key the cipher uses: the session key for secretbox, a key derived from it for AES-256-GCM. */
  readonly key: Uint8Array;
  /** True when we dialled the mesh connection to this peer (sets our nonces' polarity bit). */
  readonly outbound: boolean;
  /** Where each seal and open writes its nonce ({@link SecretBox.nonceBytes} long); used synchronously only. */
  readonly nonce: Uint8Array;
}

/**
 * The link key for `session` under `box`. AES-256-GCM gets its own key, SHA-256 of a label and the session key,
 * so the control channel's secretbox and the sleeve's GCM never share one.
 */
export function linkKey(box: SecretBox, session: Uint8Array, outbound: boolean): LinkKey {
  const key = box.cipher === "aes256gcm"
    ? new Uint8Array(createHash("sha256").update(GCM_KEY_LABEL).update(session).digest())
    : session.slice();
  return { box, session: session.slice(), key, outbound, nonce: new Uint8Array(box.nonceBytes) };
}

/** The header fields of a frame record: its kind, addressing, hop limit and flood sequence. */
export interface FrameRecordHeader {
  /** RecordKind.frame or RecordKind.offloadFrame. */
  kind: RecordKind;
  /** The peer whose bridge captured the frame. */
  src: number;
  /** The destination peer, or BROADCAST_PEER. */
  dst: number;
  /** The hop limit, 1 to 255. */
  hops: number;
  /** The flood sequence (0 to 2^32 − 1) when `dst` is BROADCAST_PEER, else 0. */
  sequence: number;
}

/** Sets the fields of `h` (reused, so the hot path allocates nothing) and returns it. */
export function frameRecordHeader<H extends FrameRecordHeader>(
  h: H,
  kind: RecordKind,
  src: number,
  dst: number,
  hops: number,
  sequence: number,
): H {
  h.kind = kind;
  h.src = src;
  h.dst = dst;
  h.hops = hops;
  h.sequence = sequence;
  return h;
}

/** Untrusted bytes that are not a valid sleeve datagram; the receiver drops and counts it. */
export class DatagramError extends Error {
  /** @param message what is wrong, naming the offending value */
  constructor(message: string) {
    super(message);
    this.name = "DatagramError";
  }
}

/**
 * Builds one datagram at a time: into a buffer it owns and reuses, or at an offset in a buffer it is given (a
 * link's {@link SendBatch}, so the datagram needs no copy and no view to join it).
 *
 * @example
 * ```ts ignore
 * const b = new DatagramBuilder(65535);
 * b.begin(us, 1472);
 * b.addFrame(RecordKind.frame, us, dst, FRAME_HOP_LIMIT, 0, frame); // false when it does not fit: finish(), begin
 * b.add(RecordKind.heartbeat, us, dst, token);
 * conn.send([b.finish()], endpoint);
 * ```
 */
export class DatagramBuilder {
  readonly #out: Uint8Array;
  /** Where sealed datagrams' records are built before sealing into the target. */
  readonly #scratch: Uint8Array;
  /** The buffer the datagram is built in ({@link #out} unless begin was given one) and its offset there. */
  #target!: Uint8Array;
  #at = 0;
  /** The records' buffer (the target, or {@link #scratch} when sealed) and where in it the first one goes. */
  #records!: Uint8Array;
  #start = 0;
  #length = 0;
  #limit = 0;
  #count = 0;
  #seal: LinkKey | undefined;
  #sequence = 0;
  /** The header {@link addFrame} fills for {@link reserveFrame}. */
  readonly #frame: FrameRecordHeader = { kind: 0 as RecordKind, src: 0, dst: 0, hops: 0, sequence: 0 };

  /** @param capacity the largest datagram it will build, in bytes */
  constructor(capacity: number) {
    this.#out = new Uint8Array(capacity);
    this.#scratch = new Uint8Array(capacity);
  }

  /** The largest datagram it builds, in bytes. */
  get capacity(): number {
    return this.#out.length;
  }

  /** Records added since {@link begin}. */
  get count(): number {
    return this.#count;
  }

  /**
   * Starts a datagram from `sender` of at most `maxSize` bytes, sealed with `seal` and `sequence` when given,
   * built at `at` in `target` when given (which must have room for `maxSize` bytes there), else in its own
   * buffer.
   *
   * @throws {RangeError} when `maxSize` exceeds the capacity or the target's room, or leaves no room for a record
   */
  begin(sender: number, maxSize: number, seal?: LinkKey, sequence = 0, target = this.#out, at = 0): void {
    const overhead = HEADER_SIZE + (seal ? SEAL_OVERHEAD : 0);
    const room = Math.min(this.#out.length, target.length - at);
    if (maxSize > room || maxSize < overhead + RECORD_HEADER_SIZE) {
      throw new RangeError(
        `Cannot build a datagram of ${maxSize} bytes: use ${overhead + RECORD_HEADER_SIZE} to ${room}`,
      );
    }
    target[at] = SLEEVE_VERSION;
    target[at + 1] = seal ? DatagramFlag.sealed : 0;
    writeMac48(target, at + 2, sender);
    this.#target = target;
    this.#at = at;
    this.#seal = seal;
    this.#sequence = sequence;
    this.#records = seal ? this.#scratch : target;
    this.#start = seal ? 0 : at + HEADER_SIZE;
    this.#length = 0;
    this.#limit = maxSize - overhead;
    this.#count = 0;
  }

  /** The body bytes a further record could carry, or −1 when not even an empty record fits. */
  room(): number {
    return this.#limit - this.#length - RECORD_HEADER_SIZE;
  }

  /**
   * Appends a link record (not a frame: see {@link addFrame}) with `body`; `bodyLength` larger than `body`
   * pads with zeros (PMTU probes).
   *
   * @returns false, adding nothing, when the record does not fit
   * @throws {RangeError} for a frame kind
   */
  add(kind: RecordKind, src: number, dst: number, body: Uint8Array, bodyLength = body.length): boolean {
    if (isFrameKind(kind)) {
      throw new RangeError(`Cannot add a record of kind ${kind} with add(): frames need addFrame()`);
    }
    if (bodyLength > this.room()) return false;
    const at = this.#header(kind, src, dst, bodyLength);
    const r = this.#records;
    r.set(body, at);
    if (bodyLength > body.length) r.fill(0, at + body.length, at + bodyLength);
    this.#commit(bodyLength);
    return true;
  }

  /**
   * Appends a frame record: `body` (the Ethernet frame, or a virtio-net header and the frame for
   * {@link RecordKind.offloadFrame}) behind the frame header.
   *
   * @param hops the hop limit, 1 to 255
   * @param sequence the flood sequence (0 to 2^32 − 1) when `dst` is {@link BROADCAST_PEER}, else 0
   * @returns false, adding nothing, when the record does not fit
   */
  addFrame(
    kind: RecordKind,
    src: number,
    dst: number,
    hops: number,
    sequence: number,
    body: Uint8Array,
  ): boolean {
    const at = this.reserveFrame(frameRecordHeader(this.#frame, kind, src, dst, hops, sequence), body.length);
    if (at < 0) return false;
    this.#records.set(body, at);
    return true;
  }

  /**
   * Appends a frame record like {@link addFrame} with header `h`, whose `length` body bytes the caller writes
   * into {@link records} at the offset returned, before anything else is added or the datagram finished.
   *
   * @returns where the body goes in {@link records}, or −1, adding nothing, when the record does not fit
   */
  reserveFrame(h: FrameRecordHeader, length: number): number {
    const bodyLength = FRAME_HEADER_SIZE + length, sequence = h.sequence;
    if (bodyLength > this.room()) return -1;
    const at = this.#header(h.kind, h.src, h.dst, bodyLength);
    const r = this.#records;
    r[at] = h.hops;
    r[at + 1] = sequence >>> 24;
    r[at + 2] = sequence >>> 16;
    r[at + 3] = sequence >>> 8;
    r[at + 4] = sequence;
    this.#commit(bodyLength);
    return at + FRAME_HEADER_SIZE;
  }

  /** The buffer the records are written into (see {@link reserveFrame}); the same until the next {@link begin}. */
  get records(): Uint8Array {
    return this.#records;
  }

  /** Writes a record header at the end; returns where its body starts. */
  #header(kind: RecordKind, src: number, dst: number, bodyLength: number): number {
    const r = this.#records, at = this.#start + this.#length;
    r[at] = kind;
    writeMac48(r, at + 1, src);
    writeMac48(r, at + 7, dst);
    r[at + 13] = bodyLength >>> 8;
    r[at + 14] = bodyLength;
    return at + RECORD_HEADER_SIZE;
  }

  #commit(bodyLength: number): void {
    this.#length += RECORD_HEADER_SIZE + bodyLength;
    this.#count++;
  }

  /** Completes the datagram (sealing it when begun with a key) where it was begun; returns its length. */
  end(): number {
    const seal = this.#seal;
    if (!seal) return HEADER_SIZE + this.#length;
    const target = this.#target, at = this.#at, seq = this.#sequence;
    writeUint64(target, at + HEADER_SIZE, seq);
    const nonce = writeNonce(seal.nonce, seq, seal.outbound, false);
    const box = target.subarray(at + HEADER_SIZE + SEQUENCE_SIZE);
    return HEADER_SIZE + SEQUENCE_SIZE + seal.box.seal(box, this.#scratch, nonce, seal.key, this.#length);
  }

  /** Completes the datagram like {@link end}; the view is valid until the next {@link begin}. */
  finish(): Uint8Array {
    const n = this.end();
    return this.#target.subarray(this.#at, this.#at + n);
  }
}

/** The decoded header of a datagram; {@link readHeader} fills one reused instance. */
export interface DatagramHeader {
  /** The sending peer (48-bit name). */
  sender: number;
  /** True when the records are sealed. */
  sealed: boolean;
  /** The sequence number of a sealed datagram (below 2^53), else 0. */
  sequence: number;
  /** Where the records (or the sealed box) start, in the array the datagram was read from. */
  bodyOffset: number;
}

/**
 * Decodes the header of the datagram `bytes[start, end)` into `into` (offsets, so a receiver reads the
 * datagrams of a UDP GRO buffer where they lie).
 *
 * @throws {DatagramError} when it is too short, of another version, has unknown flags, a reserved sender name
 *   or a sequence number beyond 2^53
 */
export function readHeader(
  bytes: Uint8Array,
  into: DatagramHeader,
  start = 0,
  end = bytes.length,
): DatagramHeader {
  const length = end - start;
  if (length < HEADER_SIZE + RECORD_HEADER_SIZE) {
    throw new DatagramError(`Datagram of ${length} bytes is shorter than a header and one record`);
  }
  if (bytes[start] !== SLEEVE_VERSION) {
    throw new DatagramError(
      `Datagram version '${bytes[start]}' is not ${SLEEVE_VERSION}; upgrade the older peer`,
    );
  }
  const flags = bytes[start + 1];
  if ((flags & ~DatagramFlag.sealed) !== 0) {
    throw new DatagramError(`Datagram flags '0x${flags.toString(16)}' are unknown`);
  }
  const sender = readMac48(bytes, start + 2);
  checkPeer(sender, "sender");
  into.sender = sender;
  into.sealed = flags === DatagramFlag.sealed;
  into.sequence = 0;
  into.bodyOffset = start + HEADER_SIZE;
  if (into.sealed) {
    if (length < HEADER_SIZE + SEAL_OVERHEAD + RECORD_HEADER_SIZE) {
      throw new DatagramError(
        `Sealed datagram of ${length} bytes is shorter than its overhead and one record`,
      );
    }
    const s = start + HEADER_SIZE;
    const high = (bytes[s] << 24 | bytes[s + 1] << 16 | bytes[s + 2] << 8 | bytes[s + 3]) >>> 0;
    const low = (bytes[s + 4] << 24 | bytes[s + 5] << 16 | bytes[s + 6] << 8 | bytes[s + 7]) >>> 0;
    if (high >= 0x20_0000) {
      throw new DatagramError(`Datagram sequence number 0x${high.toString(16)}… is beyond 2^53`);
    }
    into.sequence = high * 0x1_0000_0000 + low;
    into.bodyOffset = s + SEQUENCE_SIZE;
  }
  return into;
}

/**
 * Opens the sealed body of the datagram ending at `end` in `bytes`, whose header was read into `header`, in
 * place: the records replace the box, from `header.bodyOffset` on. Nothing else may hold these bytes; when the
 * box does not authenticate they are garbage.
 *
 * @returns the records' length, or −1 when the box does not authenticate under `link`
 */
export function openBody(bytes: Uint8Array, header: DatagramHeader, end: number, link: LinkKey): number {
  const nonce = writeNonce(link.nonce, header.sequence, !link.outbound, false);
  const box = bytes.subarray(header.bodyOffset, end);
  return link.box.open(box, box, nonce, link.key);
}

/**
 * Called once per record by {@link RecordReader.forEach}; the body is `records[start, end)` (offsets in the
 * array given to forEach), for a frame record the bytes after its frame header, whose fields are `hops` and
 * `sequence` (0 and 0 for link records).
 */
export type RecordVisitor = (
  kind: RecordKind,
  src: number,
  dst: number,
  start: number,
  end: number,
  hops: number,
  sequence: number,
) => void;

/** Strict reader of a batch of records: `records[start, end)`, the whole array unless offsets say otherwise. */
export const RecordReader = {
  /**
   * Checks every record of a batch without acting on any.
   *
   * @returns the number of records
   * @throws {DatagramError} naming the record and the field: an unknown kind, a reserved peer name, a broadcast
   *   destination on a link record, a body of the wrong size, a frame with hop limit 0 or a unicast frame
   *   with a flood sequence, a record running past the end, an empty batch
   */
  validate(records: Uint8Array, start = 0, end = records.length): number {
    let at = start, n = 0;
    while (at < end) {
      if (end - at < RECORD_HEADER_SIZE) {
        throw new DatagramError(`Record ${n} has ${end - at} bytes, shorter than its header`);
      }
      const kind = records[at], src = readMac48(records, at + 1), dst = readMac48(records, at + 7);
      const length = records[at + 13] << 8 | records[at + 14];
      if (length > end - at - RECORD_HEADER_SIZE) {
        throw new DatagramError(
          `Record ${n} claims ${length} bytes; only ${end - at - RECORD_HEADER_SIZE} follow`,
        );
      }
      checkPeer(src, `record ${n} source`);
      if (dst === 0) {
        throw new DatagramError(`Record ${n} destination is the reserved name 00:00:00:00:00:00`);
      }
      checkBody(records, at + RECORD_HEADER_SIZE, kind, dst, length, n);
      at += RECORD_HEADER_SIZE + length;
      n++;
    }
    if (n === 0) throw new DatagramError("Datagram has no records");
    return n;
  },

  /** Calls `visit` for each record of a batch that {@link validate} accepted. */
  forEach(records: Uint8Array, visit: RecordVisitor, start = 0, end = records.length): void {
    let at = start;
    while (at < end) {
      const kind = records[at] as RecordKind;
      const length = records[at + 13] << 8 | records[at + 14];
      const body = at + RECORD_HEADER_SIZE, bodyEnd = body + length;
      const src = readMac48(records, at + 1), dst = readMac48(records, at + 7);
      if (isFrameKind(kind)) {
        visit(
          kind,
          src,
          dst,
          body + FRAME_HEADER_SIZE,
          bodyEnd,
          records[body],
          readSequence(records, body + 1),
        );
      } else {
        visit(kind, src, dst, body, bodyEnd, 0, 0);
      }
      at = bodyEnd;
    }
  },
};

/** True for the record kinds that carry an Ethernet frame behind a frame header. */
export function isFrameKind(kind: number): boolean {
  return kind === RecordKind.frame || kind === RecordKind.offloadFrame;
}

function readSequence(b: Uint8Array, at: number): number {
  return (b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]) >>> 0;
}

function checkPeer(name: number, what: string): void {
  if (name === 0 || name === BROADCAST_PEER) {
    throw new DatagramError(`Datagram ${what} is the reserved name '${formatMac48(name)}'`);
  }
}

function checkBody(
  records: Uint8Array,
  at: number,
  kind: number,
  dst: number,
  length: number,
  n: number,
): void {
  const linkRecord = !isFrameKind(kind);
  let ok: boolean;
  switch (kind) {
    case RecordKind.frame:
      ok = length >= FRAME_HEADER_SIZE + ETHERNET_HEADER_SIZE;
      if (ok) checkFrameHeader(records, at, dst, n);
      break;
    case RecordKind.offloadFrame: {
      ok = length >= FRAME_HEADER_SIZE + VNET_HEADER_SIZE + ETHERNET_HEADER_SIZE;
      if (ok) checkFrameHeader(records, at, dst, n);
      const vnet = at + FRAME_HEADER_SIZE;
      const problem = ok ? checkVnetHeader(records, vnet, at + length) : undefined;
      if (problem !== undefined) throw new DatagramError(`Record ${n}: ${problem}`);
      break;
    }
    case RecordKind.heartbeat:
    case RecordKind.heartbeatAck:
      ok = length === HEARTBEAT_BODY_SIZE;
      break;
    case RecordKind.pmtuProbe:
      ok = length >= PMTU_BODY_SIZE;
      break;
    case RecordKind.pmtuAck:
      ok = length === PMTU_BODY_SIZE;
      break;
    default:
      throw new DatagramError(`Record ${n} kind '${kind}' is unknown`);
  }
  if (!ok) {
    throw new DatagramError(`Record ${n} of kind ${kind} has a body of ${length} bytes, which is invalid`);
  }
  if (linkRecord && dst === BROADCAST_PEER) {
    throw new DatagramError(`Record ${n} of kind ${kind} is addressed to broadcast; only frames may be`);
  }
}

function checkFrameHeader(records: Uint8Array, at: number, dst: number, n: number): void {
  if (records[at] === 0) {
    throw new DatagramError(
      `Record ${n} is a frame with hop limit 0; a relay never sends one whose limit ran out`,
    );
  }
  const sequence = readSequence(records, at + 1);
  if (dst !== BROADCAST_PEER && sequence !== 0) {
    throw new DatagramError(`Record ${n} is a unicast frame with flood sequence ${sequence}; it must be 0`);
  }
}
