/**
 * User-space GRO: merges consecutive in-order segments of one TCP flow from a batch of received Ethernet
 * frames into super-frames with a virtio-net header, so the receiving kernel (a TAP with offloads) handles
 * few large frames instead of many small ones. The rules are those of Linux GRO as wireguard-go and
 * Tailscale apply them in user space.
 *
 * Flow: {@link Coalescer.coalesce} takes one batch. Pass 1 sorts each frame into an item: a frame that is a
 * candidate (IPv4 without options or fragmentation, or IPv6 without extension headers; TCP with ACK and at
 * most PSH set; a payload; a valid IP checksum; a valid TCP checksum, or a partial one at the TCP header,
 * not summed: its sender left it to the receiver as the kernel does) is appended to its flow's newest item
 * when it continues it: same Ethernet header, addresses, ports, ACK number, window, TCP header length and options,
 * TOS/TTL/DF (IPv6: first word and hop limit), sequence number right after the item's payload, the item not
 * ended by PSH or by a segment shorter than its first, at most the first segment's payload, and the merged
 * IP length within 64 KiB. Anything else starts a new item; a TCP frame that is no candidate also ends its
 * flow's item, so frames of one flow leave in the order they came. Pass 2 writes each item into one reused
 * buffer: a lone frame unchanged behind a zero virtio-net header (NEEDS_CSUM when its checksum is partial); a
 * merged item as the first frame's headers
 * (IP length and checksum fixed, PSH from the last segment) then every payload, with gso_type TCPv4/TCPv6,
 * gso_size = the first payload, NEEDS_CSUM and the pseudo-header sum in the TCP checksum field.
 * Synchronous, one caller at a time.
 *
 * @module
 */
import { fixIPv4Checksum, fold, pseudoHeaderSum, putU16, sumWords } from "./checksum.ts";
import {
  IPV4_HEADER_SIZE,
  MAX_IP_LENGTH,
  TCP_CHECKSUM_OFFSET,
  TcpFlag,
  VNET_HEADER_SIZE,
  VnetFlag,
  VnetGso,
} from "./constants.ts";
import { parseTcpLayout, TcpLayout } from "./tcp_layout.ts";
import { writeChecksumHeader, writeVnetHeader } from "./vnet_header.ts";

/** The partial checksum starts of a batch whose checksums are all complete. */
const NONE_PARTIAL: readonly number[] = [];

/** Frame kinds of pass 1. */
const NOT_TCP = 0, TCP_OTHER = 1, CANDIDATE = 2;

/** Coalesces batches of received frames; keeps reused per-batch tables and one growing output buffer. */
export class Coalescer {
  readonly #layout = new TcpLayout();
  /** Newest item per flow hash (only of candidates). */
  readonly #flows = new Map<number, number>();
  readonly #out: Uint8Array[] = [];
  /** The current batch's partial checksum starts (see {@link coalesce}). */
  #partial: readonly number[] = NONE_PARTIAL;
  #arena = new Uint8Array(0);
  // Per frame: header offsets from pass 1 and the previous frame of its item (-1 at its first).
  #tcp = new Int32Array(0);
  #payload = new Int32Array(0);
  #end = new Int32Array(0);
  #prev = new Int32Array(0);
  // Per item: first and last frame, payload bytes, the sequence number after them.
  #head = new Int32Array(0);
  #last = new Int32Array(0);
  #bytes = new Int32Array(0);
  #nextSeq = new Float64Array(0);

  /**
   * Coalesces one batch of received Ethernet frames (no virtio-net header).
   *
   * @param frames the frames, in the order they arrived
   * @param partial per frame, where its partial TCP checksum starts (a virtio-net header's csum_start, the
   *   field at 16 bytes from it), or −1 when the checksum is complete; absent: all complete
   * @returns virtio-net header + frame for each super-frame or frame, views into this coalescer's buffer,
   *   valid until the next call; frames of one flow keep their order
   */
  coalesce(frames: Uint8Array[], partial: readonly number[] = NONE_PARTIAL): Uint8Array[] {
    this.#partial = partial;
    this.#grow(frames.length);
    const items = this.#sort(frames, frames.length);
    return this.#write(frames, items);
  }

  /** Pass 1: fills the per-frame and per-item tables; returns the number of items. */
  #sort(frames: Uint8Array[], count: number): number {
    const l = this.#layout, flows = this.#flows;
    flows.clear();
    // The flow of the frame before, and its newest item (−1: none), found without the map: a batch is
    // mostly runs of one flow.
    let lastHash = 0, lastItem = -1;
    let items = 0;
    for (let i = 0; i < count; i++) {
      const f = frames[i];
      this.#prev[i] = -1;
      const kind = this.#classify(f, this.#partial[i] ?? -1);
      this.#tcp[i] = l.tcp;
      this.#payload[i] = l.payload;
      this.#end[i] = l.packetEnd;
      if (kind === NOT_TCP) {
        this.#startItem(items++, i, 0, 0);
        continue;
      }
      const hash = flowHash(f, l);
      if (kind === TCP_OTHER) {
        flows.delete(hash);
        if (hash === lastHash) lastItem = -1;
        this.#startItem(items++, i, 0, 0);
        continue;
      }
      const bytes = l.packetEnd - l.payload;
      const seq = readU32(f, l.tcp + 4);
      const open = lastItem !== -1 && hash === lastHash ? lastItem : flows.get(hash);
      if (open !== undefined && this.#continues(frames, open, f, seq, bytes)) {
        this.#prev[i] = this.#last[open];
        this.#last[open] = i;
        this.#bytes[open] += bytes;
        this.#nextSeq[open] = (seq + bytes) >>> 0;
        lastHash = hash;
        lastItem = open;
        continue;
      }
      flows.set(hash, items);
      lastHash = hash;
      lastItem = items;
      this.#startItem(items++, i, bytes, (seq + bytes) >>> 0);
    }
    return items;
  }

  /**
   * Parses `f` into the layout and the per-frame tables; says whether it may be merged. `partial` is where
   * its partial checksum starts, or −1.
   */
  #classify(f: Uint8Array, partial: number): number {
    const l = this.#layout;
    if (parseTcpLayout(f, f.length, l) !== undefined) return NOT_TCP;
    const flags = f[l.tcp + 13];
    if (flags !== TcpFlag.ack && flags !== (TcpFlag.ack | TcpFlag.psh)) return TCP_OTHER;
    if (!l.v6 && l.ipLength !== IPV4_HEADER_SIZE) return TCP_OTHER;
    if (l.payload === l.packetEnd) return TCP_OTHER;
    if (!l.v6 && fold(sumWords(f, l.ip, l.ipLength)) !== 0xffff) return TCP_OTHER;
    if (partial !== -1) return partial === l.tcp ? CANDIDATE : TCP_OTHER;
    const tcpBytes = l.packetEnd - l.tcp;
    if (fold(sumWords(f, l.tcp, tcpBytes, pseudoHeaderSum(f, l.ip, l.v6, tcpBytes))) !== 0xffff) {
      return TCP_OTHER;
    }
    return CANDIDATE;
  }

  /** Whether candidate `f` (parsed into the layout) continues item `item`. */
  #continues(frames: Uint8Array[], item: number, f: Uint8Array, seq: number, bytes: number): boolean {
    const l = this.#layout;
    const head = frames[this.#head[item]], last = frames[this.#last[item]];
    const headBytes = this.#end[this.#head[item]] - this.#payload[this.#head[item]];
    const lastBytes = this.#end[this.#last[item]] - this.#payload[this.#last[item]];
    if (seq !== this.#nextSeq[item] || bytes > headBytes || lastBytes < headBytes) return false;
    if (last[this.#tcp[this.#last[item]] + 13] & TcpFlag.psh) return false;
    if (this.#tcp[this.#head[item]] !== l.tcp || this.#payload[this.#head[item]] !== l.payload) return false;
    if (l.payload - l.ip + this.#bytes[item] + bytes > MAX_IP_LENGTH) return false;
    const ip = l.ip, tcp = l.tcp;
    // Ethernet header; IPv4 TOS, DF/reserved bits, TTL, protocol, addresses; IPv6 version/class/label,
    // next header, hop limit, addresses.
    if (!same(head, f, 0, ip)) return false;
    if (l.v6) {
      if (!same(head, f, ip, ip + 4) || !same(head, f, ip + 6, ip + 40)) return false;
    } else {
      if (head[ip + 1] !== f[ip + 1] || (head[ip + 6] & 0xe0) !== (f[ip + 6] & 0xe0)) return false;
      if (!same(head, f, ip + 8, ip + 10) || !same(head, f, ip + 12, ip + 20)) return false;
    }
    // Ports, ACK number, data offset, window, urgent pointer and options: all but seq, flags, checksum.
    return same(head, f, tcp, tcp + 4) && same(head, f, tcp + 8, tcp + 13) &&
      same(head, f, tcp + 14, tcp + 16) && same(head, f, tcp + 18, l.payload);
  }

  #startItem(item: number, frame: number, bytes: number, nextSeq: number): void {
    this.#head[item] = this.#last[item] = frame;
    this.#bytes[item] = bytes;
    this.#nextSeq[item] = nextSeq;
  }

  /** Pass 2: writes the items into the output buffer. */
  #write(frames: Uint8Array[], items: number): Uint8Array[] {
    const out = this.#out;
    out.length = 0;
    let need = 0;
    for (let i = 0; i < items; i++) {
      const first = this.#head[i];
      need += VNET_HEADER_SIZE +
        (first === this.#last[i] ? frames[first].length : this.#payload[first] + this.#bytes[i]);
    }
    if (this.#arena.length < need) this.#arena = new Uint8Array(Math.max(need, this.#arena.length * 2));
    const a = this.#arena;
    let at = 0;
    for (let i = 0; i < items; i++) {
      const start = at, first = this.#head[i];
      if (first === this.#last[i]) {
        const partial = this.#partial[first] ?? -1;
        if (partial === -1) a.fill(0, at, at + VNET_HEADER_SIZE);
        else writeChecksumHeader(a, at, partial, TCP_CHECKSUM_OFFSET);
        a.set(frames[first], at + VNET_HEADER_SIZE);
        at += VNET_HEADER_SIZE + frames[first].length;
        out.push(a.subarray(start, at));
        continue;
      }
      at = this.#writeMerged(frames, i, at);
      out.push(a.subarray(start, at));
    }
    return out;
  }

  /** Writes merged item `item` at `at`; returns where it ends. */
  #writeMerged(frames: Uint8Array[], item: number, at: number): number {
    const a = this.#arena, l = this.#layout;
    const first = this.#head[item], head = frames[first];
    parseTcpLayout(head, head.length, l);
    const headers = l.payload, frame = at + VNET_HEADER_SIZE;
    // The segments are copied whole, last first, each so its payload lands in place: its headers land on the
    // tail of the payload before it, which that segment's copy overwrites next, and the first segment's
    // headers are the super-frame's. A whole frame needs no view to copy; a frame with bytes after its IP
    // packet (padding) is copied up to the packet's end, so nothing spills into the next payload.
    const p = frame + headers + this.#bytes[item];
    for (let k = this.#last[item], to = p; k !== -1; k = this.#prev[k]) {
      const f = frames[k], end = this.#end[k];
      to -= end - this.#payload[k];
      a.set(f.length === end ? f : f.subarray(0, end), to - this.#payload[k]);
    }
    const ip = frame + l.ip, tcp = frame + l.tcp, tcpBytes = p - tcp;
    if (l.v6) {
      putU16(a, ip + 4, tcpBytes);
    } else {
      putU16(a, ip + 2, p - ip);
      fixIPv4Checksum(a, ip, l.ipLength);
    }
    const last = frames[this.#last[item]];
    a[tcp + 13] |= last[this.#tcp[this.#last[item]] + 13] & TcpFlag.psh;
    putU16(a, tcp + TCP_CHECKSUM_OFFSET, fold(pseudoHeaderSum(a, ip, l.v6, tcpBytes)));
    writeVnetHeader({
      flags: VnetFlag.needsCsum,
      gsoType: l.v6 ? VnetGso.tcpv6 : VnetGso.tcpv4,
      hdrLen: headers,
      gsoSize: this.#end[first] - this.#payload[first],
      csumStart: l.tcp,
      csumOffset: TCP_CHECKSUM_OFFSET,
    }, a.subarray(at));
    return p;
  }

  /** Makes the per-frame and per-item tables hold `count` entries. */
  #grow(count: number): void {
    if (this.#prev.length >= count) return;
    const n = Math.max(count, this.#prev.length * 2, 64);
    this.#tcp = new Int32Array(n);
    this.#payload = new Int32Array(n);
    this.#end = new Int32Array(n);
    this.#prev = new Int32Array(n);
    this.#head = new Int32Array(n);
    this.#last = new Int32Array(n);
    this.#bytes = new Int32Array(n);
    this.#nextSeq = new Float64Array(n);
  }
}

/** True when `a` and `b` hold the same bytes in `[from, to)`. */
function same(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]) >>> 0;
}

/** FNV-1a over the flow's addresses and ports (collisions only cost a merge, never correctness). */
function flowHash(f: Uint8Array, l: TcpLayout): number {
  let h = l.v6 ? 0x811c9dc5 : 0x050c5d1f;
  const from = l.v6 ? l.ip + 8 : l.ip + 12, to = l.v6 ? l.ip + 40 : l.ip + 20;
  for (let i = from; i < to; i++) h = Math.imul(h ^ f[i], 0x01000193);
  for (let i = l.tcp; i < l.tcp + 4; i++) h = Math.imul(h ^ f[i], 0x01000193);
  return h >>> 0;
}
