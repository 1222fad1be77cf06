/**
 * Sleeve constants: the UDP datagram format (spec, both ends must agree) apart from the timers and sizes each
 * peer may tune on its own.
 *
 * @module
 */

// ---- Spec: the wire format -------------------------------------------------------------------------------

/**
 * The datagram format version in byte 0; a datagram with another version is dropped. Version 2 added the
 * frame header ({@link FRAME_HEADER_SIZE}).
 */
export const SLEEVE_VERSION = 2;

/** Flag bits in byte 1 of the datagram header. */
export const DatagramFlag = {
  /** The records are sealed: a 64-bit sequence number follows the header, then secretbox(records). */
  sealed: 0x01,
} as const;

/** Bytes of the datagram header: version (1), flags (1), sender peer (6). */
export const HEADER_SIZE = 8;

/** Bytes of the big-endian sequence number after the header of a sealed datagram. */
export const SEQUENCE_SIZE = 8;
/** What AES-256-GCM's link key hashes before the session key (SHA-256), so it never equals the session key. */
export const GCM_KEY_LABEL = "meshnet sleeve aes256gcm key\0";

/** Bytes of a peer name or MAC address on the wire. */
export const NAME_SIZE = 6;

/** Bytes of a record header: kind (1), source peer (6), destination peer (6), body length (2, big-endian). */
export const RECORD_HEADER_SIZE = 15;

/**
 * Bytes of the frame header that opens the body of every frame record ({@link RecordKind.frame},
 * {@link RecordKind.offloadFrame}): hop limit (1), flood sequence (4, big-endian).
 *
 * - Hop limit: how many more peers may send this frame on, 1 to 255. The origin sets
 *   {@link FRAME_HOP_LIMIT}; each relay sends it on with one less and never sends a frame whose limit is 1,
 *   so a frame caught in a routing loop (views that disagree during bring-up) dies. 0 is a decode error.
 * - Flood sequence: on a flood (destination {@link BROADCAST_PEER}) the origin's per-flood counter
 *   (unsigned 32-bit, wrapping, random start); with the source peer it names the flood, so a relay drops a
 *   copy it has seen already (flood_filter.ts). On a unicast frame it must be 0.
 */
export const FRAME_HEADER_SIZE = 5;

/** The record kinds. Every other value is a decode error. */
export const RecordKind = {
  /** An Ethernet frame from the source peer's bridge to the destination peer (or to all, for a flood). */
  frame: 1,
  /** A link heartbeat, source = sender, destination = receiver; the body (8 bytes) is echoed in the ack. */
  heartbeat: 2,
  /** The answer to a heartbeat: UDP works both ways on this link. Body: the heartbeat's 8 bytes. */
  heartbeatAck: 3,
  /** A path MTU probe: body = the probe's datagram size (u16) then padding up to that size. */
  pmtuProbe: 4,
  /** The answer to a probe: body = the datagram size that arrived (u16). */
  pmtuAck: 5,
  /**
   * An Ethernet frame with the kernel's offload metadata: body = a virtio-net header ({@link VNET_HEADER_SIZE}
   * bytes) then the frame. This version sends it to peers that offered {@link PARTIAL_CHECKSUMS}, for frames
   * whose checksum is partial (NEEDS_CSUM), path-sized TCP segments among them. Peers before sleeve v2 also
   * sent whole TCP super-frames (GSO, up to 64 KiB, in datagrams the underlay fragments); these are still
   * delivered and relayed (cut into segments, segment.ts). Same addressing as {@link RecordKind.frame}.
   */
  offloadFrame: 6,
} as const;

/** A record kind value. */
export type RecordKind = typeof RecordKind[keyof typeof RecordKind];

/** Body bytes of a heartbeat and of its ack. */
export const HEARTBEAT_BODY_SIZE = 8;

/** Body bytes of a PMTU ack (and the size field at the start of a probe). */
export const PMTU_BODY_SIZE = 2;

/** The destination peer of a flooded frame: every peer on the source's broadcast tree. */
export const BROADCAST_PEER = 0xffff_ffff_ffff;

/** Bytes of an Ethernet header, defined once for both data planes. */
export { ETHERNET_HEADER_SIZE } from "../../net/ethernet.ts";

/**
 * The offload a sleeve offers in the handshake (features `offloads`, src/mesh/features.ts) when its TAP has
 * offloads: it takes TCP segments whose checksum is partial, as {@link RecordKind.offloadFrame} records with
 * NEEDS_CSUM, and hands them to its kernel, which completes the checksum only where a frame leaves the host
 * (a frame for a local container is trusted, as the kernel trusts its own VXLAN's), so neither end sums the
 * payload. Datagrams are checked by the UDP checksum, or authenticated when sealed.
 */
export const PARTIAL_CHECKSUMS = "partial-checksum";

/** Bytes of a virtio-net header (`struct virtio_net_hdr`, little-endian fields) before an offloaded frame. */
export const VNET_HEADER_SIZE = 10;

/** `virtio_net_hdr.flags` bits. */
export const VnetFlag = {
  /** The checksum at csum_start + csum_offset is partial: the receiving kernel completes it. */
  needsCsum: 0x01,
  /** The checksum was verified already. */
  dataValid: 0x02,
} as const;

/** `virtio_net_hdr.gso_type` values (the {@link VnetGso.ecn} bit may be or-ed in with a TCP type). */
export const VnetGso = {
  /** Not a super-frame. */
  none: 0,
  /** A TCP/IPv4 super-frame to cut into gso_size payloads. */
  tcpv4: 1,
  /** A TCP/IPv6 super-frame. */
  tcpv6: 4,
  /** The super-frame's TCP flow uses ECN (CWR on the first segment only). */
  ecn: 0x80,
} as const;

/** EtherType of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of IPv6. */
export const ETHERTYPE_IPV6 = 0x86dd;

/** IP protocol number (IPv4 protocol, IPv6 next header) of TCP. */
export const IPPROTO_TCP = 6;
/** Bytes of an IPv4 header without options, and of the fixed IPv6 header. */
export const IPV4_HEADER_SIZE = 20;
/** Bytes of the fixed IPv6 header. */
export const IPV6_HEADER_SIZE = 40;
/** Bytes of a TCP header without options. */
export const TCP_HEADER_SIZE = 20;
/** Where the checksum field lies in a TCP header (virtio-net csum_offset of a TCP frame). */
export const TCP_CHECKSUM_OFFSET = 16;
/** The largest IPv4 total length or IPv6 payload length: the bound of a TCP super-frame. */
export const MAX_IP_LENGTH = 65535;

/** TCP header flag bits (byte 13 of the header). */
export const TcpFlag = {
  fin: 0x01,
  syn: 0x02,
  rst: 0x04,
  psh: 0x08,
  ack: 0x10,
  urg: 0x20,
  ece: 0x40,
  cwr: 0x80,
} as const;

/** The STP bridge group address 01:80:c2:00:00:00, never forwarded between bridges. */
export const STP_GROUP_MAC = 0x0180_c200_0000;

/** ICMP type "destination unreachable" and its code "fragmentation needed and DF set" (RFC 792, RFC 1191). */
export const ICMP_UNREACHABLE = 3;
/** ICMP code "fragmentation needed and DF set". */
export const ICMP_FRAG_NEEDED = 4;

/** Bytes of IPv4 + UDP headers around a datagram (what the underlay adds for IPv4 peers). */
export const UDP4_OVERHEAD = 28;
/** Bytes of IPv6 + UDP headers around a datagram. */
export const UDP6_OVERHEAD = 48;

/** The largest UDP payload (IPv4): 65535 − 20 − 8. */
export const MAX_DATAGRAM = 65507;

/** The smallest datagram a path must carry (RFC 791's 576-byte IPv4 datagram − 28): PMTU search floor. */
export const MIN_DATAGRAM = 548;

// ---- Tuning: each peer may pick its own ------------------------------------------------------------------

/**
 * The hop limit the origin of a frame sets: the longest path (in peers that send it) a frame may take.
 * Shortest-path routes in a mesh are far shorter; a frame still alive after this many sends is looping.
 */
export const FRAME_HOP_LIMIT = 64;

/** Flood sequence numbers remembered per origin below the highest seen (duplicate suppression window). */
export const FLOOD_WINDOW = 256;
/**
 * A flood sequence number this far or farther behind the origin's highest is taken as the origin having
 * restarted (it starts at a random number), not as a stale copy: the window starts again from it.
 */
export const FLOOD_RESTART_GAP = 1 << 20;
/** Origins whose floods are remembered at most; the least recently seen is forgotten beyond. */
export const FLOOD_ORIGINS_LIMIT = 4096;

/** Heartbeat period before the link is established, in ms. */
export const HEARTBEAT_FAST_MS = 200;
/** Heartbeat period once established, in ms. */
export const HEARTBEAT_INTERVAL_MS = 1_000;
/** An established link is lost when no heartbeat ack arrived for this long, in ms. */
export const LOST_AFTER_MS = 5_000;
/**
 * Heartbeat period of an established link to a peer on fastdp, in ms (the reference's slow heartbeat). Its
 * frames go by VXLAN, whose own heartbeats (every 2 s, slower with many pairs) watch the path and, when they
 * stop, put the pair back on the sleeve 2 s after the first unanswered one: from then on this link heartbeats every {@link HEARTBEAT_INTERVAL_MS} and is
 * lost after {@link LOST_AFTER_MS} without an ack. So an idle full mesh on fastdp spends a sleeve wakeup per
 * peer every 10 s rather than every second.
 */
export const HEARTBEAT_QUIET_MS = 10_000;
/** An established link to a peer on fastdp is lost when no heartbeat ack arrived for this long, in ms. */
export const LOST_QUIET_MS = 35_000;

/**
 * The least time between two runs of the engine's timers (heartbeats, probes, lost links, MAC expiry), in
 * ms: deadlines closer than this share one wakeup. The timer is armed only for what is due (sleeve.ts).
 */
export const TICK_MS = 50;

/** Largest datagram assumed for a peer before its path MTU is verified: a 1500-byte IPv4 path. */
export const ASSUMED_DATAGRAM = 1500 - UDP4_OVERHEAD;
/** An unanswered PMTU probe counts as too big after this long, in ms. */
export const PMTU_PROBE_TIMEOUT_MS = 150;
/** Tries of one probe size before it counts as too big. */
export const PMTU_PROBE_TRIES = 3;
/** The search stops when the verified and the failed size are this close, in bytes (1: exact). */
export const PMTU_PRECISION = 1;
/** A finished search runs again after this long (paths change), in ms. */
export const PMTU_RECHECK_MS = 10 * 60_000;

/** Sequence numbers of a sealed link remembered below the highest seen (replay window width). */
export const REPLAY_WINDOW = 1024;

/** A learned MAC is forgotten after this long without frames from it, in ms (longer than ARP timeouts). */
export const MAC_EXPIRY_MS = 10 * 60_000;
/** How often expired MACs are swept from the cache, in ms (a lookup ignores an expired entry anyway). */
export const MAC_SWEEP_MS = 60_000;
/** Learned MACs kept at most; the oldest is evicted beyond (bounds memory under spoofed sources). */
export const MAC_CACHE_LIMIT = 65_536;

/**
 * A frame from the bridge for a MAC behind a fastdp neighbour is reported (so the bridge's entry for it on
 * the sleeve's port can go) at most once per MAC per this long, in ms.
 */
export const FASTDP_MAC_REPORT_MS = 1_000;
/** MACs whose last report is remembered at most; beyond, the memory starts afresh (a report more, no growth). */
export const FASTDP_MAC_REPORT_LIMIT = 1_024;

/**
 * The TAP's transmit queue in frames: what the bridge may queue for the sleeve while it is busy before the
 * kernel drops (the default 1000 overflowed under one TCP stream: drops = retransmits, bench/RESULTS.md).
 */
export const TAP_TX_QUEUE_LENGTH = 4096;

/** Frames read from the device, or datagrams from the socket, per wakeup at most before flushing. */
export const DRAIN_LIMIT = 256;
/**
 * Super-frames (up to 64 KiB each, from a device with offloads) or coalesced UDP GRO buffers (up to 64 KiB
 * of datagrams) per wakeup at most: each is cut, sealed or opened into dozens of segments, so a wakeup of
 * {@link DRAIN_LIMIT} of them would hold the loop (and every ACK and ping behind it) for tens of ms.
 */
export const SUPER_DRAIN_LIMIT = 16;
/**
 * Wakeups ({@link DRAIN_LIMIT} frames and datagrams each at most) the engine runs back to back before it
 * yields to its event loop, so control messages, timers (heartbeats) and stats are served under any load.
 */
export const DRAIN_ROUNDS = 16;
/** Time the engine drains back to back at most before it yields to its event loop, in ms. */
export const DRAIN_BUDGET_MS = 20;
/**
 * How long an engine that ran out of work blocks its own thread in poll(2) for the next frame or datagram
 * before it waits through the thread pool, in ms. During a stream the next one comes within microseconds,
 * and the pool's hop between threads cost about a tenth of the machine's CPU per GB moved (bench/RESULTS.md
 * "sleeve: the engine waits on its own thread"); an idle engine pays one such wait per wakeup. Its event loop
 * stands still meanwhile, so control messages and timers wait this long at most.
 */
export const BRIEF_WAIT_MS = 1;

/**
 * How long the main thread waits for the Worker to report it started (module loaded, TAP made, socket bound),
 * in ms: a guard against a hang, generous because loading takes over 10 s on a loaded 2-core host.
 */
export const WORKER_START_TIMEOUT_MS = 60_000;
/** How long the main thread waits for the Worker's answer to a stats request, in ms. */
export const WORKER_REPLY_TIMEOUT_MS = 2_000;
/** How long SleeveWorker.stop() waits for the Worker to close its device before terminating it, in ms. */
export const WORKER_STOP_TIMEOUT_MS = 5_000;
