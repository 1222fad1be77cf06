/**
 * The netlink wire format, pure: a {@link MessageWriter} that builds one request (nlmsghdr, a fixed header
 * struct, rtattrs and nested rtattrs) in a reused buffer, and decoders that split a received datagram into
 * messages and a payload into attributes. Every decoder bounds-checks against its input and throws a
 * {@link NetlinkDecodeError} on a malformed length, so a hostile or corrupt datagram can never loop or read
 * past its end.
 *
 * @module
 */
import { MAC_TEXT } from "../../base/mac.ts";
import { NLA_F_NESTED, NLA_TYPE_MASK, NLMSG_HDRLEN, RTA_HDRLEN, SEND_BUFFER_BYTES } from "./constants.ts";

/** A received netlink message or attribute did not follow the wire format. */
export class NetlinkDecodeError extends Error {
  /** @param message what is malformed, with the offending numbers */
  constructor(message: string) {
    super(message);
    this.name = "NetlinkDecodeError";
  }
}

/** Rounds `n` up to the 4-byte netlink alignment. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Builds one netlink request in place. One writer per socket: {@link MessageWriter.begin} resets it, so
 * a request costs no allocation once the buffer has grown to the largest message sent.
 *
 * @example
 * ```ts
 * const w = new MessageWriter();
 * w.begin(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
 * w.struct(IFINFOMSG_LEN);
 * const bytes = w.finish(1); // nlmsghdr + ifinfomsg, seq 1
 * ```
 */
export class MessageWriter {
  #buf = new Uint8Array(SEND_BUFFER_BYTES);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;

  /** The DataView over the whole buffer; fill structs at offsets returned by {@link struct}. */
  get view(): DataView {
    return this.#view;
  }

  /** Starts a new message of `type` with `flags`, dropping whatever was written before. */
  begin(type: number, flags: number): this {
    this.#pos = NLMSG_HDRLEN;
    this.#view.setUint16(4, type, true);
    this.#view.setUint16(6, flags, true);
    return this;
  }

  #reserve(n: number): number {
    const at = this.#pos;
    const need = at + align4(n);
    if (need > this.#buf.length) {
      const bigger = new Uint8Array(Math.max(need, this.#buf.length * 2));
      bigger.set(this.#buf.subarray(0, at));
      this.#buf = bigger;
      this.#view = new DataView(bigger.buffer);
    }
    this.#buf.fill(0, at, need);
    this.#pos = need;
    return at;
  }

  /** Appends `len` zeroed bytes (a fixed header such as ifinfomsg) and returns their offset in {@link view}. */
  struct(len: number): number {
    return this.#reserve(len);
  }

  #attr(type: number, len: number): number {
    if (RTA_HDRLEN + len > 0xffff) {
      throw new RangeError(`Attribute ${type} is ${len} bytes, at most 65531 fit`);
    }
    const at = this.#reserve(RTA_HDRLEN + len);
    this.#view.setUint16(at, RTA_HDRLEN + len, true);
    this.#view.setUint16(at + 2, type, true);
    return at + RTA_HDRLEN;
  }

  /** Appends an attribute holding one byte. */
  u8(type: number, value: number): this {
    this.#view.setUint8(this.#attr(type, 1), value);
    return this;
  }

  /** Appends an attribute holding a host-order (little-endian) u16. */
  u16(type: number, value: number): this {
    this.#view.setUint16(this.#attr(type, 2), value, true);
    return this;
  }

  /** Appends an attribute holding a network-order (big-endian) u16, e.g. a UDP port. */
  u16be(type: number, value: number): this {
    this.#view.setUint16(this.#attr(type, 2), value, false);
    return this;
  }

  /** Appends an attribute holding a host-order u32. */
  u32(type: number, value: number): this {
    this.#view.setUint32(this.#attr(type, 4), value, true);
    return this;
  }

  /** Appends an attribute holding raw bytes (an address). */
  bytes(type: number, value: Uint8Array): this {
    const at = this.#attr(type, value.length);
    this.#buf.set(value, at);
    return this;
  }

  /** Appends an attribute holding a NUL-terminated UTF-8 string. */
  str(type: number, value: string): this {
    const bytes = encoder.encode(value);
    const at = this.#attr(type, bytes.length + 1);
    this.#buf.set(bytes, at);
    return this;
  }

  /**
   * Opens a nested attribute; close it with {@link end} using the returned offset.
   *
   * @throws {RangeError} from {@link end} when the nest grows past 65535 bytes
   */
  nest(type: number): number {
    return this.#attr(type | NLA_F_NESTED, 0) - RTA_HDRLEN;
  }

  /** Opens a nested attribute without NLA_F_NESTED (old kernels' layout: IFLA_LINKINFO, veth peer). */
  nestPlain(type: number): number {
    return this.#attr(type, 0) - RTA_HDRLEN;
  }

  /** Closes the nested attribute that starts at `at`, fixing its length. */
  end(at: number): this {
    if (this.#pos - at > 0xffff) {
      throw new RangeError(`Nested attribute is ${this.#pos - at} bytes, at most 65535 fit`);
    }
    this.#view.setUint16(at, this.#pos - at, true);
    return this;
  }

  /**
   * Writes the length and sequence number into the header and returns the message bytes (a view into
   * the writer's buffer, valid until the next {@link begin}).
   */
  finish(seq: number): Uint8Array {
    this.#view.setUint32(0, this.#pos, true);
    this.#view.setUint32(8, seq >>> 0, true);
    this.#view.setUint32(12, 0, true);
    return this.#buf.subarray(0, this.#pos);
  }
}

/** One decoded netlink message header; `payload` is a view into the received datagram. */
export interface Message {
  /** `nlmsg_type`: an RTM_* or NLMSG_* value. */
  type: number;
  /** `nlmsg_flags`. */
  flags: number;
  /** `nlmsg_seq`: the sequence number of the request this answers. */
  seq: number;
  /** `nlmsg_pid`: the sender's port id (0 for the kernel). */
  pid: number;
  /** The bytes after the 16-byte header, up to `nlmsg_len`. */
  payload: Uint8Array;
}

/**
 * Splits a received datagram into its netlink messages.
 *
 * @throws {NetlinkDecodeError} when a header is truncated or a length is below 16 or past the datagram's end
 */
export function parseMessages(data: Uint8Array): Message[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Message[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (data.length - pos < NLMSG_HDRLEN) {
      throw new NetlinkDecodeError(
        `Truncated netlink header at byte ${pos}: ${data.length - pos} bytes left, need ${NLMSG_HDRLEN}`,
      );
    }
    const len = view.getUint32(pos, true);
    if (len < NLMSG_HDRLEN || len > data.length - pos) {
      throw new NetlinkDecodeError(
        `Bad netlink message length ${len} at byte ${pos}: must be ${NLMSG_HDRLEN} to ${data.length - pos}`,
      );
    }
    out.push({
      type: view.getUint16(pos + 4, true),
      flags: view.getUint16(pos + 6, true),
      seq: view.getUint32(pos + 8, true),
      pid: view.getUint32(pos + 12, true),
      payload: data.subarray(pos + NLMSG_HDRLEN, pos + len),
    });
    pos += align4(len);
  }
  return out;
}

/** Decoded attributes: type (NESTED/BYTEORDER bits removed) → value bytes; a repeated type keeps the last. */
export type Attrs = Map<number, Uint8Array>;

/**
 * Decodes the rtattrs of `data` from `offset` on.
 *
 * @throws {NetlinkDecodeError} when an attribute header is truncated or its length is below 4 or past the end
 */
export function parseAttrs(data: Uint8Array, offset = 0): Attrs {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Attrs = new Map();
  if (offset > data.length) {
    throw new NetlinkDecodeError(`Truncated netlink payload: ${data.length} bytes, header needs ${offset}`);
  }
  let pos = offset;
  while (pos < data.length) {
    if (data.length - pos < RTA_HDRLEN) {
      throw new NetlinkDecodeError(
        `Truncated attribute header at byte ${pos}: ${data.length - pos} bytes left`,
      );
    }
    const len = view.getUint16(pos, true);
    if (len < RTA_HDRLEN || len > data.length - pos) {
      throw new NetlinkDecodeError(
        `Bad attribute length ${len} at byte ${pos}: must be ${RTA_HDRLEN} to ${data.length - pos}`,
      );
    }
    out.set(view.getUint16(pos + 2, true) & NLA_TYPE_MASK, data.subarray(pos + RTA_HDRLEN, pos + len));
    pos += align4(len);
  }
  return out;
}

function sized(attrs: Attrs, type: number, size: number): Uint8Array | undefined {
  const v = attrs.get(type);
  if (v === undefined) return undefined;
  if (v.length < size) {
    throw new NetlinkDecodeError(`Attribute ${type} is ${v.length} bytes, expected ${size}`);
  }
  return v;
}

/** Reads attribute `type` as a u8, or undefined when absent. @throws {NetlinkDecodeError} when too short */
export function attrU8(attrs: Attrs, type: number): number | undefined {
  return sized(attrs, type, 1)?.[0];
}

/** Reads attribute `type` as a host-order u16. @throws {NetlinkDecodeError} when too short */
export function attrU16(attrs: Attrs, type: number): number | undefined {
  const v = sized(attrs, type, 2);
  return v && (v[0] | (v[1] << 8));
}

/** Reads attribute `type` as a big-endian u16 (a port). @throws {NetlinkDecodeError} when too short */
export function attrU16be(attrs: Attrs, type: number): number | undefined {
  const v = sized(attrs, type, 2);
  return v && ((v[0] << 8) | v[1]);
}

/** Reads attribute `type` as a host-order u32. @throws {NetlinkDecodeError} when too short */
export function attrU32(attrs: Attrs, type: number): number | undefined {
  const v = sized(attrs, type, 4);
  return v && (v[0] | (v[1] << 8) | (v[2] << 16) | (v[3] << 24)) >>> 0;
}

/** Reads attribute `type` as a string, stopping at the first NUL. */
export function attrStr(attrs: Attrs, type: number): string | undefined {
  const v = attrs.get(type);
  if (v === undefined) return undefined;
  const nul = v.indexOf(0);
  return decoder.decode(nul < 0 ? v : v.subarray(0, nul));
}

/** Reads attribute `type` as nested attributes. @throws {NetlinkDecodeError} when they are malformed */
export function attrNested(attrs: Attrs, type: number): Attrs | undefined {
  const v = attrs.get(type);
  return v && parseAttrs(v);
}

/**
 * Checks that a payload holds at least the fixed struct of its message type.
 *
 * @param what the message kind for the error, e.g. "RTM_NEWLINK"
 * @throws {NetlinkDecodeError} when `payload` is shorter than `len`
 */
export function requireStruct(payload: Uint8Array, len: number, what: string): DataView {
  if (payload.length < len) {
    throw new NetlinkDecodeError(
      `Truncated ${what}: payload is ${payload.length} bytes, header needs ${len}`,
    );
  }
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
}

/** Formats 6 bytes as a lower-case colon MAC, e.g. "02:00:00:00:00:01". Any other length is hex-joined too. */
export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

/**
 * Parses a colon MAC address "aa:bb:cc:dd:ee:ff".
 *
 * @throws {Error} `Invalid MAC address 'x': …`
 */
export function parseMac(s: string): Uint8Array {
  if (!MAC_TEXT.test(s)) {
    throw new Error(`Invalid MAC address '${s}': expected six hex pairs like 02:00:00:00:00:01`);
  }
  return Uint8Array.from(s.split(":"), (h) => parseInt(h, 16));
}
