/**
 * Constants of the fast datapath: the kernel VXLAN device, the heartbeat frames sent through it, and the
 * timings of falling back to the sleeve and returning.
 *
 * @module
 */

// ---- Spec values: both ends must agree on these. ----

/** The UDP port of the VXLAN device (the mesh port + 1, as the reference). */
export const VXLAN_PORT = 6784;

/** The VXLAN network identifier of the overlay. One flat layer-2 segment, so one VNI. */
export const VXLAN_VNI = 0x3ea7e;

/** The overlay's name in the handshake features' `overlays` list. */
export const FASTDP_OVERLAY = "fastdp";

/** Bytes VXLAN adds below the overlay MTU: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;

/** The EtherType of heartbeat frames (IEEE 802 local experimental). */
export const HEARTBEAT_ETHERTYPE = 0x88b5;

/** The first bytes of a heartbeat frame's payload: "MNFD". */
export const HEARTBEAT_MAGIC = 0x4d4e4644;

/** Heartbeat kinds. */
export enum HeartbeatKind {
  /** Sent to a peer every {@link HEARTBEAT_MS}, or {@link HEARTBEAT_SLOW_MS} or slower while its pair is on fastdp. */
  probe = 1,
  /** The peer's answer, the same size as the probe. */
  ack = 2,
}

/** Payload bytes of a heartbeat before its padding: magic 4, kind 1, from 6, to 6, sequence 4, size 2. */
export const HEARTBEAT_HEADER_SIZE = 23;

/** Bytes of an Ethernet header, defined once for both data planes. */
export { ETHERNET_HEADER_SIZE } from "../../net/ethernet.ts";

// ---- Tuning values: local choices. ----

/** The device that joins the bridge to the underlay. */
export const VXLAN_DEVICE = "vxlan-6784";

/**
 * How often a heartbeat goes to a candidate whose pair is not (or no longer) on fastdp, in ms: the
 * reference's fast interval, so a pair proves itself quickly. Also the period of fastdp's heartbeat rounds.
 */
export const HEARTBEAT_MS = 500;

/**
 * How often a heartbeat goes to a peer on fastdp, in ms, at the most often: slower once healthy, as the
 * reference (10 s there), so a full mesh does not spend a full-MTU frame per peer every half second. With more
 * than {@link HEARTBEAT_SLOW_PER_S} × 2 pairs on fastdp the interval grows with their count (pair_health.ts).
 */
export const HEARTBEAT_SLOW_MS = 2_000;

/** The longest interval between heartbeats to a peer on fastdp, in ms (the reference's). */
export const HEARTBEAT_SLOW_MAX_MS = 10_000;

/**
 * Heartbeats per second a router sends at most to its pairs on fastdp: beyond {@link HEARTBEAT_SLOW_MS} ×
 * this many pairs (20) their interval grows with the count, up to {@link HEARTBEAT_SLOW_MAX_MS}, so a
 * router's idle heartbeat work stays flat as the mesh grows. A fallback starts from the first heartbeat after
 * a path breaks, so in a larger mesh it comes later by up to the longer interval.
 */
export const HEARTBEAT_SLOW_PER_S = 10;

/**
 * How long a heartbeat to a pair on fastdp waits for its ack before the next one goes, at the fast interval,
 * in ms: an ack normally comes within one drain of the peer (a few ms, 250 ms at most while idle).
 */
export const ACK_WAIT_MS = 1_000;

/**
 * A pair on fastdp falls back to the sleeve when this many heartbeats in a row went unanswered (reference:
 * 6 of 10 s). Counted in heartbeats our own loop sent, not in wall time, so a stalled host does not drop its
 * pairs. A heartbeat unanswered after {@link ACK_WAIT_MS} is followed by one every {@link HEARTBEAT_MS}, so the
 * fallback comes {@link FALLBACK_MS} after the first unanswered heartbeat, 2–4 s after the path broke (2 s
 * heartbeats). Shorter than the reference's minute: a fallback only moves the pair's frames to the sleeve,
 * while a dead VXLAN path loses them all.
 */
export const FALLBACK_MISSED = 3;

/** Time from the first unanswered heartbeat of a pair on fastdp to its fallback, in ms (for status text). */
export const FALLBACK_MS = ACK_WAIT_MS + (FALLBACK_MISSED - 1) * HEARTBEAT_MS;

/** Consecutive acknowledged heartbeats that put a pair on fastdp (again). */
export const ACKS_TO_USE = 2;
