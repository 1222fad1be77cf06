/**
 * Test helpers for user-space GSO/GRO: builds TCP super-frames as a TAP with offloads hands them out, and
 * checks frames with an independent, deliberately plain checksum oracle (a list of 16-bit words summed with
 * a carry fold after every addition; nothing shared with src/overlay/sleeve/checksum.ts).
 */
import type { SeededRandom } from "../../../testing/seeded_random.ts";

/** One TCP flow's fixed fields. */
export interface Flow {
  v6: boolean;
  macs: Uint8Array; // 12 bytes: destination then source
  src: Uint8Array; // 4 or 16 bytes
  dst: Uint8Array;
  sport: number;
  dport: number;
  ack: number;
  window: number;
  /** TCP options (a multiple of 4 bytes), e.g. a timestamp option. */
  options: Uint8Array;
  tos: number;
  ttl: number;
  df: boolean;
}

/** A random flow. */
export function randomFlow(rnd: SeededRandom, v6 = rnd.int(2) === 1): Flow {
  const options = rnd.int(2) ? new Uint8Array([1, 1, 8, 10, ...rnd.bytes(8)]) : new Uint8Array(0);
  return {
    v6,
    macs: rnd.bytes(12),
    src: rnd.bytes(v6 ? 16 : 4),
    dst: rnd.bytes(v6 ? 16 : 4),
    sport: rnd.int(65536),
    dport: rnd.int(65536),
    ack: rnd.int(2 ** 32),
    window: rnd.int(65536),
    options,
    tos: rnd.int(4) === 0 ? rnd.int(256) : 0,
    ttl: 64,
    df: rnd.int(4) !== 0,
  };
}

/** The header bytes (Ethernet + IP + TCP) of a frame of `flow`. */
export function headerLength(flow: Flow): number {
  return 14 + (flow.v6 ? 40 : 20) + 20 + flow.options.length;
}

/**
 * A frame of `flow` carrying `payload` at `seq`, with `flags` and IPv4 id `id`. With `partial`, the TCP
 * checksum field holds the folded pseudo-header sum (what the kernel leaves for NEEDS_CSUM); else the full
 * checksum.
 */
export function tcpFrame(
  flow: Flow,
  seq: number,
  flags: number,
  id: number,
  payload: Uint8Array,
  partial = false,
): Uint8Array {
  const h = headerLength(flow), ip = 14, tcp = flow.v6 ? 54 : 34;
  const f = new Uint8Array(h + payload.length);
  const v = new DataView(f.buffer);
  f.set(flow.macs, 0);
  v.setUint16(12, flow.v6 ? 0x86dd : 0x0800);
  const tcpLength = h - tcp + payload.length;
  if (flow.v6) {
    v.setUint32(ip, 0x6000_0000 | flow.tos << 20);
    v.setUint16(ip + 4, tcpLength);
    f[ip + 6] = 6;
    f[ip + 7] = flow.ttl;
    f.set(flow.src, ip + 8);
    f.set(flow.dst, ip + 24);
  } else {
    f[ip] = 0x45;
    f[ip + 1] = flow.tos;
    v.setUint16(ip + 2, 20 + tcpLength);
    v.setUint16(ip + 4, id & 0xffff);
    f[ip + 6] = flow.df ? 0x40 : 0;
    f[ip + 8] = flow.ttl;
    f[ip + 9] = 6;
    f.set(flow.src, ip + 12);
    f.set(flow.dst, ip + 16);
    v.setUint16(ip + 10, oracleChecksum(wordsOf(f.subarray(ip, ip + 20))));
  }
  v.setUint16(tcp, flow.sport);
  v.setUint16(tcp + 2, flow.dport);
  v.setUint32(tcp + 4, seq >>> 0);
  v.setUint32(tcp + 8, flow.ack);
  f[tcp + 12] = (20 + flow.options.length) / 4 << 4;
  f[tcp + 13] = flags;
  v.setUint16(tcp + 14, flow.window);
  f.set(flow.options, tcp + 20);
  f.set(payload, h);
  const pseudo = pseudoWords(f, flow.v6, tcpLength);
  if (partial) v.setUint16(tcp + 16, onesSum(pseudo));
  else v.setUint16(tcp + 16, oracleChecksum([...pseudo, ...wordsOf(f.subarray(tcp))]));
  return f;
}

/** A virtio-net header in front of `frame`. */
export function withVnet(
  frame: Uint8Array,
  h: {
    flags: number;
    gsoType: number;
    hdrLen: number;
    gsoSize: number;
    csumStart: number;
    csumOffset: number;
  },
): Uint8Array {
  const b = new Uint8Array(10 + frame.length), v = new DataView(b.buffer);
  b[0] = h.flags;
  b[1] = h.gsoType;
  v.setUint16(2, h.hdrLen, true);
  v.setUint16(4, h.gsoSize, true);
  v.setUint16(6, h.csumStart, true);
  v.setUint16(8, h.csumOffset, true);
  b.set(frame, 10);
  return b;
}

/** A super-frame as the TAP hands it out: NEEDS_CSUM, TSO type, partial checksum. */
export function superFrame(
  flow: Flow,
  seq: number,
  flags: number,
  id: number,
  payload: Uint8Array,
  gsoSize: number,
  ecn = false,
): Uint8Array {
  const frame = tcpFrame(flow, seq, flags, id, payload, true);
  const hdr = headerLength(flow);
  return withVnet(frame, {
    flags: 1,
    gsoType: (flow.v6 ? 4 : 1) | (ecn ? 0x80 : 0),
    hdrLen: hdr,
    gsoSize,
    csumStart: flow.v6 ? 54 : 34,
    csumOffset: 16,
  });
}

/** The big-endian 16-bit words of `bytes`, an odd last byte padded with zero. */
export function wordsOf(bytes: Uint8Array): number[] {
  const w: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) w.push(bytes[i] * 256 + (bytes[i + 1] ?? 0));
  return w;
}

/** Ones'-complement sum of `words`, folding the carry after every addition. */
export function onesSum(words: number[]): number {
  let s = 0;
  for (const w of words) {
    s += w;
    if (s > 0xffff) s -= 0xffff;
  }
  return s;
}

/** The checksum of `words`: the complement of their ones'-complement sum. */
export function oracleChecksum(words: number[]): number {
  return 0xffff - onesSum(words);
}

/** True when `words` (including their checksum field) sum to all ones or zero-equivalent. */
export function checksumValid(words: number[]): boolean {
  const s = onesSum(words);
  return s === 0xffff || s === 0;
}

/** The pseudo-header words of the TCP packet in `f` (Ethernet frame). */
export function pseudoWords(f: Uint8Array, v6: boolean, tcpLength: number): number[] {
  const addrs = v6 ? f.subarray(22, 54) : f.subarray(26, 34);
  return [...wordsOf(addrs), 6, tcpLength];
}

/** Parsed fields of a TCP frame the tests check. */
export interface Parsed {
  v6: boolean;
  ipHeader: number;
  tcp: number;
  payload: number;
  end: number;
  seq: number;
  flags: number;
  id: number;
  /** Flow key: MACs, addresses, ports. */
  key: string;
}

/** Parses a TCP frame built by {@link tcpFrame} (or segmented / coalesced from one). */
export function parse(f: Uint8Array): Parsed {
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const v6 = v.getUint16(12) === 0x86dd;
  const ipHeader = v6 ? 40 : (f[14] & 15) * 4, tcp = 14 + ipHeader;
  const end = v6 ? 54 + v.getUint16(18) : 14 + v.getUint16(16);
  const key = [
    ...f.subarray(0, 12),
    ...(v6 ? f.subarray(22, 54) : f.subarray(26, 34)),
    ...f.subarray(tcp, tcp + 4),
  ].join(",");
  return {
    v6,
    ipHeader,
    tcp,
    payload: tcp + (f[tcp + 12] >> 4) * 4,
    end,
    seq: v.getUint32(tcp + 4),
    flags: f[tcp + 13],
    id: v6 ? 0 : v.getUint16(18),
    key,
  };
}

/**
 * The frame behind the virtio-net header at the start of `body`, its partial checksum (NEEDS_CSUM) completed
 * by the oracle as the receiving kernel would: summed from csum_start to the end, the field included (it
 * holds the pseudo-header sum). A copy; a frame without NEEDS_CSUM is returned as it is.
 */
export function completed(body: Uint8Array): Uint8Array {
  const f = body.slice(10);
  if ((body[0] & 1) === 0) return f;
  const start = body[6] | body[7] << 8, at = start + (body[8] | body[9] << 8);
  const sum = oracleChecksum(wordsOf(f.subarray(start)));
  f[at] = sum >> 8;
  f[at + 1] = sum & 0xff;
  return f;
}

/** Checks a complete frame: IPv4 header checksum and the full TCP checksum; returns what is wrong. */
export function frameProblem(f: Uint8Array): string | undefined {
  const p = parse(f);
  if (p.end !== f.length) return `IP length ends at ${p.end}, frame has ${f.length} bytes`;
  if (!p.v6 && !checksumValid(wordsOf(f.subarray(14, 14 + p.ipHeader)))) return "bad IPv4 header checksum";
  const tcpLength = p.end - p.tcp;
  if (!checksumValid([...pseudoWords(f, p.v6, tcpLength), ...wordsOf(f.subarray(p.tcp, p.end))])) {
    return "bad TCP checksum";
  }
  return undefined;
}
