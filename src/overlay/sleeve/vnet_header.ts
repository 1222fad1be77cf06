/**
 * The virtio-net header: the kernel's offload metadata in front of each frame of a TAP opened with
 * IFF_VNET_HDR (`struct virtio_net_hdr`, 10 bytes, little-endian on x86 as the TAP uses it).
 *
 * ```
 * flags(1) gso_type(1) hdr_len(2) gso_size(2) csum_start(2) csum_offset(2)
 * ```
 *
 * A frame whose header asks something of the receiving kernel travels with it ({@link RecordKind.offloadFrame}):
 * from this version, frames with a partial checksum (path-sized TCP segments among them) to peers that take
 * them; from peers before sleeve v2, also whole TCP super-frames. {@link checkVnetHeader} validates one from a
 * peer before the frame is acted on (the kernel validates again on write). This version writes headers for
 * the super-frames it coalesces (coalesce.ts) and the partial checksums it leaves to the kernel.
 *
 * @module
 */
import { TCP_CHECKSUM_OFFSET, VNET_HEADER_SIZE, VnetFlag, VnetGso } from "./constants.ts";

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
 * Writes at `at` in `out` the header of a frame that is not a super-frame and whose checksum at
 * `csumStart + csumOffset` (from the Ethernet header) is partial: NEEDS_CSUM, everything else 0.
 */
export function writeChecksumHeader(
  out: Uint8Array,
  at: number,
  csumStart: number,
  csumOffset: number,
): void {
  out.fill(0, at, at + VNET_HEADER_SIZE);
  out[at] = VnetFlag.needsCsum;
  out[at + 6] = csumStart;
  out[at + 7] = csumStart >>> 8;
  out[at + 8] = csumOffset;
  out[at + 9] = csumOffset >>> 8;
}

/**
 * The csum_start of the header at `at` in `bytes` when it is that of a frame with a partial TCP checksum
 * (NEEDS_CSUM alone, not a super-frame, the checksum field at csum_start + 16), else −1.
 */
export function partialTcpChecksumStart(bytes: Uint8Array, at = 0): number {
  if (bytes[at] !== VnetFlag.needsCsum || bytes[at + 1] !== VnetGso.none) return -1;
  if ((bytes[at + 8] | bytes[at + 9] << 8) !== TCP_CHECKSUM_OFFSET) return -1;
  return bytes[at + 6] | bytes[at + 7] << 8;
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
 * Checks an offloaded frame from a peer: a header, then an Ethernet frame the header fits. Reads the fields
 * in place (it runs for every such record received).
 *
 * @param bytes holds the header followed by the frame in `[start, end)` (default: all of it)
 * @returns what is wrong, naming the field and its value; undefined when valid
 */
export function checkVnetHeader(bytes: Uint8Array, start = 0, end = bytes.length): string | undefined {
  if (end - start < VNET_HEADER_SIZE) {
    return `virtio-net header of ${end - start} bytes is shorter than ${VNET_HEADER_SIZE}`;
  }
  const flags = bytes[start], gsoType = bytes[start + 1], frame = end - start - VNET_HEADER_SIZE;
  const u16 = (at: number) => bytes[start + at] | bytes[start + at + 1] << 8;
  if ((flags & ~(VnetFlag.needsCsum | VnetFlag.dataValid)) !== 0) {
    return `virtio-net flags '0x${flags.toString(16)}' are unknown`;
  }
  const gso = gsoType & ~VnetGso.ecn;
  if (gso !== VnetGso.none && gso !== VnetGso.tcpv4 && gso !== VnetGso.tcpv6) {
    return `virtio-net gso_type '0x${gsoType.toString(16)}' is not none, TCPv4 or TCPv6`;
  }
  if (gso === VnetGso.none && gsoType !== VnetGso.none) {
    return `virtio-net gso_type '0x${gsoType.toString(16)}' sets ECN on a frame that is not a super-frame`;
  }
  if ((flags & VnetFlag.needsCsum) !== 0 && u16(6) + u16(8) + 2 > frame) {
    return `virtio-net checksum at ${u16(6)}+${u16(8)} lies beyond the ${frame}-byte frame`;
  }
  if (gso !== VnetGso.none && (u16(4) === 0 || u16(2) > frame)) {
    return `virtio-net super-frame with gso_size ${u16(4)} and hdr_len ${
      u16(2)
    } does not fit the ${frame}-byte frame`;
  }
  return undefined;
}
