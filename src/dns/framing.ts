/**
 * DNS over TCP framing (RFC 1035 §4.2.2): every message is preceded by its length as 2 bytes, big-endian.
 * Shared by the server (clients' queries) and the forwarder (upstream replies).
 *
 * @module
 */

import { DnsFormatError } from "./message.ts";

/** A byte stream end: what Deno.Conn offers. */
export interface Stream {
  /** Reads into `p`; the count, or null at the end of the stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; the count written. */
  write(p: Uint8Array): Promise<number>;
}

/** Reads exactly `n` bytes; returns undefined on a clean end of stream before the first byte. */
async function readExactly(r: Pick<Stream, "read">, n: number): Promise<Uint8Array | undefined> {
  const buf = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const k = await r.read(buf.subarray(got));
    if (k === null) {
      if (got === 0) return undefined;
      throw new DnsFormatError(`Stream ended after ${got} of ${n} bytes of a DNS frame`);
    }
    got += k;
  }
  return buf;
}

/**
 * Reads one length-prefixed message.
 *
 * @returns the message, or undefined when the stream ended cleanly between messages
 * @throws {DnsFormatError} when the stream ends inside a frame (a length larger than what follows)
 */
export async function readFrame(r: Pick<Stream, "read">): Promise<Uint8Array | undefined> {
  const head = await readExactly(r, 2);
  if (!head) return undefined;
  const len = (head[0] << 8) | head[1];
  if (len === 0) return new Uint8Array(0);
  const body = await readExactly(r, len);
  if (!body) throw new DnsFormatError(`Stream ended after the length prefix ${len} of a DNS frame`);
  return body;
}

/**
 * Writes one message with its length prefix, in a single buffer.
 * @throws {RangeError} when `msg` is longer than 65535 bytes
 */
export async function writeFrame(w: Pick<Stream, "write">, msg: Uint8Array): Promise<void> {
  if (msg.length > 0xffff) {
    throw new RangeError(`DNS message of ${msg.length} bytes does not fit a TCP frame`);
  }
  const out = new Uint8Array(2 + msg.length);
  out[0] = msg.length >> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  let sent = 0;
  while (sent < out.length) sent += await w.write(out.subarray(sent));
}
