/**
 * Where a peer may allocate: its own space split into main space and reserve, minus everything any peer
 * reports used, and per subnet never the subnet's first and last address. Pure functions over one Ring.
 *
 * @module
 */

import type { PeerName } from "../mesh/gossip.ts";
import { networkOf, parseCIDR, sizeOf } from "../../base/ip.ts";
import { MIN_RESERVE, MIN_SUBNET_SIZE, RESERVE_DIVISOR } from "./constants.ts";
import type { Report, Ring } from "./ring.ts";
import { pending, usedBy, usedByOthers } from "./reclaim.ts";
import { intersect, lowest, type Range, subtract, topSlice, total, union } from "./space.ts";

/** A subnet addresses are allocated in. */
export interface Subnet {
  /** Canonical text, e.g. "10.32.0.0/12". */
  text: string;
  /** The prefix length. */
  prefix: number;
  /** Every address of the subnet. */
  range: Range;
  /** The addresses that may be given: all but the first and the last. */
  hosts: Range;
}

/**
 * Parses a subnet that must lie inside `ring`'s universe.
 * @throws {Error} when `cidr` is malformed, outside the range, or smaller than 4 addresses
 */
export function subnetIn(ring: Ring, cidr: string): Subnet {
  const c = parseCIDR(cidr);
  const start = networkOf(c), size = sizeOf(c);
  const range = { start, end: start + size };
  if (c.family !== ring.cidr.family || start < ring.universe.start || range.end > ring.universe.end) {
    throw new Error(`Cannot allocate in subnet '${cidr}': it is outside --ipalloc-range ${ring.range}`);
  }
  if (size < MIN_SUBNET_SIZE) {
    throw new Error(`Cannot allocate in subnet '${cidr}': it has ${size} addresses, at least 4 are needed`);
  }
  return {
    text: `${ring.format(start)}/${c.prefix}`,
    prefix: c.prefix,
    range,
    hosts: { start: start + 1n, end: range.end - 1n },
  };
}

/** Every address the ring's reports say is used, by anyone (removed peers excepted). */
export function usedByAll(ring: Ring): Range[] {
  return usedByOthers(ring, undefined, false);
}

/**
 * `self`'s space for allocation: its tokens minus its reserve (main) or within it (reserve), minus used, minus
 * takeovers of its space that are not applied yet (voters would refuse to acknowledge addresses there).
 */
export function freeSpace(ring: Ring, self: PeerName, own: Report, part: "main" | "reserve"): Range[] {
  const owned = subtract(ring.ownedBy(self), takenFrom(ring, self));
  const base = part === "main" ? subtract(owned, own.reserve) : intersect(owned, own.reserve);
  return subtract(subtract(base, union(usedByAll(ring), usedBy(own))), usedByOthers(ring, self, true));
}

/** The ranges of pending takeovers of `victim`. */
function takenFrom(ring: Ring, victim: PeerName): Range[] {
  return [...ring.takeovers.values()].filter((t) => t.victim === victim && pending(ring, t)).flatMap((t) =>
    t.ranges
  );
}

/** The lowest address of `free` that subnet `s` may give, or undefined. */
export function pick(free: Range[], s: Subnet): bigint | undefined {
  return lowest(intersect(free, [s.hosts]));
}

/**
 * The reserve `self` announces once it owns space: the top 1/20 of its free space, at least 16 addresses
 * (or all of it when smaller).
 */
export function planReserve(ring: Ring, self: PeerName, own: Report): Range[] {
  const free = freeSpace(ring, self, own, "main");
  const size = total(ring.ownedBy(self)) / RESERVE_DIVISOR;
  return topSlice(free, size > MIN_RESERVE ? size : MIN_RESERVE);
}
