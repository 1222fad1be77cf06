/**
 * ICMP "fragmentation needed" for IPv4 frames with Don't Fragment set that are too big for the next hop: the
 * sleeve writes it back to the sending container (as the reference does), whose kernel then lowers its path
 * MTU for that destination and resends in smaller packets.
 *
 * @module
 */
import { fixIPv4Checksum, putChecksum, sumWords } from "./checksum.ts";
import { ETHERNET_HEADER_SIZE, ETHERTYPE_IPV4, ICMP_FRAG_NEEDED, ICMP_UNREACHABLE } from "./constants.ts";

const IPV4_HEADER_SIZE = 20;
const ICMP_HEADER_SIZE = 8;
/** Payload bytes after the original IP header that an ICMP error quotes (RFC 792). */
const QUOTED_PAYLOAD = 8;
const DONT_FRAGMENT = 0x4000;
const PROTOCOL_ICMP = 1;
const TTL = 64;

/** True when `frame` is an IPv4 packet with the Don't Fragment bit set (a well-formed header is required). */
export function isIPv4DontFragment(frame: Uint8Array): boolean {
  const ip = ETHERNET_HEADER_SIZE;
  if (frame.length < ip + IPV4_HEADER_SIZE) return false;
  if ((frame[12] << 8 | frame[13]) !== ETHERTYPE_IPV4 || frame[ip] >>> 4 !== 4) return false;
  const ihl = (frame[ip] & 0x0f) * 4;
  if (ihl < IPV4_HEADER_SIZE || frame.length < ip + ihl) return false;
  return ((frame[ip + 6] << 8 | frame[ip + 7]) & DONT_FRAGMENT) !== 0;
}

/**
 * Builds the Ethernet frame carrying ICMP type 3 code 4 back to the sender of `frame`, from the original
 * destination's MAC and IP address, quoting the original IP header and 8 payload bytes.
 *
 * @param frame an IPv4 frame for which {@link isIPv4DontFragment} is true
 * @param mtu the next-hop MTU to announce, in bytes (IP packet size that fits)
 * @example
 * ```ts ignore
 * if (frame.length > maxFrame && isIPv4DontFragment(frame)) device.write([fragmentationNeeded(frame, maxFrame - 14)]);
 * ```
 */
export function fragmentationNeeded(frame: Uint8Array, mtu: number): Uint8Array {
  const ip = ETHERNET_HEADER_SIZE;
  const ihl = (frame[ip] & 0x0f) * 4;
  const quoted = Math.min(frame.length - ip, ihl + QUOTED_PAYLOAD);
  const total = IPV4_HEADER_SIZE + ICMP_HEADER_SIZE + quoted;
  const out = new Uint8Array(ETHERNET_HEADER_SIZE + total);
  out.set(frame.subarray(6, 12), 0); // to the original source MAC
  out.set(frame.subarray(0, 6), 6); // from the original destination MAC
  out[12] = ETHERTYPE_IPV4 >>> 8;
  out[13] = ETHERTYPE_IPV4 & 0xff;
  const h = ip;
  out[h] = 0x45;
  out[h + 2] = total >>> 8;
  out[h + 3] = total;
  out[h + 8] = TTL;
  out[h + 9] = PROTOCOL_ICMP;
  out.set(frame.subarray(ip + 16, ip + 20), h + 12); // source: the original destination
  out.set(frame.subarray(ip + 12, ip + 16), h + 16); // destination: the original source
  fixIPv4Checksum(out, h, IPV4_HEADER_SIZE);
  const icmp = h + IPV4_HEADER_SIZE;
  out[icmp] = ICMP_UNREACHABLE;
  out[icmp + 1] = ICMP_FRAG_NEEDED;
  out[icmp + 6] = mtu >>> 8;
  out[icmp + 7] = mtu;
  out.set(frame.subarray(ip, ip + quoted), icmp + ICMP_HEADER_SIZE);
  putChecksum(out, icmp + 2, sumWords(out, icmp, ICMP_HEADER_SIZE + quoted));
  return out;
}
