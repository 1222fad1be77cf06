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

/** Where {@link Segmenter.cut} writes the pieces of a super-frame, one after another. */
export interface PieceSink {
  /** Makes room for a piece of `length` bytes; returns where it starts in {@link bytes}. */
  reserve(length: number): number;
  /** The buffer the last {@link reserve} returned an offset into. */
  readonly bytes: Uint8Array;
}

/** A sink into one growing buffer that keeps a view of every piece (for {@link Segmenter.segment}). */
class ArenaSink implements PieceSink {
  bytes = new Uint8Array(1 << 16);
  readonly pieces: Uint8Array[] = [];
  #used = 0;

  reset(): void {
    this.#used = 0;
    this.pieces.length = 0;
  }

  /** A full buffer is replaced, not copied: earlier pieces stay valid in the old one. */
  reserve(length: number): number {
    if (this.#used + length > this.bytes.length) {
      this.bytes = new Uint8Array(Math.max(2 * this.bytes.length, length));
      this.#used = 0;
    }
    const at = this.#used;
    this.#used += length;
    this.pieces.push(this.bytes.subarray(at, this.#used));
    return at;
  }
}

/** Cuts TCP super-frames into path-sized frames. */
export class Segmenter {
  readonly #layout = new TcpLayout();
  readonly #arena = new ArenaSink();
  #headed = false;

  /**
   * Whether the pieces of the last {@link cut} or {@link segment} call begin with a virtio-net header (they
   * travel as RecordKind.offloadFrame), rather than being bare Ethernet frames.
   */
  get headed(): boolean {
    return this.#headed;
  }

  /**
   * Turns a frame read from an offloading TAP into pieces for one link; {@link cut} into a view per piece,
   * valid until the next call (views into `body` or into this segmenter's buffers).
   *
   * @throws {RangeError} as {@link cut}
   */
  segment(body: Uint8Array, maxBytes: number, partial = false): Uint8Array[] {
    const a = this.#arena;
    a.reset();
    const one = this.cut(body, maxBytes, partial, a);
    if (one !== undefined) a.pieces.push(one);
    return a.pieces;
  }

  /**
   * Turns a frame read from an offloading TAP into pieces for one link.
   *
   * - a TCP super-frame (gso_type TCPv4/TCPv6) is cut into segments of at most `maxBytes` bytes, each with at
   *   most gso_size payload bytes, written one after another into `sink`; with `partial`, each is a
   *   virtio-net header (NEEDS_CSUM at the TCP checksum) and a frame whose TCP checksum field holds the
   *   pseudo-header sum; without, a frame with its full checksum;
   * - a frame with a partial checksum (NEEDS_CSUM) is returned whole, header included, with `partial` when it
   *   fits `maxBytes`; otherwise its checksum is completed, in place in `body`, and the flag cleared there,
   *   so cutting the same body again (once per link of a flood) is harmless;
   * - any other frame is returned as it is (a frame larger than `maxBytes` too: the caller's PMTU handling
   *   answers it).
   *
   * @param body the virtio-net header followed by the Ethernet frame
   * @param maxBytes the most bytes one piece may have (its virtio-net header included, see {@link headed})
   * @param partial the receiver takes partial checksums
   * @param sink where a super-frame's pieces go
   * @returns the one piece of a frame that is not a super-frame (a view into `body`); undefined for a
   *   super-frame
   * @throws {RangeError} when the header or frame is malformed or cannot be cut to `maxBytes`, saying why
   *   (before anything is written to `sink`)
   */
  cut(body: Uint8Array, maxBytes: number, partial: boolean, sink: PieceSink): Uint8Array | undefined {
    const bad = checkVnetHeader(body);
    if (bad !== undefined) throw new RangeError(`Cannot segment the frame from the TAP: ${bad}`);
    const h = readVnetHeader(body), frame = body.subarray(VNET_HEADER_SIZE);
    this.#headed = false;
    const gso = h.gsoType & ~VnetGso.ecn;
    if (gso === VnetGso.none) {
      if ((h.flags & VnetFlag.needsCsum) && partial && body.length <= maxBytes) {
        this.#headed = true;
        return body;
      }
      if (h.flags & VnetFlag.needsCsum) {
        const at = h.csumStart + h.csumOffset;
        putChecksum(frame, at, sumWords(frame, h.csumStart, frame.length - h.csumStart));
        body[0] &= ~VnetFlag.needsCsum; // done: a second call (a flood to several links) leaves it alone
      }
      return frame;
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
    this.#headed = partial;
    const { ip, tcp, tcpLength, v6 } = l;
    const id = frame[ip + 4] << 8 | frame[ip + 5];
    const seq = (frame[tcp + 4] << 24 | frame[tcp + 5] << 16 | frame[tcp + 6] << 8 | frame[tcp + 7]) >>> 0;
    const flags = frame[tcp + 13];
    const head = frame.subarray(0, headers);
    for (let i = 0; i < count; i++) {
      const from = headers + i * size, chunk = Math.min(size, total - i * size);
      let at = sink.reserve(lead + headers + chunk);
      const arena = sink.bytes;
      if (partial) {
        writeChecksumHeader(arena, at, tcp, TCP_CHECKSUM_OFFSET);
        at += VNET_HEADER_SIZE;
      }
      arena.set(head, at);
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
    }
    return undefined;
  }
}
