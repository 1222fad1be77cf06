/**
 * The virtio-net header: the kernel's offload metadata in front of each frame of a TAP opened with
 * IFF_VNET_HDR (`struct virtio_net_hdr`, 10 bytes, little-endian on x86 as the TAP uses it).
 *
 * ```
 * flags(1) gso_type(1) hdr_len(2) gso_size(2) csum_start(2) csum_offset(2)
 * ```
 *
 * Peers before sleeve v2 carry a non-trivial header with its frame ({@link RecordKind.offloadFrame}) so the
 * receiving kernel segments a TCP super-frame or completes its checksum; {@link checkVnetHeader} validates
 * one from a peer before the frame is acted on (the kernel validates again on write). This version writes
 * headers only for the super-frames it coalesces itself (coalesce.ts).
 *
 * @module
 */
import { VNET_HEADER_SIZE, VnetFlag, VnetGso } from "./constants.ts";

/** A decoded virtio-net header. */
export interface VnetHeader {
  /** {@link VnetFlag} bits. */
  flags: number;
  /** A {@link VnetGso} value, possibly with the ECN bit. */
  gsoType: number;
  /** Bytes of headers (Ethernet, IP, TCP) before the payload of a super-frame. */
  hdrLen: number;
  /** Payload bytes per segment of a super-frame, else 0. */
  gsoSize: number;
  /** Where checksumming starts, from the Ethernet header, when {@link VnetFlag.needsCsum} is set. */
  csumStart: number;
  /** Where the checksum field is, from csumStart. */
  csumOffset: number;
}

/**
 * Decodes the header at the start of `bytes` (no validation; see {@link checkVnetHeader}).
 *
 * @throws {RangeError} when `bytes` is shorter than {@link VNET_HEADER_SIZE}
 */
export function readVnetHeader(bytes: Uint8Array): VnetHeader {
  if (bytes.length < VNET_HEADER_SIZE) {
    throw new RangeError(
      `Cannot read a virtio-net header from ${bytes.length} bytes: it has ${VNET_HEADER_SIZE}`,
    );
  }
  const u16 = (at: number) => bytes[at] | bytes[at + 1] << 8;
  return {
    flags: bytes[0],
    gsoType: bytes[1],
    hdrLen: u16(2),
    gsoSize: u16(4),
    csumStart: u16(6),
    csumOffset: u16(8),
  };
}

/**
 * Encodes `h` into the first {@link VNET_HEADER_SIZE} bytes of `out`.
 *
 * @throws {RangeError} when `out` is too short or a field does not fit its width
 */
export function writeVnetHeader(h: VnetHeader, out: Uint8Array): void {
  if (out.length < VNET_HEADER_SIZE) {
    throw new RangeError(
      `Cannot write a virtio-net header into ${out.length} bytes: it needs ${VNET_HEADER_SIZE}`,
    );
  }
  const fields: [number, number, number][] = [
    [h.flags, 0, 1],
    [h.gsoType, 1, 1],
    [h.hdrLen, 2, 2],
    [h.gsoSize, 4, 2],
    [h.csumStart, 6, 2],
    [h.csumOffset, 8, 2],
  ];
  for (const [v, at, width] of fields) {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** (8 * width)) {
      throw new RangeError(
        `Invalid virtio-net header field '${v}' at byte ${at}: use 0 to ${2 ** (8 * width) - 1}`,
      );
    }
    out[at] = v;
    if (width === 2) out[at + 1] = v >>> 8;
  }
}

/**
 * True when the header at the start of `bytes` asks nothing of the receiver (no partial checksum, not a
 * super-frame): the frame can travel as a plain {@link RecordKind.frame}.
 */
export function isPlainVnetHeader(bytes: Uint8Array): boolean {
  return (bytes[0] & VnetFlag.needsCsum) === 0 && bytes[1] === VnetGso.none;
}

/** True when the header at the start of `bytes` describes a TCP super-frame. */
export function isSuperFrame(bytes: Uint8Array): boolean {
  return bytes[1] !== VnetGso.none;
}

/**
 * Checks an offloaded frame from a peer: a header, then an Ethernet frame the header fits.
 *
 * @param body the header followed by the frame
 * @returns what is wrong, naming the field and its value; undefined when valid
 */
export function checkVnetHeader(body: Uint8Array): string | undefined {
  if (body.length < VNET_HEADER_SIZE) {
    return `virtio-net header of ${body.length} bytes is shorter than ${VNET_HEADER_SIZE}`;
  }
  const h = readVnetHeader(body), frame = body.length - VNET_HEADER_SIZE;
  if ((h.flags & ~(VnetFlag.needsCsum | VnetFlag.dataValid)) !== 0) {
    return `virtio-net flags '0x${h.flags.toString(16)}' are unknown`;
  }
  const gso = h.gsoType & ~VnetGso.ecn;
  if (gso !== VnetGso.none && gso !== VnetGso.tcpv4 && gso !== VnetGso.tcpv6) {
    return `virtio-net gso_type '0x${h.gsoType.toString(16)}' is not none, TCPv4 or TCPv6`;
  }
  if (gso === VnetGso.none && h.gsoType !== VnetGso.none) {
    return `virtio-net gso_type '0x${h.gsoType.toString(16)}' sets ECN on a frame that is not a super-frame`;
  }
  if ((h.flags & VnetFlag.needsCsum) !== 0 && h.csumStart + h.csumOffset + 2 > frame) {
    return `virtio-net checksum at ${h.csumStart}+${h.csumOffset} lies beyond the ${frame}-byte frame`;
  }
  if (gso !== VnetGso.none && (h.gsoSize === 0 || h.hdrLen > frame)) {
    return `virtio-net super-frame with gso_size ${h.gsoSize} and hdr_len ${h.hdrLen} does not fit the ${frame}-byte frame`;
  }
  return undefined;
}
