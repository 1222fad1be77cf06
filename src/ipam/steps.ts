/**
 * The step engine of one peer's IPAM: its lanes (one per ring) and what it knows of the mesh, and the steps
 * the state allows for each ring, taken until nothing changes (see ipam.ts for the flow).
 *
 * Steps: consensus; re-pick or finalise pending addresses; acknowledge other peers' reports; back, apply and
 * propose takeovers; complete offers; announce the reserve; ask for space. Then {@link Steps.update}
 * broadcasts once what changed here, as a delta (lane.ts). Single-threaded and synchronous; time and
 * randomness are injected.
 *
 * @module
 */

import type { Gossip, PeerName } from "../mesh/gossip.ts";
import { freeSpace, pick, planReserve, subnetIn } from "./allocator.ts";
import type { Consensus } from "./consensus.ts";
import { SPACE_REQUEST_RETRY_MS } from "./constants.ts";
import { encodeSpaceRequest, giveRange, pickDonor } from "./donation.ts";
import { delta, type Held, type Lane, markSent } from "./lane.ts";
import {
  applied,
  applyTakeover,
  backersOf,
  isClaimFinal,
  isFinal,
  mayAcknowledge,
  mayBack,
  planTakeover,
  usedByOthers,
} from "./reclaim.ts";
import { canonical, type Offer, type Report, type Ring, type Takeover } from "./ring.ts";
import { RingSet } from "./ring_set.ts";
import { cmp, includes, intersect, ofAddresses, subtract, total } from "./space.ts";

/** What the step engine needs. */
export interface StepsOptions {
  /** This peer's name. */
  name: PeerName;
  /** The lanes, one per ring. */
  lanes: Lane[];
  /** The consensus that initialises the rings, unless seeded or an observer. */
  consensus?: Consensus;
  /** --ipalloc-reclaim-after in milliseconds. */
  reclaimAfterMs: number;
  /** The clock, in milliseconds. */
  now: () => number;
  /** Uniform random numbers in [0, 1). */
  random: () => number;
  /** Where rings and space requests are sent, when known. */
  gossip?: Gossip;
}

/** The lanes of one peer and the steps taken on them. */
export class Steps {
  /** The lanes, one per ring, in configuration order. */
  readonly lanes: Lane[];
  /** The consensus that initialises the rings, if any. */
  readonly consensus?: Consensus;
  /** Where rings and space requests are sent. */
  gossiper?: Gossip;
  /** True once an allocation or prime asked for the rings: consensus proposes only then. */
  wanted = false;
  /** How many takeovers this peer proposed: numbers their ids. */
  seq = 0;
  readonly #name: PeerName;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #reclaimAfter: number;
  readonly #unreachableSince = new Map<PeerName, number>();
  #reachable = new Set<PeerName>();

  /** An engine over `opts.lanes`. */
  constructor(opts: StepsOptions) {
    this.#name = opts.name;
    this.lanes = opts.lanes;
    this.consensus = opts.consensus;
    this.#reclaimAfter = opts.reclaimAfterMs;
    this.#now = opts.now;
    this.#random = opts.random;
    this.gossiper = opts.gossip;
  }

  /**
   * Records which peers the mesh reaches now, starting the absence clock of each known peer that is not.
   * @returns `gained` when a peer became reachable, `changed` when only some became unreachable, `same` when
   *   the set is as before
   */
  setReachable(peers: Iterable<PeerName>): "gained" | "changed" | "same" {
    const before = this.#reachable;
    this.#reachable = new Set(peers);
    const gained = [...this.#reachable].some((p) => !before.has(p));
    this.noteAbsent();
    return gained ? "gained" : this.#reachable.size !== before.size ? "changed" : "same";
  }

  /** Starts the absence clock of each known peer (peers become known by gossip) that is not reachable. */
  noteAbsent(): void {
    const now = this.#now();
    for (const p of this.#knownPeers()) {
      if (this.#reachable.has(p)) this.#unreachableSince.delete(p);
      else if (!this.#unreachableSince.has(p)) this.#unreachableSince.set(p, now);
    }
  }

  /** When `peer` was last found unreachable, or undefined while it is reachable or unknown. */
  unreachableSince(peer: PeerName): number | undefined {
    return this.#unreachableSince.get(peer);
  }

  /** The peers the mesh reaches, as last set. */
  reachable(): ReadonlySet<PeerName> {
    return this.#reachable;
  }

  /**
   * Proposes the takeover `plan` makes with the next own takeover id, if any, and adds it to `ring`.
   * @returns the takeover, or undefined when there is nothing to take
   */
  propose(ring: Ring, plan: (id: string) => Takeover | undefined): Takeover | undefined {
    const t = plan(`${this.#name}/${this.seq + 1}`);
    if (!t) return undefined;
    this.seq++;
    ring.addTakeover(t);
    return t;
  }

  /**
   * Runs the steps of every ring until nothing changes, then broadcasts what changed here since the last
   * broadcast (see {@link delta}); with `send` "own" also every item this peer wrote (a peer became
   * reachable: what we broadcast before it was never reached it, and every other peer sends it theirs), with
   * "whole" the whole rings.
   *
   * @returns false when no step changed anything and nothing was broadcast: there is then nothing new to persist
   *   (an allocation's `final` flag, the one field a step may set without a change, is derived again on restore)
   */
  update(send: "changes" | "own" | "whole" = "changes"): boolean {
    let any = false;
    for (let pass = 0; pass < 6; pass++) {
      let changed = false;
      for (const l of this.lanes) if (this.#step(l)) changed = true;
      if (!changed) break;
      any = true;
    }
    if (send === "whole") {
      for (const l of this.lanes) markSent(l);
      this.gossiper?.gossipBroadcast(new RingSet(this.lanes.map((l) => l.ring.clone())));
      return true;
    }
    const deltas = this.lanes.map((l) => delta(l, false, send === "own" ? this.#name : undefined));
    if (deltas.some((d) => d !== undefined)) {
      this.gossiper?.gossipBroadcast(new RingSet(deltas.map((d, i) => d ?? delta(this.lanes[i], true)!)));
      return true;
    }
    return any;
  }

  /** One pass of the steps for one ring; true when anything changed. */
  #step(l: Lane): boolean {
    const ring = l.ring, me = this.#name, now = this.#now();
    let changed = this.#writeOwn(l);
    if (!ring.isInitialised()) {
      if (this.consensus) changed = this.consensus.step(ring, this.wanted, now) || changed;
      if (!ring.isInitialised()) return changed;
    }
    const majority = this.reachesMajority(ring);
    // Pending addresses that are no longer ours (or, cut off, from the main space) are picked again.
    const othersUsed = usedByOthers(ring, me, false);
    for (const h of l.held) {
      if (h.final || h.address === undefined) continue;
      const lost = includes(othersUsed, h.address) ||
        (!h.claim && (!includes(ring.ownedBy(me), h.address) || !majority));
      if (lost) {
        if (h.claim) continue; // a hand-set address stays; its claim waits
        h.address = h.since = undefined;
      }
    }
    for (const h of l.held) if (h.address === undefined && !h.claim) this.#assign(l, h, majority);
    changed = this.#syncUse(l) || changed;
    for (const h of l.held) {
      if (h.final || h.since === undefined) continue;
      h.final = h.claim ? isClaimFinal(ring, me, h.address!, h.since) : isFinal(ring, me, h.since);
    }
    changed = this.#vote(l) || changed;
    changed = this.#inherit(l, majority) || changed;
    changed = this.#completeOffers(l) || changed;
    if (l.own.reserve.length === 0 && ring.ownedBy(me).length > 0) {
      const reserve = planReserve(ring, me, l.own);
      if (reserve.length > 0) {
        this.changeOwn(l, (o) => (o.reserve = reserve));
        l.reserveSince = l.own.stamp;
        changed = true;
      }
    }
    this.#requestSpace(l, now);
    return changed;
  }

  /** Picks an address for `h`: main space when a majority is reachable, else (or when full) the reserve. */
  #assign(l: Lane, h: Held, majority: boolean): void {
    const s = subnetIn(l.ring, h.subnet);
    const taken = ofAddresses(l.held.filter((x) => x.address !== undefined).map((x) => x.address!));
    const free = (part: "main" | "reserve") => subtract(freeSpace(l.ring, this.#name, l.own, part), taken);
    const main = majority ? pick(free("main"), s) : undefined;
    if (majority && main === undefined) l.short = h.subnet;
    if (main !== undefined) {
      Object.assign(h, { address: main, reserve: false, since: undefined });
      return;
    }
    if (l.reserveSince === undefined || !isFinal(l.ring, this.#name, l.reserveSince)) return;
    const spare = pick(free("reserve"), s);
    if (spare !== undefined) {
      Object.assign(h, { address: spare, reserve: true, final: true, since: undefined });
    }
  }

  /** Rewrites the own report's in-use, claims and free hint from the allocations; stamps new addresses. */
  #syncUse(l: Lane): boolean {
    const inUse = sortedUnique(
      l.held.filter((h) => !h.claim && h.address !== undefined).map((h) => h.address!),
    );
    const claims = sortedUnique(l.held.filter((h) => h.claim).map((h) => h.address!));
    const changed = this.changeOwn(l, (o) => {
      o.inUse = inUse;
      o.claims = claims;
      o.free = total(freeSpace(l.ring, this.#name, { ...o, inUse, claims }, "main"));
    });
    for (const h of l.held) if (h.address !== undefined && h.since === undefined) h.since = l.own.stamp;
    return changed;
  }

  /**
   * Acknowledge other peers' reports (counted toward majorities when this peer votes, and needed from a
   * reserve's owner for claims inside it); as a voter, back takeovers of peers absent long enough.
   */
  #vote(l: Lane): boolean {
    const ring = l.ring, me = this.#name;
    let changed = false;
    for (const [peer, r] of ring.reports) {
      if (peer === me || ring.removed.has(peer) || r.stamp <= (l.own.acks[peer] ?? -1)) continue;
      if (mayAcknowledge(ring, me, peer)) {
        changed = this.changeOwn(l, (o) => (o.acks[peer] = r.stamp)) || changed;
      }
    }
    for (const t of ring.takeovers.values()) {
      const due = this.#absentLongEnough(t.victim) || (t.admin && ring.removed.has(t.victim));
      if (l.own.backs.includes(t.id) || !due || !mayBack(ring, me, t)) continue;
      changed = this.changeOwn(l, (o) => o.backs.push(t.id)) || changed;
    }
    return changed;
  }

  /** Heir duties: apply own takeovers a majority backs; propose takeovers of peers absent long enough. */
  #inherit(l: Lane, majority: boolean): boolean {
    const ring = l.ring, me = this.#name;
    let changed = false;
    for (const t of ring.takeovers.values()) {
      if (t.heir === me && !applied(ring, t) && backersOf(ring, t).length >= ring.majority()) {
        applyTakeover(ring, t);
        changed = true;
      }
    }
    if (!majority || !ring.voters().includes(me)) return changed;
    const owners = new Set(ring.tokens().map((t) => t.entry.owner));
    for (const victim of owners) {
      if (victim === me || ring.removed.has(victim) || !this.#absentLongEnough(victim)) continue;
      const heir = ring.voters().filter((v) =>
        v !== victim && (v === me || this.#reachable.has(v))
      ).sort()[0];
      const busy = [...ring.takeovers.values()].some((t) =>
        t.heir === me && t.victim === victim && !applied(ring, t)
      );
      if (heir !== me || busy) continue;
      if (this.propose(ring, (id) => planTakeover(ring, me, victim, id))) changed = true;
    }
    return changed;
  }

  /** Gives offered space whose offer a majority acknowledged; drops offers of space no longer ours (taken over). */
  #completeOffers(l: Lane): boolean {
    const ours = (o: Offer) =>
      total(intersect(l.ring.ownedBy(this.#name), [o.range])) === o.range.end - o.range.start;
    const done = l.own.offers.filter((o) => !ours(o) || isFinal(l.ring, this.#name, o.since));
    if (done.length === 0) return false;
    for (const o of done) if (ours(o)) giveRange(l.ring, this.#name, o.range, o.to);
    this.changeOwn(l, (own) => (own.offers = own.offers.filter((o) => !done.includes(o))));
    return true;
  }

  /**
   * Asks a peer with free space for some when an allocation found no free main space (even if the reserve
   * served it), at most every few seconds.
   */
  #requestSpace(l: Lane, now: number): void {
    const want = l.held.find((h) => h.address === undefined && !h.claim)?.subnet ?? l.short;
    if (!want || !this.gossiper || !this.reachesMajority(l.ring)) return;
    if (l.lastRequest !== undefined && now - l.lastRequest < SPACE_REQUEST_RETRY_MS) return;
    const candidates = [...l.ring.reports.keys()].filter((p) =>
      p !== this.#name && !l.ring.removed.has(p) && this.#reachable.has(p)
    );
    const within = subnetIn(l.ring, want).hosts;
    const donor = pickDonor(l.ring, candidates, this.#random, within);
    if (!donor) return;
    l.lastRequest = now;
    l.short = undefined;
    this.gossiper.gossipUnicast(donor, encodeSpaceRequest(l.ring.range, within));
  }

  /**
   * Applies `fn` to the own report; when it changed, raises the version (and the stamp when what others
   * acknowledge changed) and writes it to the ring.
   */
  changeOwn(l: Lane, fn: (o: Report) => void): boolean {
    const content = (o: Report) => canonical([o.inUse, o.claims, o.offers, o.reserve]);
    const [before, beforeAll] = [content(l.own), canonical({ ...l.own, version: 0 })];
    fn(l.own);
    if (canonical({ ...l.own, version: 0 }) === beforeAll) return false;
    l.own.version++;
    if (content(l.own) !== before) l.own.stamp = l.own.version;
    this.#writeOwn(l);
    return true;
  }

  /** Puts the own report into the ring; re-asserts it above a stale copy that came by gossip. */
  #writeOwn(l: Lane): boolean {
    const cur = l.ring.reports.get(this.#name);
    if (cur && canonical(cur) === canonical(l.own)) return false;
    if (cur && cur.version >= l.own.version) l.own.version = l.own.stamp = cur.version + 1;
    l.ring.setReport(this.#name, structuredClone(l.own));
    return true;
  }

  /** True when this peer and the peers it reaches make a majority of the ring's voters. */
  reachesMajority(ring: Ring): boolean {
    const n = ring.voters().filter((v) => v === this.#name || this.#reachable.has(v)).length;
    return ring.isInitialised() && n >= ring.majority();
  }

  /** True when `peer` has been unreachable for at least --ipalloc-reclaim-after. */
  #absentLongEnough(peer: PeerName): boolean {
    const since = this.#unreachableSince.get(peer);
    return since !== undefined && this.#now() - since >= this.#reclaimAfter;
  }

  /** Every peer the rings mention. */
  #knownPeers(): Set<PeerName> {
    const out = new Set<PeerName>();
    for (const { ring } of this.lanes) {
      for (const p of ring.founders) out.add(p);
      for (const p of ring.reports.keys()) out.add(p);
      for (const e of ring.entries.values()) out.add(e.owner);
    }
    out.delete(this.#name);
    return out;
  }
}

/** Sorted unique bigints. */
function sortedUnique(xs: bigint[]): bigint[] {
  return [...new Set(xs)].sort(cmp);
}
