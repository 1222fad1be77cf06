/**
 * The safety rules that let a majority take over an absent peer's space without ever giving one address
 * twice (docs/ipam.md has the argument). All functions are pure over one Ring.
 *
 * - Acknowledgement: a voter acknowledges a peer's report version only when everything it lists (in-use
 *   addresses, claims, offers, reserve) is consistent with what the voter knows, and in particular outside
 *   every not-yet-applied takeover of that peer the voter backs. A peer's address, offer or reserve is final
 *   once a majority of voters acknowledged a report version that carries it.
 * - Backing: a voter backs a takeover only when the ranges are the victim's in its ring, outside everything
 *   any peer reports in use, claimed, offered or reserved, and outside every other takeover it backs that is
 *   not applied yet. The heir writes the takeover's tokens once a majority backs it.
 * - Majorities of the same voters intersect, so a final address and a completed takeover of it cannot both
 *   exist: the common voter would have refused the second.
 *
 * @module
 */

import type { PeerName } from "../mesh/gossip.ts";
import type { Report, Ring, Takeover } from "./ring.ts";
import { includes, intersect, meets, normalize, ofAddresses, type Range, subtract, union } from "./space.ts";

/** Everything a report holds in use: allocated and claimed addresses and offered space. */
export function usedBy(r: Report): Range[] {
  return union(union(ofAddresses(r.inUse), ofAddresses(r.claims)), r.offers.map((o) => o.range));
}

/** What every peer but `except` (and removed peers) reports as used, plus their reserves when asked. */
export function usedByOthers(ring: Ring, except: PeerName | undefined, withReserves: boolean): Range[] {
  const parts: Range[] = [];
  for (const [peer, r] of ring.reports) {
    if (peer === except || ring.removed.has(peer)) continue;
    parts.push(...usedBy(r));
    if (withReserves) parts.push(...r.reserve);
  }
  return normalize(parts);
}

/** The token entries covering any address of `ranges`: the token at or before each start and all inside. */
function tokensMeeting(ring: Ring, ranges: Range[]) {
  return ring.tokens().filter((t) => meets([t.range], ranges));
}

/** True once the heir wrote the takeover: every taken range starts at a token of the takeover's epoch or later. */
export function applied(ring: Ring, t: Takeover): boolean {
  return t.ranges.every((r) => (ring.entries.get(r.start)?.epoch ?? -1) >= t.epoch);
}

/**
 * True while takeover `t` is still in the air: not applied, and its heir not removed by rmpeer (a dead heir's
 * takeover is void, so it no longer fences its ranges).
 */
export function pending(ring: Ring, t: Takeover): boolean {
  return !applied(ring, t) && !ring.removed.has(t.heir);
}

/** The voters whose reports back takeover `t`. */
export function backersOf(ring: Ring, t: Takeover): PeerName[] {
  return ring.voters().filter((v) => ring.report(v).backs.includes(t.id));
}

/** The ranges of pending takeovers `backer` backs, optionally only those of one victim. */
export function fences(ring: Ring, backer: PeerName, victim?: PeerName): Range[] {
  const out: Range[] = [];
  for (const id of ring.report(backer).backs) {
    const t = ring.takeovers.get(id);
    if (t && (victim === undefined || t.victim === victim) && pending(ring, t)) out.push(...t.ranges);
  }
  return normalize(out);
}

/**
 * True when voter `checker` may acknowledge `peer`'s current report: its in-use addresses, offers and
 * reserve lie in the peer's own space, its claims and in-use addresses are nobody else's, and none of it lies
 * in a takeover of the peer that `checker` backs and that is not applied yet.
 */
export function mayAcknowledge(ring: Ring, checker: PeerName, peer: PeerName): boolean {
  const r = ring.report(peer);
  const owned = ring.ownedBy(peer);
  const mine = union(union(ofAddresses(r.inUse), r.offers.map((o) => o.range)), r.reserve);
  if (subtract(mine, owned).length > 0) return false;
  const all = union(usedBy(r), r.reserve);
  if (meets(all, fences(ring, checker, peer))) return false;
  return !meets(usedBy(r), usedByOthers(ring, peer, false));
}

/** The number of voters that acknowledged `peer`'s report at `version` or later, counting `peer` itself. */
export function acknowledgements(ring: Ring, peer: PeerName, version: number): number {
  return ring.voters().filter((v) => v === peer || (ring.report(v).acks[peer] ?? -1) >= version).length;
}

/** True when a majority of voters acknowledged `peer`'s report at `version` or later. */
export function isFinal(ring: Ring, peer: PeerName, version: number): boolean {
  return acknowledgements(ring, peer, version) >= ring.majority();
}

/**
 * True when `peer`'s claim of hand-set address `address`, first reported at `stamp`, is final: a majority
 * acknowledged it, and so did every peer whose reserve holds the address (reserve allocations need no
 * acknowledgement, so only the reserve's owner can know the address is free).
 */
export function isClaimFinal(ring: Ring, peer: PeerName, address: bigint, stamp: number): boolean {
  if (!isFinal(ring, peer, stamp)) return false;
  for (const [owner, r] of ring.reports) {
    if (owner === peer || ring.removed.has(owner) || !includes(r.reserve, address)) continue;
    if ((r.acks[peer] ?? -1) < stamp) return false;
  }
  return true;
}

/**
 * True when voter `backer` may back takeover `t`: see the module comment. The caller adds the policy
 * condition that the victim has been unreachable long enough.
 */
export function mayBack(ring: Ring, backer: PeerName, t: Takeover): boolean {
  if (backer === t.victim || !ring.voters().includes(backer)) return false;
  if (subtract(t.ranges, ring.ownedBy(t.victim)).length > 0) return false;
  if (tokensMeeting(ring, t.ranges).some((x) => x.entry.epoch >= t.epoch)) return false;
  if (meets(t.ranges, usedByOthers(ring, undefined, true))) return false;
  for (const id of ring.report(backer).backs) {
    const other = ring.takeovers.get(id);
    if (other && id !== t.id && pending(ring, other) && meets(other.ranges, t.ranges)) return false;
  }
  return sameWrites(t.writes, plannedWrites(ring, t.heir, t.ranges));
}

/** True when two write lists are equal. */
function sameWrites(a: Takeover["writes"], b: Takeover["writes"]): boolean {
  return a.length === b.length && a.every((w, i) => w.start === b[i].start && w.owner === b[i].owner);
}

/**
 * The tokens an heir writes to take `ranges`: each taken range's start and every token start inside it go to
 * the heir; after each range the previous owner keeps the rest of its token.
 */
export function plannedWrites(ring: Ring, heir: PeerName, ranges: Range[]): Takeover["writes"] {
  const out: Takeover["writes"] = [];
  const starts = ring.starts();
  for (const r of ranges) {
    out.push({ start: r.start, owner: heir });
    for (const s of starts) if (s > r.start && s < r.end) out.push({ start: s, owner: heir });
    if (r.end < ring.universe.end && !includes(ranges, r.end) && !ring.entries.has(r.end)) {
      out.push({ start: r.end, owner: ring.ownerOf(r.end)! });
    }
  }
  return out;
}

/**
 * The takeover `heir` proposes for absent `victim`: the victim's space minus everything any peer reports
 * used or reserved and minus other takeovers not applied yet; undefined when nothing is left. With `admin`
 * (rmpeer, the victim already removed), the victim's own in-use addresses and reserve are taken too, since
 * the reports of removed peers no longer count.
 */
export function planTakeover(
  ring: Ring,
  heir: PeerName,
  victim: PeerName,
  id: string,
  admin = false,
): Takeover | undefined {
  const inAir: Range[] = [];
  for (const t of ring.takeovers.values()) if (pending(ring, t)) inAir.push(...t.ranges);
  const ranges = subtract(subtract(ring.ownedBy(victim), usedByOthers(ring, undefined, true)), inAir);
  if (ranges.length === 0) return undefined;
  const epoch = ring.maxEpoch() + 1;
  return { id, victim, heir, epoch, ranges, writes: plannedWrites(ring, heir, ranges), admin };
}

/**
 * Writes takeover `t`'s tokens into the ring (the heir does this once a majority backs it): the taken ranges at
 * the takeover's epoch, and the cuts after them at the epoch of the token they split, as the previous owner
 * would, so a cut never overrides the start of a later takeover of the next range.
 */
export function applyTakeover(ring: Ring, t: Takeover): void {
  const cuts = t.writes.filter((w) => w.owner !== t.heir).map((w) => {
    const covering = ring.tokens().find((x) => w.start >= x.range.start && w.start < x.range.end)!.entry;
    return {
      start: w.start,
      entry: { owner: w.owner, epoch: covering.epoch, version: covering.version + 1 },
    };
  });
  for (const w of t.writes) {
    if (w.owner === t.heir) ring.setEntry(w.start, { owner: w.owner, epoch: t.epoch, version: 0 });
  }
  for (const c of cuts) if (!ring.entries.has(c.start)) ring.setEntry(c.start, c.entry);
}

/** The addresses of `ranges` that lie in `within`. */
export function clip(ranges: Range[], within: Range): Range[] {
  return intersect(ranges, [within]);
}
