/**
 * The rings of one peer, one per --ipalloc-range (an IPv4 and an IPv6 ring side by side for dual-stack),
 * gossiped together as one message on channel "IPallocation". Merge is all-or-nothing across the rings.
 *
 * @module
 */

import type { GossipData } from "../mesh/gossip.ts";
import type { Ring } from "./ring.ts";
import { parseWire, ringFromWire } from "./ring_wire.ts";

/** One or more rings over distinct ranges. */
export class RingSet implements GossipData {
  /**
   * A set over `rings`.
   * @param rings the rings, in configuration order
   */
  constructor(readonly rings: Ring[]) {}

  /** The wire form: one message, a JSON list of ring wire forms. */
  encode(): Uint8Array[] {
    return [new TextEncoder().encode(JSON.stringify(this.rings.map((r) => r.toWire())))];
  }

  /**
   * Parses and validates a ring set.
   * @throws {Error} `Invalid IP allocation ring: …`
   */
  static decode(bytes: Uint8Array): RingSet {
    const j = parseWire(bytes);
    if (!Array.isArray(j) || j.length < 1 || j.length > 2) {
      throw new Error("Invalid IP allocation ring: expected a list of one or two rings");
    }
    return new RingSet(j.map((r) => ringFromWire(r)));
  }

  /**
   * Merges `other` into these rings, ring by ring, all or nothing, and returns this.
   * @throws {Error} when the ranges differ or a ring refuses the merge; nothing changes then
   */
  merge(other: GossipData): GossipData {
    this.mergeSet(other);
    return this;
  }

  /**
   * Merges like {@link RingSet.merge}.
   * @returns true when anything changed
   */
  mergeSet(other: GossipData): boolean {
    if (!(other instanceof RingSet)) {
      throw new Error("Cannot merge IP allocation rings with another kind of gossip");
    }
    const mine = this.rings.map((r) => r.range).join(" "), theirs = other.rings.map((r) => r.range).join(" ");
    if (mine !== theirs) {
      throw new Error(
        `Cannot merge IP allocation rings: ranges '${mine}' here, '${theirs}' from the peer; ` +
          "give every peer the same --ipalloc-range",
      );
    }
    this.rings.forEach((r, i) => r.checkMergeable(other.rings[i]));
    return this.rings.map((r, i) => r.mergeRing(other.rings[i])).some((c) => c);
  }
}
