/**
 * The gossip extension point, as in weaveworks/mesh: three small interfaces.
 *
 * - {@link GossipData} is a CRDT: `merge` is commutative, associative and idempotent, so peers may apply
 *   updates in any order, any number of times, and converge.
 * - {@link Gossiper} is what a subsystem (topology, IPAM ring, DNS table) implements to receive.
 * - {@link Gossip} is what the mesh gives a subsystem to send: unicast to one peer, broadcast along the
 *   broadcast tree, or gossip to a log-sized random subset of neighbours.
 *
 * Deltas travel on change; full state ({@link Gossiper.gossip}) only on the slow anti-entropy timer and, for
 * a gossiper that is not a {@link DigestGossiper}, on a new connection (a digest gossiper sends a summary
 * there and answers the other side's summary with what it lacks).
 *
 * @module
 */

/** A peer's name: 48 bits written as a MAC address, e.g. "ce:31:e0:06:45:1e". */
export type PeerName = string;

/** State that can be encoded for the wire and merged with another instance of the same kind. */
export interface GossipData {
  /** The wire form, as one or more messages each small enough for one gossip frame. */
  encode(): Uint8Array[];
  /** Merges `other` into this instance and returns this; commutative, associative and idempotent. */
  merge(other: GossipData): GossipData;
}

/** The receiving side of one gossip channel, implemented by each subsystem. */
export interface Gossiper {
  /** A unicast message from `src` addressed to this peer. */
  onGossipUnicast(src: PeerName, msg: Uint8Array): void;
  /**
   * A broadcast from `src`. Returns the part that was new here (to forward further), or undefined when nothing was.
   * @throws {Error} when `update` cannot be decoded; the caller drops it and logs.
   */
  onGossipBroadcast(src: PeerName, update: Uint8Array): GossipData | undefined;
  /** The full state to send to a new neighbour or on the anti-entropy timer; undefined when empty. */
  gossip(): GossipData | undefined;
  /**
   * Periodic or neighbour gossip. Returns what was new here (to gossip on), or undefined when nothing was.
   * @throws {Error} when `msg` cannot be decoded; the caller drops it and logs.
   */
  onGossip(msg: Uint8Array): GossipData | undefined;
}

/**
 * A {@link Gossiper} that summarises its state for a new neighbour instead of sending all of it, and answers a
 * neighbour's summary with what that neighbour lacks.
 */
export interface DigestGossiper extends Gossiper {
  /** A summary of the state: the name and version of each entry. */
  digest(): Uint8Array;
  /**
   * What of our state the sender of `digest` lacks or holds older (to send it as neighbour gossip), or
   * undefined when nothing.
   * @throws {Error} when `digest` cannot be decoded; the caller drops it and logs.
   */
  answerDigest(src: PeerName, digest: Uint8Array): GossipData | undefined;
  /**
   * When present, anti-entropy sends this digest to random neighbours instead of the full state: each
   * receiver answers with what we lack, so every peer pulls its repairs each round.
   */
  antiEntropyDigest?(): Uint8Array;
}

/** The sending side of one gossip channel, given by the mesh to a subsystem. */
export interface Gossip {
  /** Sends `msg` to peer `dst` along the unicast route; dropped when there is no route. */
  gossipUnicast(dst: PeerName, msg: Uint8Array): void;
  /** Sends `update` to every reachable peer along this peer's broadcast tree. */
  gossipBroadcast(update: GossipData): void;
  /** Sends `update` to a random subset of direct neighbours of size about log2(peers). */
  gossipNeighbourSubset(update: GossipData): void;
}
