/**
 * Constants of the mesh control protocol: spec values (both ends must agree) apart from tuning values
 * (local choices that may change between releases).
 *
 * @module
 */

// ---- Spec: both ends of a connection must agree on these ----

/** TCP (control) and UDP (sleeve) port of the mesh. */
export const MESH_PORT = 6783;

/**
 * Message tags: the first byte of every control-plane message after the handshake. The reference's overlay
 * tags (1–3, 7) are not used: the sleeve and fastdp prove their paths with their own heartbeats over UDP, so
 * those numbers stay free.
 */
export const Tag = {
  heartbeat: 0,
  gossip: 4,
  gossipUnicast: 5,
  gossipBroadcast: 6,
  /** A summary of a channel's state (name and version per entry) sent on a new connection; see gossip_channel.ts. */
  gossipDigest: 8,
} as const;

/** Names of the gossip channels. */
export const Channel = {
  topology: "topology",
  ipam: "IPallocation",
  dns: "nameserver",
} as const;

/** Protocol magic: the first bytes both ends write on a new control connection. */
export const PROTOCOL_MAGIC = "meshnet";
/** Oldest control protocol version this build speaks. */
export const PROTOCOL_MIN_VERSION = 1;
/** Newest control protocol version this build speaks; the agreed version is the lower of both maxima. */
export const PROTOCOL_MAX_VERSION = 1;
/** Encryption flag byte sent after the header: 0 plain, 1 encrypted (a 32-byte public key follows). */
export const EncryptionFlag = { plain: 0, encrypted: 1 } as const;
/** Largest framed control message in bytes (the 4-byte length prefix excluded), as in the reference: 10 MiB. */
export const MAX_MESSAGE_SIZE = 10 * 1024 * 1024;
/**
 * Largest frame body in bytes before the peer is authenticated (the features message, sealed when
 * encrypted): a name, a nickname, a few overlays and a version fit in well under this. A peer that announces
 * more is not a meshnet peer and is dropped before its frame is read.
 */
export const MAX_HANDSHAKE_MESSAGE_SIZE = 4096;
/** Size in bytes of the big-endian length prefix of every framed control message. */
export const LENGTH_PREFIX_SIZE = 4;
/** Curve25519 public key size in bytes. */
export const PUBLIC_KEY_SIZE = 32;
/** Session key size in bytes (SHA-256 of the shared secret and the password). */
export const SESSION_KEY_SIZE = 32;
/** secretbox nonce size in bytes; bytes 16..23 carry the big-endian sequence number. */
export const NONCE_SIZE = 24;
/** Offset in the nonce of the 8-byte big-endian sequence number. */
export const NONCE_SEQUENCE_OFFSET = 16;
/** Nonce byte 0 bit set when the sender dialled the connection (outbound). */
export const NONCE_OUTBOUND_BIT = 0x80;
/** Nonce byte 0 bit set for TCP (control) messages; clear for UDP (sleeve) so the two never share a nonce. */
export const NONCE_TCP_BIT = 0x40;

// ---- Tuning: local choices ----

/** Default TCP port of --metrics-addr, where /metrics alone is served for a cluster's Prometheus (Weave's). */
export const METRICS_PORT = 6782;

/** Time allowed for the whole handshake (header, keys and features), in milliseconds. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Read buffer of a connection before authentication, in bytes (grown after the handshake). */
export const PRE_AUTH_READ_BUFFER_SIZE = 1024;
/** Read buffer of an authenticated connection, in bytes. */
export const READ_BUFFER_SIZE = 64 * 1024;
/**
 * Upper bound of the bytes one connection holds before authentication: its read buffer and the largest
 * frame it may read (the header, flag and key reads are smaller than either).
 */
export const PRE_AUTH_CONNECTION_BYTES = PRE_AUTH_READ_BUFFER_SIZE + MAX_HANDSHAKE_MESSAGE_SIZE;
/**
 * Bytes all connections still handshaking may hold together; a connection accepted beyond it is closed at
 * once. 4 MiB is about 780 handshakes at a time, far more than a mesh dials at once.
 */
export const PRE_AUTH_BUDGET_BYTES = 4 * 1024 * 1024;
/** Interval between TCP heartbeats on an idle control connection, in milliseconds. */
export const HEARTBEAT_INTERVAL_MS = 30_000;
/** A control connection with no message for this long is dead, in milliseconds (2 × heartbeat). */
export const DEAD_TIMEOUT_MS = 2 * HEARTBEAT_INTERVAL_MS;
/** First reconnect interval in milliseconds; each delay is random in [interval/2, 3·interval/2]. */
export const BACKOFF_INITIAL_MS = 2_000;
/** Factor the reconnect interval grows by after each failed attempt. */
export const BACKOFF_FACTOR = 1.5;
/** Cap on the reconnect interval in milliseconds (6 min). */
export const BACKOFF_MAX_MS = 6 * 60_000;
/** A connection that lasted longer than this (milliseconds) resets the reconnect interval. */
export const BACKOFF_RESET_AFTER_MS = 60_000;
/** Accept rate limit: tokens the bucket holds (a burst of this many connections is accepted at once). */
export const ACCEPT_BUCKET_CAPACITY = 20;
/** Accept rate limit: one token comes back every this many milliseconds. */
export const ACCEPT_TOKEN_INTERVAL_MS = 50;

/** Anti-entropy: every channel's full state goes to random neighbours this often (ms). */
export const GOSSIP_INTERVAL_MS = 30_000;
/** Local connection changes are coalesced for this long before our topology update is sent (ms). */
export const TOPOLOGY_BROADCAST_DEFER_MS = 1_000;
/**
 * Topology entries new to a peer are collected for this long before it passes them on, each once in its newest
 * version (ms).
 */
export const TOPOLOGY_RELAY_DEFER_MS = 100;
/** A topology entry requested from a neighbour is not requested again for this long (ms) unless it arrives. */
export const TOPOLOGY_REQUEST_RETRY_MS = 2_000;

/**
 * IPAM broadcasts of our own: the first after a quiet spell goes at once, later ones within this long are
 * merged into one (ms). During a bring-up every acknowledgement changes a peer's report, and each would
 * otherwise go to every peer on its own.
 */
export const IPAM_BROADCAST_DEFER_MS = 100;
/** Topology changes are coalesced for this long before routes are recalculated and peers collected (ms). */
export const ROUTE_RECALC_DEFER_MS = 100;
/** Neighbour-subset gossip goes to this many times log2(peer count) neighbours, at most. */
export const GOSSIP_FANOUT_LOG_FACTOR = 2;
/**
 * Peers designated to pass each topology entry's changes on to each peer not linked to its owner (see
 * Topology.designated): in a dense mesh forming, every neighbour of the owner would otherwise pass each change
 * to each unlinked peer; more than one so that a designated peer whose view lags does not leave a gap.
 */
export const TOPOLOGY_RELAY_COPIES = 1;
/**
 * Removed connections each topology entry's change log remembers (see entry_log.ts); beyond them the oldest
 * is forgotten, and deltas of that entry can then be made only from its removal's version on.
 */
export const TOPOLOGY_MAX_TOMBSTONES = 256;
/** A topology update is split into messages of about this many bytes at most. */
export const TOPOLOGY_CHUNK_BYTES = 256 * 1024;
