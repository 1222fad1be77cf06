/**
 * Where the headers of a TCP frame lie: Ethernet, then IPv4 (with options) or IPv6 (no extension headers),
 * then TCP (with options). Shared by user-space segmentation ({@link Segmenter}) and coalescing
 * ({@link Coalescer}); parsing fills a reused {@link TcpLayout}, so it allocates nothing.
 *
 * @module
 */
import {
  ETHERNET_HEADER_SIZE,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  IPPROTO_TCP,
  IPV4_HEADER_SIZE,
  IPV6_HEADER_SIZE,
  TCP_HEADER_SIZE,
} from "./constants.ts";

/** The header offsets of one TCP frame, filled by {@link parseTcpLayout}. */
export class TcpLayout {
  /** True for IPv6, false for IPv4. */
  v6 = false;
  /** Offset of the IP header (after Ethernet). */
  ip = ETHERNET_HEADER_SIZE;
  /** Bytes of the IP header (IPv4 with options; 40 for IPv6). */
  ipLength = 0;
  /** Offset of the TCP header. */
  tcp = 0;
  /** Bytes of the TCP header with options. */
  tcpLength = 0;
  /** Offset of the TCP payload: all header bytes of the frame. */
  payload = 0;
  /** Bytes of the IP packet as its header states (may be less than the frame: Ethernet padding). */
  packetEnd = 0;
}

/**
 * Parses the Ethernet, IP and TCP headers of `frame[0, length)` into `out`.
 *
 * @returns undefined when it is a well-formed TCP frame, else what is wrong (naming the field and value)
 */
export function parseTcpLayout(frame: Uint8Array, length: number, out: TcpLayout): string | undefined {
  const ip = ETHERNET_HEADER_SIZE;
  if (length < ip + IPV4_HEADER_SIZE) return `frame of ${length} bytes is too short for Ethernet + IP`;
  const etherType = frame[12] << 8 | frame[13];
  const version = frame[ip] >>> 4;
  let proto: number, ipLength: number, packetLength: number;
  if (etherType === ETHERTYPE_IPV4 && version === 4) {
    ipLength = (frame[ip] & 0x0f) * 4;
    if (ipLength < IPV4_HEADER_SIZE) return `IPv4 header length ${ipLength} is below ${IPV4_HEADER_SIZE}`;
    proto = frame[ip + 9];
    packetLength = frame[ip + 2] << 8 | frame[ip + 3];
    if ((frame[ip + 6] & 0x3f) !== 0 || frame[ip + 7] !== 0) {
      return `IPv4 packet is a fragment (flags/offset 0x${
        (frame[ip + 6] << 8 | frame[ip + 7]).toString(16)
      })`;
    }
    out.v6 = false;
  } else if (etherType === ETHERTYPE_IPV6 && version === 6) {
    ipLength = IPV6_HEADER_SIZE;
    proto = frame[ip + 6];
    packetLength = IPV6_HEADER_SIZE + (frame[ip + 4] << 8 | frame[ip + 5]);
    out.v6 = true;
  } else {
    return `EtherType 0x${etherType.toString(16)} with IP version ${version} is not IPv4 or IPv6`;
  }
  if (proto !== IPPROTO_TCP) return `IP protocol ${proto} is not TCP (or IPv6 has extension headers)`;
  const tcp = ip + ipLength;
  if (length < tcp + TCP_HEADER_SIZE) return `frame of ${length} bytes is too short for its TCP header`;
  const tcpLength = (frame[tcp + 12] >>> 4) * 4;
  if (tcpLength < TCP_HEADER_SIZE) return `TCP data offset ${tcpLength} is below ${TCP_HEADER_SIZE}`;
  const packetEnd = ip + packetLength;
  if (packetEnd < tcp + tcpLength || packetEnd > length) {
    return `IP length ${packetLength} does not fit the ${length}-byte frame with ${
      tcp + tcpLength
    } header bytes`;
  }
  out.ip = ip;
  out.ipLength = ipLength;
  out.tcp = tcp;
  out.tcpLength = tcpLength;
  out.payload = tcp + tcpLength;
  out.packetEnd = packetEnd;
  return undefined;
}
