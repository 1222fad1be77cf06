/**
 * Each owner's share of an IPAM ring, from the tokens of its report: used by `status ipam` and the dashboard.
 *
 * @module
 */
import { ipToBigInt, parseCIDR, parseIP, sizeOf } from "../../base/ip.ts";

/** One owner's part of a range. */
export interface RingShare {
  /** The owning peer's name. */
  owner: string;
  /** Addresses it owns. */
  size: bigint;
  /** Its share of the whole range, in percent (two decimals). */
  percent: number;
}

/**
 * The owners of `ring` with the addresses each holds, sorted by owner name.
 *
 * @example
 * ```ts
 * ringShares({ range: "10.0.0.0/30", tokens: [{ start: "10.0.0.0", end: "10.0.0.3", owner: "a" }] });
 * // [{ owner: "a", size: 4n, percent: 100 }]
 * ```
 */
export function ringShares(
  ring: { range: string; tokens: { start: string; end: string; owner: string }[] },
): RingShare[] {
  const size = sizeOf(parseCIDR(ring.range));
  const owned = new Map<string, bigint>();
  for (const t of ring.tokens) {
    const n = ipToBigInt(parseIP(t.end)) - ipToBigInt(parseIP(t.start)) + 1n;
    owned.set(t.owner, (owned.get(t.owner) ?? 0n) + n);
  }
  return [...owned].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([owner, n]) => ({
    owner,
    size: n,
    percent: Number((n * 10000n) / size) / 100,
  }));
}
