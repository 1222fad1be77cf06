/**
 * Constants of IPAM: spec values (every peer of a mesh must agree) apart from tuning values (local choices).
 *
 * @module
 */

// ---- Spec: every peer must agree on these ----

/** The universe when --ipalloc-range is not given. */
export const DEFAULT_RANGE = "10.32.0.0/12";

/** Version of the ring's wire form; a ring of another version is refused. */
export const WIRE_VERSION = 1;

/** Fewest addresses a subnet may have: its first and last address are never given out. */
export const MIN_SUBNET_SIZE = 4n;

// ---- Tuning: local choices ----

/** How long a peer must be unreachable before the majority takes over its free space (ms), 10 minutes. */
export const DEFAULT_RECLAIM_AFTER_MS = 10 * 60 * 1000;

/**
 * How long a peer must have been unreachable before rmpeer takes its space (ms): a peer seen more recently
 * may be alive behind a short cut or restarting, and taking its in-use addresses would put them on two hosts.
 */
export const RMPEER_QUIET_MS = 10_000;

/** The share of a peer's space it keeps as reserve for minority operation: 1/20 (5%). */
export const RESERVE_DIVISOR = 20n;

/** The fewest addresses a reserve holds (when the peer's space is that large). */
export const MIN_RESERVE = 16n;

/** How long a consensus proposer waits for a decision before proposing a higher round (ms). */
export const CONSENSUS_RETRY_MS = 5_000;

/** How long a peer waits for an answer to a space request before asking again (ms). */
export const SPACE_REQUEST_RETRY_MS = 5_000;

/** Largest encoded ring a peer accepts (bytes); bigger messages are refused before parsing. */
export const MAX_RING_BYTES = 4 * 1024 * 1024;

/** Most entries (tokens, reports, takeovers, addresses per report) a decoded ring may hold. */
export const MAX_ITEMS = 65_536;
