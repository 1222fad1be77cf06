/**
 * The Internet checksum (RFC 1071) over byte ranges and the TCP pseudo-header, for the sleeve's user-space
 * segmentation and coalescing. Sums are plain numbers that stay below 2^53 for any frame (at most 2^15
 * words of 2^32 each), folded to 16 bits only at the end.
 *
 * @module
 */
import { IPPROTO_TCP } from "./constants.ts";

/** Ranges shorter than this are summed byte by byte; longer ones 32 bits at a time. */
const WIDE_FROM = 64;

/** 32-bit views of the buffers summed in (the sleeve sums in a few long-lived buffers), and the last one. */
const wideViews = new WeakMap<ArrayBufferLike, Uint32Array<ArrayBufferLike>>();
let wideBuffer: ArrayBufferLike | undefined;
let wide: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/**
 * Adds the big-endian 16-bit words of `bytes[start, start + length)` to `sum` (an odd last byte is padded
 * with a zero byte, as if the range were the end of the checksummed data).
 *
 * Long ranges are read as aligned little-endian 32-bit words (x86): the ones'-complement sum does not depend
 * on word size, and a sum over byte-swapped words is the byte-swapped sum (RFC 1071 §2), so the folded
 * result is swapped back when the range starts at an even address.
 */
export function sumWords(bytes: Uint8Array, start: number, length: number, sum = 0): number {
  if (length < WIDE_FROM) {
    const end = start + (length & ~1);
    for (let i = start; i < end; i += 2) sum += bytes[i] << 8 | bytes[i + 1];
    if (length & 1) sum += bytes[end] << 8;
    return sum;
  }
  const base = bytes.byteOffset, from = base + start, to = from + length;
  if (wideBuffer !== bytes.buffer) {
    wideBuffer = bytes.buffer;
    let view = wideViews.get(wideBuffer);
    if (view === undefined || view.length !== wideBuffer.byteLength >>> 2) {
      wideViews.set(wideBuffer, view = new Uint32Array(wideBuffer, 0, wideBuffer.byteLength >>> 2));
    }
    wide = view;
  }
  // Bytes at odd addresses are the high half of a little-endian 16-bit word.
  let s = 0, at = from;
  for (; at & 3; at++) s += (at & 1) ? bytes[at - base] << 8 : bytes[at - base];
  const words = (to - at) >>> 2;
  for (let w = at >>> 2, end = w + words; w < end; w++) s += wide[w];
  for (at += words << 2; at < to; at++) s += (at & 1) ? bytes[at - base] << 8 : bytes[at - base];
  s = fold(s);
  return sum + ((from & 1) ? s : (s & 0xff) << 8 | s >>> 8);
}

/** Folds a sum to 16 bits with end-around carry (not complemented). */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The unfolded sum of the TCP pseudo-header: source and destination address of the IP header at `ip`
 * (IPv4 when `v6` is false), protocol TCP and `tcpLength` (TCP header plus payload bytes).
 */
export function pseudoHeaderSum(frame: Uint8Array, ip: number, v6: boolean, tcpLength: number): number {
  const addresses = v6 ? sumWords(frame, ip + 8, 32) : sumWords(frame, ip + 12, 8);
  return addresses + IPPROTO_TCP + tcpLength;
}

/** Writes the 16-bit big-endian `value` at `at`. */
export function putU16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 8;
  bytes[at + 1] = value;
}

/**
 * Writes the complemented checksum of `sum` at `at`; a result of 0 is written as 0xffff (the same value in
 * ones' complement, and the form UDP requires).
 */
export function putChecksum(bytes: Uint8Array, at: number, sum: number): void {
  putU16(bytes, at, ~fold(sum) & 0xffff || 0xffff);
}

/** Recomputes the IPv4 header checksum of the header at `ip` with `ihl` bytes. */
export function fixIPv4Checksum(frame: Uint8Array, ip: number, ihl: number): void {
  frame[ip + 10] = frame[ip + 11] = 0;
  putU16(frame, ip + 10, ~fold(sumWords(frame, ip, ihl)) & 0xffff);
}
