/**
 * User-space GSO: cuts a TCP super-frame read from a TAP with offloads (a virtio-net header, then an Ethernet
 * frame of up to 64 KiB) into Ethernet frames that each fit the path, as the kernel's GSO does, so no sleeve
 * datagram ever needs IP fragmentation.
 *
 * Flow: {@link Segmenter.segment} validates the virtio-net header and the frame's Ethernet/IP/TCP headers,
 * then writes each segment (the headers, then its slice of the payload) into one reused buffer and fixes it:
 * IPv4 total length, IP id (incrementing from the super-frame's) and header checksum, or IPv6 payload
 * length; TCP sequence number, flags (FIN and PSH only on the last segment, CWR only on the first) and the
 * TCP checksum. For a link whose peer takes partial checksums (its TAP completes them, or needs not: see
 * RecordKind.offloadFrame in constants.ts) each segment is preceded by a virtio-net header with NEEDS_CSUM
 * and its checksum field holds the pseudo-header sum only, as the kernel leaves it; otherwise the full
 * checksum is summed over each segment, which is most of the cost of cutting. A frame that is not a
 * super-frame but has a partial checksum (NEEDS_CSUM) goes on as it is to such a peer, or gets its checksum
 * completed in place. Synchronous, one caller at a time.
 *
 * @module
 */
import { fixIPv4Checksum, fold, pseudoHeaderSum, putChecksum, putU16, sumWords } from "./checksum.ts";
import { TCP_CHECKSUM_OFFSET, TcpFlag, VNET_HEADER_SIZE, VnetFlag, VnetGso } from "./constants.ts";
import { parseTcpLayout, TcpLayout } from "./tcp_layout.ts";
import { checkVnetHeader, readVnetHeader, writeChecksumHeader } from "./vnet_header.ts";

/**
 * The most segments one super-frame may be cut into: 64 KiB at the smallest path the sleeve accepts needs
 * about 150; more means a nonsensical gso_size or path size, refused rather than allocated for.
 */
export const MAX_SEGMENTS = 1024;

/** Cuts TCP super-frames into path-sized frames; keeps one growing buffer that the results point into. */
export class Segmenter {
  #arena = new Uint8Array(0);
  readonly #layout = new TcpLayout();
  readonly #out: Uint8Array[] = [];
  #headed = false;

  /**
   * Whether the pieces of the last {@link segment} call begin with a virtio-net header (they travel as
   * RecordKind.offloadFrame), rather than being bare Ethernet frames.
   */
  get headed(): boolean {
    return this.#headed;
  }

  /**
   * Turns a frame read from an offloading TAP into pieces for one link.
   *
   * - a TCP super-frame (gso_type TCPv4/TCPv6) becomes segments of at most `maxBytes` bytes, each with at
   *   most gso_size payload bytes; with `partial`, each is a virtio-net header (NEEDS_CSUM at the TCP
   *   checksum) and a frame whose TCP checksum field holds the pseudo-header sum; without, a frame with its
   *   full checksum;
   * - a frame with a partial checksum (NEEDS_CSUM) is returned whole, header included, with `partial` when it
   *   fits `maxBytes`; otherwise its checksum is completed, in place in `body`, and the flag cleared there,
   *   so segmenting the same body again (once per link of a flood) is harmless;
   * - any other frame is returned as it is (a frame larger than `maxBytes` too: the caller's PMTU handling
   *   answers it).
   *
   * @param body the virtio-net header followed by the Ethernet frame
   * @param maxBytes the most bytes one piece may have (its virtio-net header included, see {@link headed})
   * @param partial the receiver takes partial checksums
   * @returns the pieces: views into `body` or into this segmenter's buffer, valid until the next call
   * @throws {RangeError} when the header or frame is malformed or cannot be cut to `maxBytes`, saying why
   */
  segment(body: Uint8Array, maxBytes: number, partial = false): Uint8Array[] {
    const bad = checkVnetHeader(body);
    if (bad !== undefined) throw new RangeError(`Cannot segment the frame from the TAP: ${bad}`);
    const h = readVnetHeader(body), frame = body.subarray(VNET_HEADER_SIZE);
    const out = this.#out;
    out.length = 0;
    this.#headed = false;
    const gso = h.gsoType & ~VnetGso.ecn;
    if (gso === VnetGso.none) {
      if ((h.flags & VnetFlag.needsCsum) && partial && body.length <= maxBytes) {
        this.#headed = true;
        out.push(body);
        return out;
      }
      if (h.flags & VnetFlag.needsCsum) {
        const at = h.csumStart + h.csumOffset;
        putChecksum(frame, at, sumWords(frame, h.csumStart, frame.length - h.csumStart));
        body[0] &= ~VnetFlag.needsCsum; // done: a second call (a flood to several links) leaves it alone
      }
      out.push(frame);
      return out;
    }
    const l = this.#layout;
    const wrong = parseTcpLayout(frame, frame.length, l);
    if (wrong !== undefined) throw new RangeError(`Cannot segment the TCP super-frame: ${wrong}`);
    if (l.v6 !== (gso === VnetGso.tcpv6)) {
      throw new RangeError(
        `Cannot segment the TCP super-frame: gso_type 0x${h.gsoType.toString(16)} does not match its IPv${
          l.v6 ? 6 : 4
        } header`,
      );
    }
    const headers = l.payload, total = l.packetEnd - headers, lead = partial ? VNET_HEADER_SIZE : 0;
    const size = Math.min(h.gsoSize, maxBytes - lead - headers);
    if (!Number.isInteger(maxBytes) || size < 1) {
      throw new RangeError(
        `Cannot segment the TCP super-frame into ${maxBytes}-byte pieces: its headers take ${
          lead + headers
        } bytes; give a larger size`,
      );
    }
    const count = Math.max(1, Math.ceil(total / size));
    if (count > MAX_SEGMENTS) {
      throw new RangeError(
        `Cannot segment the TCP super-frame: ${total} payload bytes in ${size}-byte segments make ${count}, ` +
          `more than ${MAX_SEGMENTS}; check gso_size ${h.gsoSize} and piece size ${maxBytes}`,
      );
    }
    const arena = this.#reserve(count * (lead + headers) + total);
    const { ip, tcp, tcpLength, v6 } = l;
    const id = frame[ip + 4] << 8 | frame[ip + 5];
    const seq = (frame[tcp + 4] << 24 | frame[tcp + 5] << 16 | frame[tcp + 6] << 8 | frame[tcp + 7]) >>> 0;
    const flags = frame[tcp + 13];
    let at = 0;
    for (let i = 0; i < count; i++) {
      const from = headers + i * size, chunk = Math.min(size, total - i * size), start = at;
      if (partial) {
        writeChecksumHeader(arena, at, tcp, TCP_CHECKSUM_OFFSET);
        at += VNET_HEADER_SIZE;
      }
      arena.set(frame.subarray(0, headers), at);
      arena.set(frame.subarray(from, from + chunk), at + headers);
      const sip = at + ip, stcp = at + tcp, segmentTcp = tcpLength + chunk;
      if (v6) {
        putU16(arena, sip + 4, segmentTcp);
      } else {
        putU16(arena, sip + 2, l.ipLength + segmentTcp);
        putU16(arena, sip + 4, (id + i) & 0xffff);
        fixIPv4Checksum(arena, sip, l.ipLength);
      }
      const s = (seq + i * size) >>> 0;
      arena[stcp + 4] = s >>> 24;
      arena[stcp + 5] = s >>> 16;
      arena[stcp + 6] = s >>> 8;
      arena[stcp + 7] = s;
      let f = flags;
      if (i < count - 1) f &= ~(TcpFlag.fin | TcpFlag.psh);
      if (i > 0) f &= ~TcpFlag.cwr;
      arena[stcp + 13] = f;
      const pseudo = pseudoHeaderSum(arena, sip, v6, segmentTcp);
      if (partial) {
        putU16(arena, stcp + TCP_CHECKSUM_OFFSET, fold(pseudo));
      } else {
        arena[stcp + TCP_CHECKSUM_OFFSET] = arena[stcp + TCP_CHECKSUM_OFFSET + 1] = 0;
        putChecksum(arena, stcp + TCP_CHECKSUM_OFFSET, sumWords(arena, stcp, segmentTcp, pseudo));
      }
      at += headers + chunk;
      out.push(arena.subarray(start, at));
    }
    this.#headed = partial;
    return out;
  }

  /** The buffer with room for `bytes`, grown (doubling) when smaller; earlier results become invalid. */
  #reserve(bytes: number): Uint8Array {
    if (this.#arena.length < bytes) {
      this.#arena = new Uint8Array(Math.max(bytes, this.#arena.length * 2, 1 << 16));
    }
    return this.#arena;
  }
}
