/**
 * Constants of the mesh control protocol: spec values (both ends must agree) apart from tuning values
 * (local choices that may change between releases).
 *
 * @module
 */

// ---- Spec: both ends of a connection must agree on these ----

/** TCP (control) and UDP (sleeve) port of the mesh. */
export const MESH_PORT = 6783;

/** Message tags: the first byte of every control-plane message after the handshake. */
export const Tag = {
  heartbeat: 0,
  /** Sleeve: the UDP path works both ways (heartbeat acknowledged). */
  overlayEstablished: 1,
  /** Sleeve: a fragmented test frame arrived. */
  fragmentationReceived: 2,
  /** Sleeve: the probed path MTU is verified. */
  pmtuVerified: 3,
  gossip: 4,
  gossipUnicast: 5,
  gossipBroadcast: 6,
  overlayControl: 7,
} as const;

/** Names of the gossip channels. */
export const Channel = {
  topology: "topology",
  ipam: "IPallocation",
  dns: "nameserver",
} as const;

// ---- Tuning: local choices ----

/** Control API: loopback only, never reachable from other hosts. */
export const API_ADDRESS = "127.0.0.1";
/** Control API port. */
export const API_PORT = 6784;
