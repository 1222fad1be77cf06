/**
 * One peer's IPAM: the facade the router calls, and the Gossiper of channel "IPallocation".
 *
 * Flow: every call (allocate, claim, release, rmpeer, tick, setReachable) and every merged gossip runs
 * update(), which for each ring takes the steps the state allows (consensus; re-pick or finalise pending
 * addresses; acknowledge other peers' reports; back, apply and propose takeovers; complete offers; announce the
 * reserve; ask for space) until nothing changes, then broadcasts once what changed here: a delta of every
 * token with only the reports, takeovers and votes changed since they were last broadcast or heard (the mesh
 * passes each broadcast on, so what came in by gossip is not sent again). Whole rings go only to a new
 * neighbour, on the anti-entropy timer, and when a peer became reachable or rmpeer ran. Single-threaded and
 * synchronous: time and randomness are injected, nothing here touches sockets or timers, so a test can run
 * many peers in one process.
 *
 * Allocation is per container id and subnet: the same id gets the same address back. An address from the
 * peer's main space is handed out only once a majority of voters acknowledged the report that carries it; a
 * peer that cannot reach a majority allocates from its acknowledged reserve instead (reclaim.ts).
 *
 * @module
 */

import { ConflictError } from "../errors.ts";
import type { Gossip, GossipData, Gossiper, PeerName } from "../mesh/gossip.ts";
import { ipToBigInt, parseCIDR } from "../net/ip.ts";
import { freeSpace, pick, planReserve, subnetIn } from "./allocator.ts";
import { Consensus } from "./consensus.ts";
import {
  DEFAULT_RANGE,
  DEFAULT_RECLAIM_AFTER_MS,
  RMPEER_QUIET_MS,
  SPACE_REQUEST_RETRY_MS,
} from "./constants.ts";
import { decodeSpaceRequest, encodeSpaceRequest, giveRange, pickDonor, planDonation } from "./donation.ts";
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
import { canonical, emptyReport, type Offer, PEER_NAME, type Report, Ring } from "./ring.ts";
import { RingSet } from "./ring_set.ts";
import { cmp, includes, intersect, ofAddresses, subtract, total } from "./space.ts";

/** How the ring is initialised (--ipalloc-init). */
export type InitMode =
  | { mode: "consensus"; count: number }
  | { mode: "seed"; peers: PeerName[] }
  | { mode: "observer" };

/** What an Ipam needs from its surroundings. */
export interface IpamOptions {
  /** This peer's name. */
  name: PeerName;
  /** --ipalloc-range values: one, or an IPv4 and an IPv6 range for dual-stack. Default 10.32.0.0/12. */
  ranges?: string[];
  /** --ipalloc-init. */
  init: InitMode;
  /** The clock, in milliseconds. */
  now: () => number;
  /** Uniform random numbers in [0, 1). */
  random: () => number;
  /** --ipalloc-reclaim-after in milliseconds; default 10 minutes. */
  reclaimAfterMs?: number;
  /** Where rings and space requests are sent; set later with {@link Ipam.attach} when not known yet. */
  gossip?: Gossip;
}

/** The answer to allocate and claim. */
export type Allocation =
  | { state: "ready"; addresses: string[] }
  | { state: "pending"; reason: string };

/** A container's address in one ring, as this peer holds it. */
interface Held {
  /** The container id. */
  id: string;
  /** The subnet, canonical CIDR text. */
  subnet: string;
  /** The address, once picked. */
  address?: bigint;
  /** The own report version that first carried the address. */
  since?: number;
  /** True once the address may be used. */
  final: boolean;
  /** True when it came from the reserve. */
  reserve: boolean;
  /** True for a claimed hand-set address. */
  claim: boolean;
}

/** One ring with this peer's local state for it. */
interface Lane {
  ring: Ring;
  own: Report;
  held: Held[];
  reserveSince?: number;
  lastRequest?: number;
  /** A subnet whose main space ran out while a majority was reachable: ask for space, spare the reserve. */
  short?: string;
  /** Reports, takeovers and votes as last broadcast or heard, by kind and key: what a delta may leave out. */
  sent: Map<string, string>;
}

/** Status of one ring, for `meshnet status ipam`. */
export interface RingStatus {
  /** The universe. */
  range: string;
  /** "ready", or why not. */
  state: string;
  /** Addresses this peer owns. */
  owned: bigint;
  /** Free addresses in this peer's main space. */
  free: bigint;
  /** Addresses in this peer's reserve. */
  reserve: bigint;
  /** Addresses in use here (final). */
  inUse: number;
  /** Allocations waiting for acknowledgement or space. */
  pending: number;
  /** True when this peer reaches a majority of voters. */
  majority: boolean;
  /** Who owns what: first and last address, owner, and the epoch (raised by each takeover). */
  tokens: { start: string; end: string; owner: PeerName; epoch: number }[];
}

/** One peer's IPAM. */
export class Ipam implements Gossiper {
  readonly #lanes: Lane[];
  readonly #consensus?: Consensus;
  readonly #reclaimAfter: number;
  readonly #unreachableSince = new Map<PeerName, number>();
  #reachable = new Set<PeerName>();
  #wanted = false;
  #seq = 0;
  #gossiper?: Gossip;
  readonly #opts: IpamOptions;

  /**
   * A peer's IPAM with empty rings (initialised at once with `seed=`).
   * @throws {Error} when the name, a range or the init mode is invalid
   */
  constructor(opts: IpamOptions) {
    this.#opts = opts;
    if (!PEER_NAME.test(opts.name)) {
      throw new Error(`Invalid peer name '${opts.name}': expected like ce:31:e0:06:45:1e`);
    }
    const ranges = opts.ranges ?? [DEFAULT_RANGE];
    if (ranges.length < 1 || ranges.length > 2) {
      throw new Error(
        `Invalid --ipalloc-range '${ranges.join(",")}': give one range, or one IPv4 and one IPv6`,
      );
    }
    this.#lanes = ranges.map((r) => ({ ring: new Ring(r), own: emptyReport(), held: [], sent: new Map() }));
    if (ranges.length === 2 && this.#lanes[0].ring.cidr.family === this.#lanes[1].ring.cidr.family) {
      throw new Error(
        `Invalid --ipalloc-range '${ranges.join(",")}': two ranges must be one IPv4 and one IPv6`,
      );
    }
    this.#reclaimAfter = opts.reclaimAfterMs ?? DEFAULT_RECLAIM_AFTER_MS;
    this.#gossiper = opts.gossip;
    const init = opts.init;
    if (init.mode === "consensus") {
      if (!Number.isInteger(init.count) || init.count < 1) {
        throw new Error(
          `Invalid --ipalloc-init 'consensus=${init.count}': the count must be a whole number ≥ 1`,
        );
      }
      this.#consensus = new Consensus(opts.name, init.count, opts.random);
    } else if (init.mode === "seed") {
      const bad = init.peers.find((p) => !PEER_NAME.test(p));
      if (bad !== undefined || init.peers.length === 0) {
        throw new Error(
          `Invalid --ipalloc-init 'seed=${init.peers.join(",")}': list peer names like ce:31:e0:06:45:1e`,
        );
      }
      for (const l of this.#lanes) l.ring.initialise(init.peers);
    }
    for (const l of this.#lanes) this.#consensus?.join(l.ring);
  }

  /** This peer's name. */
  get name(): PeerName {
    return this.#opts.name;
  }

  /** The rings, one per range, for inspection and reports; do not change them. */
  rings(): readonly Ring[] {
    return this.#lanes.map((l) => l.ring);
  }

  /** Sets where rings and space requests are sent. */
  attach(gossip: Gossip): void {
    this.#gossiper = gossip;
  }

  /**
   * Allocates an address for container `id`: in `subnet` (a CIDR inside a range), or without it in each
   * range's default subnet (the whole range; both families when dual-stack). The same id gets the same address.
   * @returns ready with `address/prefix` texts, or pending with the reason (call again later)
   * @throws {Error} when `subnet` is malformed or outside every range
   */
  allocate(id: string, subnet?: string): Allocation {
    for (const { lane, text } of this.#targets(subnet)) {
      if (!lane.held.some((h) => h.id === id && h.subnet === text && !h.claim)) {
        lane.held.push({ id, subnet: text, final: false, reserve: false, claim: false });
      }
    }
    this.#wanted = true;
    this.#update();
    return this.allocation(id, subnet)!;
  }

  /**
   * What {@link Ipam.allocate} would answer for an allocation already asked for, without taking any step (they
   * run on every call, merge and tick): cheap, for callers waiting on it.
   * @returns undefined when `id` has not asked for `subnet` (or released it)
   * @throws {Error} when `subnet` is malformed or outside every range
   */
  allocation(id: string, subnet?: string): Allocation | undefined {
    const items = this.#targets(subnet).map(({ lane, text }) => ({
      lane,
      h: lane.held.find((h) => h.id === id && h.subnet === text && !h.claim),
    }));
    if (items.some(({ h }) => h === undefined)) return undefined;
    return this.#answer(items as { lane: Lane; h: Held }[]);
  }

  /** Asks for the ring to be initialised now (the reference's `prime`), as a first allocation would. */
  prime(): void {
    this.#wanted = true;
    this.#update();
  }

  /**
   * Claims a hand-set address `cidr` (address/prefix) of container `id`, so IPAM never gives it out. An address
   * outside every range is not managed and is ready at once.
   * @throws {Error} `Cannot claim …` when another container here or another peer has the address in use
   */
  claim(id: string, cidr: string): Allocation {
    const c = parseCIDR(cidr);
    const a = ipToBigInt(c.address);
    const lane = this.#lanes.find((l) => l.ring.cidr.family === c.family && includes([l.ring.universe], a));
    if (!lane) return { state: "ready", addresses: [cidr] };
    const text = lane.ring.format(a);
    const mine = lane.held.find((h) => h.address === a);
    if (mine && (mine.id !== id || !mine.claim)) {
      throw new Error(
        `Cannot claim ${text} for ${id}: container ${mine.id} has it; detach it first or pick another`,
      );
    }
    if (!mine) {
      const holder = [...lane.ring.reports].find(([p, r]) =>
        p !== this.name && !lane.ring.removed.has(p) && (r.inUse.includes(a) || r.claims.includes(a))
      );
      if (holder) {
        throw new Error(`Cannot claim ${text} for ${id}: peer ${holder[0]} has it in use; pick another`);
      }
      lane.held.push({
        id,
        subnet: `${text}/${c.prefix}`,
        address: a,
        final: false,
        reserve: false,
        claim: true,
      });
    }
    this.#wanted = true;
    this.#update();
    return this.#answer([{ lane, h: lane.held.find((h) => h.address === a)! }]);
  }

  /** Releases the addresses of container `id` (only `address` when given, with or without prefix). */
  release(id: string, address?: string): void {
    const only = address === undefined ? undefined : ipToBigInt(parseCIDR(address, 0).address);
    for (const l of this.#lanes) {
      l.held = l.held.filter((h) => h.id !== id || (only !== undefined && h.address !== only));
    }
    this.#update();
  }

  /** The ready addresses of container `id`, as `address/prefix` texts. */
  lookup(id: string): string[] {
    return this.#lanes.flatMap((l) =>
      l.held.filter((h) => h.id === id && h.final && h.address !== undefined).map((h) => this.#text(l, h))
    );
  }

  /** Every ready allocation, as [container id, address] pairs (address without prefix). */
  allocations(): [string, string][] {
    return this.#lanes.flatMap((l) =>
      l.held.filter((h) => h.final && h.address !== undefined).map((h) =>
        [h.id, l.ring.format(h.address!)] as [string, string]
      )
    );
  }

  /**
   * rmpeer: `gone` stops voting at once, and this peer proposes to take all of its space (in-use addresses and
   * reserve included), without waiting for --ipalloc-reclaim-after. Like any takeover it applies once a
   * majority of the remaining voters backs it, and never over a takeover they already back. Only for a peer
   * that is gone for good; remove one peer at a time and let each removal spread. A peer this one reaches, or
   * reached less than {@link RMPEER_QUIET_MS} ago, is refused: it may still use its addresses.
   * @returns the number of addresses proposed for takeover
   * @throws {Error} when `gone` is this peer or not a peer name
   * @throws {ConflictError} when `gone` is reachable or was seen recently
   */
  rmpeer(gone: PeerName): bigint {
    if (gone === this.name) {
      throw new Error(`Cannot rmpeer ${gone}: it is this peer; use 'meshnet reset' instead`);
    }
    if (!PEER_NAME.test(gone)) {
      throw new Error(`Cannot rmpeer '${gone}': not a peer name like ce:31:e0:06:45:1e`);
    }
    this.#refuseIfAlive(gone);
    let n = 0n;
    for (const { ring } of this.#lanes) {
      if (!ring.isInitialised()) continue;
      ring.removed.add(gone);
      const t = planTakeover(ring, this.name, gone, `${this.name}/${this.#seq + 1}`, true);
      if (!t) continue;
      this.#seq++;
      ring.takeovers.set(t.id, t);
      n += total(t.ranges);
    }
    this.#update(true);
    return n;
  }

  /** Throws when `peer` is reachable, or was less than {@link RMPEER_QUIET_MS} ago. */
  #refuseIfAlive(peer: PeerName): void {
    const stop = "stop its router first (meshnet stop, or power the host off)";
    if (this.#reachable.has(peer)) {
      throw new ConflictError(
        `Cannot rmpeer ${peer}: it is reachable now and may be using its addresses; ${stop}, then retry`,
      );
    }
    const since = this.#unreachableSince.get(peer);
    const quiet = since === undefined ? Infinity : this.#opts.now() - since;
    if (quiet < RMPEER_QUIET_MS) {
      const ago = Math.round(quiet / 1000);
      throw new ConflictError(
        `Cannot rmpeer ${peer}: it was reachable ${ago} s ago and may be alive; ${stop}, ` +
          `then retry once it has been unreachable for ${RMPEER_QUIET_MS / 1000} s`,
      );
    }
  }

  /**
   * Tells which peers the mesh can reach now; unreachable time counts toward reclaim. When a peer became
   * reachable the rings are broadcast: a broadcast made before the mesh had a route to it (a consensus vote
   * right after launch) never reached it, and would otherwise wait for a retry timer.
   */
  setReachable(peers: Iterable<PeerName>): void {
    const now = this.#opts.now(), before = this.#reachable;
    this.#reachable = new Set(peers);
    const gained = [...this.#reachable].some((p) => !before.has(p));
    for (const p of this.#knownPeers()) {
      if (this.#reachable.has(p)) this.#unreachableSince.delete(p);
      else if (!this.#unreachableSince.has(p)) this.#unreachableSince.set(p, now);
    }
    this.#update(gained);
  }

  /** Runs timed work: consensus retries, space requests, reclaim. Call every second or so. */
  tick(): void {
    this.setReachable(this.#reachable);
  }

  /** Status of each ring. */
  status(): RingStatus[] {
    return this.#lanes.map((l) => {
      const r = l.ring;
      const state = r.isInitialised()
        ? "ready"
        : this.#consensus
        ? this.#consensus.describe(r)
        : this.#opts.init.mode === "observer"
        ? "observer: waiting for another peer to initialise the ring"
        : "not initialised";
      return {
        range: r.range,
        state,
        owned: total(r.ownedBy(this.name)),
        free: r.isInitialised() ? total(freeSpace(r, this.name, l.own, "main")) : 0n,
        reserve: total(l.own.reserve),
        inUse: l.held.filter((h) => h.final).length,
        pending: l.held.filter((h) => !h.final).length,
        majority: this.#reachesMajority(r),
        tokens: r.tokens().map((t) => ({
          start: r.format(t.range.start),
          end: r.format(t.range.end - 1n),
          owner: t.entry.owner,
          epoch: t.entry.epoch,
        })),
      };
    });
  }

  /** The rings, for a new neighbour or the anti-entropy timer. */
  gossip(): GossipData | undefined {
    return new RingSet(this.#lanes.map((l) => l.ring));
  }

  /**
   * Merges a broadcast ring set.
   * @returns the update when it changed anything here
   * @throws {Error} when it cannot be decoded or merged; nothing changes then
   */
  onGossipBroadcast(_src: PeerName, update: Uint8Array): GossipData | undefined {
    return this.onGossip(update);
  }

  /**
   * Merges a gossiped ring set.
   * @returns the update when it changed anything here
   * @throws {Error} when it cannot be decoded or merged; nothing changes then
   */
  onGossip(msg: Uint8Array): GossipData | undefined {
    const set = RingSet.decode(msg);
    if (!(new RingSet(this.#lanes.map((l) => l.ring))).mergeSet(set)) return undefined;
    this.#lanes.forEach((l, i) => heard(l, set.rings[i]));
    this.#update();
    return set;
  }

  /**
   * Answers a space request from `src` by offering part of this peer's free main space.
   * @throws {Error} when `msg` is not a valid space request
   */
  onGossipUnicast(src: PeerName, msg: Uint8Array): void {
    const req = decodeSpaceRequest(msg);
    const lane = this.#lanes.find((l) => l.ring.range === req.range);
    if (!lane || !lane.ring.isInitialised() || !this.#reachesMajority(lane.ring) || src === this.name) return;
    if (lane.held.some((h) => h.address === undefined)) return; // short of space ourselves
    const give = planDonation(freeSpace(lane.ring, this.name, lane.own, "main"), req.within);
    if (!give) return;
    this.#changeOwn(lane, (o) => o.offers.push({ range: give, to: src, since: o.version + 1 }));
    this.#update(true);
  }

  /** The whole state to persist (rings and allocations); see {@link Ipam.restore}. */
  persist(): Uint8Array {
    const state = {
      v: 1,
      name: this.name,
      seq: this.#seq,
      wanted: this.#wanted,
      rings: this.#lanes.map((l) => l.ring.toWire()),
      lanes: this.#lanes.map((l) => ({
        reserveSince: l.reserveSince ?? null,
        held: l.held.map((h) => ({ ...h, address: h.address === undefined ? null : String(h.address) })),
      })),
    };
    return new TextEncoder().encode(JSON.stringify(state));
  }

  /**
   * Rebuilds a peer from {@link Ipam.persist} output.
   * @throws {Error} when the bytes are invalid, belong to another peer, or hold other ranges
   */
  static restore(bytes: Uint8Array, opts: IpamOptions): Ipam {
    const bad = (why: string): never => {
      throw new Error(
        `Invalid persisted IPAM state: ${why}; remove the data directory's IPAM file to start afresh`,
      );
    };
    let s: Record<string, unknown>;
    try {
      s = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      return bad("not JSON");
    }
    if (s?.v !== 1) bad("unknown version");
    if (s.name !== opts.name) bad(`it belongs to peer ${s.name}, not ${opts.name}`);
    const ipam = new Ipam(opts);
    const rings = s.rings as unknown[], lanes = s.lanes as { reserveSince: number | null; held: unknown[] }[];
    if (!Array.isArray(rings) || !Array.isArray(lanes) || rings.length !== ipam.#lanes.length) {
      bad("wrong number of ranges");
    }
    ipam.#lanes.forEach((l, i) => {
      const ring = Ring.fromWire(rings[i]);
      if (ring.range !== l.ring.range) bad(`range ${ring.range}, configured ${l.ring.range}`);
      l.ring = ring;
      l.own = structuredClone(ring.report(opts.name));
      l.reserveSince = lanes[i].reserveSince ?? undefined;
      l.held = lanes[i].held.map((x) => {
        const h = x as Record<string, unknown>;
        if (typeof h.id !== "string" || typeof h.subnet !== "string") {
          bad("an allocation without id or subnet");
        }
        return {
          id: h.id as string,
          subnet: h.subnet as string,
          address: typeof h.address === "string" ? BigInt(h.address) : undefined,
          since: typeof h.since === "number" ? h.since : undefined,
          final: h.final === true,
          reserve: h.reserve === true,
          claim: h.claim === true,
        };
      });
    });
    ipam.#seq = typeof s.seq === "number" ? s.seq : 0;
    ipam.#wanted = s.wanted === true;
    return ipam;
  }

  // ---- the steps ----

  /**
   * Runs the steps of every ring until nothing changes, then broadcasts what changed here since the last
   * broadcast (see {@link delta}), or with `full` the whole rings.
   */
  #update(full = false): void {
    for (let pass = 0; pass < 6; pass++) {
      let changed = false;
      for (const l of this.#lanes) if (this.#step(l)) changed = true;
      if (!changed) break;
    }
    const deltas = this.#lanes.map((l) => delta(l));
    if (full) this.#gossiper?.gossipBroadcast(new RingSet(this.#lanes.map((l) => l.ring.clone())));
    else if (deltas.some((d) => d !== undefined)) {
      this.#gossiper?.gossipBroadcast(new RingSet(deltas.map((d, i) => d ?? delta(this.#lanes[i], true)!)));
    }
  }

  /** One pass of the steps for one ring; true when anything changed. */
  #step(l: Lane): boolean {
    const ring = l.ring, me = this.name, now = this.#opts.now();
    let changed = this.#writeOwn(l);
    if (!ring.isInitialised()) {
      if (this.#consensus) changed = this.#consensus.step(ring, this.#wanted, now) || changed;
      if (!ring.isInitialised()) return changed;
    }
    const majority = this.#reachesMajority(ring);
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
        this.#changeOwn(l, (o) => (o.reserve = reserve));
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
    const free = (part: "main" | "reserve") => subtract(freeSpace(l.ring, this.name, l.own, part), taken);
    const main = majority ? pick(free("main"), s) : undefined;
    if (majority && main === undefined) l.short = h.subnet;
    if (main !== undefined) {
      Object.assign(h, { address: main, reserve: false, since: undefined });
      return;
    }
    if (l.reserveSince === undefined || !isFinal(l.ring, this.name, l.reserveSince)) return;
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
    const changed = this.#changeOwn(l, (o) => {
      o.inUse = inUse;
      o.claims = claims;
      o.free = total(freeSpace(l.ring, this.name, { ...o, inUse, claims }, "main"));
    });
    for (const h of l.held) if (h.address !== undefined && h.since === undefined) h.since = l.own.stamp;
    return changed;
  }

  /**
   * Acknowledge other peers' reports (counted toward majorities when this peer votes, and needed from a
   * reserve's owner for claims inside it); as a voter, back takeovers of peers absent long enough.
   */
  #vote(l: Lane): boolean {
    const ring = l.ring, me = this.name;
    let changed = false;
    for (const [peer, r] of ring.reports) {
      if (peer === me || ring.removed.has(peer) || r.stamp <= (l.own.acks[peer] ?? -1)) continue;
      if (mayAcknowledge(ring, me, peer)) {
        changed = this.#changeOwn(l, (o) => (o.acks[peer] = r.stamp)) || changed;
      }
    }
    for (const t of ring.takeovers.values()) {
      const due = this.#absentLongEnough(t.victim) || (t.admin && ring.removed.has(t.victim));
      if (l.own.backs.includes(t.id) || !due || !mayBack(ring, me, t)) continue;
      changed = this.#changeOwn(l, (o) => o.backs.push(t.id)) || changed;
    }
    return changed;
  }

  /** Heir duties: apply own takeovers a majority backs; propose takeovers of peers absent long enough. */
  #inherit(l: Lane, majority: boolean): boolean {
    const ring = l.ring, me = this.name;
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
      const t = planTakeover(ring, me, victim, `${me}/${this.#seq + 1}`);
      if (!t) continue;
      this.#seq++;
      ring.takeovers.set(t.id, t);
      changed = true;
    }
    return changed;
  }

  /** Gives offered space whose offer a majority acknowledged; drops offers of space no longer ours (taken over). */
  #completeOffers(l: Lane): boolean {
    const ours = (o: Offer) =>
      total(intersect(l.ring.ownedBy(this.name), [o.range])) === o.range.end - o.range.start;
    const done = l.own.offers.filter((o) => !ours(o) || isFinal(l.ring, this.name, o.since));
    if (done.length === 0) return false;
    for (const o of done) if (ours(o)) giveRange(l.ring, this.name, o.range, o.to);
    this.#changeOwn(l, (own) => (own.offers = own.offers.filter((o) => !done.includes(o))));
    return true;
  }

  /**
   * Asks a peer with free space for some when an allocation found no free main space (even if the reserve
   * served it), at most every few seconds.
   */
  #requestSpace(l: Lane, now: number): void {
    const want = l.held.find((h) => h.address === undefined && !h.claim)?.subnet ?? l.short;
    if (!want || !this.#gossiper || !this.#reachesMajority(l.ring)) return;
    if (l.lastRequest !== undefined && now - l.lastRequest < SPACE_REQUEST_RETRY_MS) return;
    const candidates = [...l.ring.reports.keys()].filter((p) =>
      p !== this.name && !l.ring.removed.has(p) && this.#reachable.has(p)
    );
    const donor = pickDonor(l.ring, candidates, this.#opts.random);
    if (!donor) return;
    l.lastRequest = now;
    l.short = undefined;
    this.#gossiper.gossipUnicast(donor, encodeSpaceRequest(l.ring.range, subnetIn(l.ring, want).hosts));
  }

  // ---- helpers ----

  /**
   * Applies `fn` to the own report; when it changed, raises the version (and the stamp when what others
   * acknowledge changed) and writes it to the ring.
   */
  #changeOwn(l: Lane, fn: (o: Report) => void): boolean {
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
    const cur = l.ring.reports.get(this.name);
    if (cur && canonical(cur) === canonical(l.own)) return false;
    if (cur && cur.version >= l.own.version) l.own.version = l.own.stamp = cur.version + 1;
    l.ring.reports.set(this.name, structuredClone(l.own));
    return true;
  }

  /** True when this peer and the peers it reaches make a majority of the ring's voters. */
  #reachesMajority(ring: Ring): boolean {
    const n = ring.voters().filter((v) => v === this.name || this.#reachable.has(v)).length;
    return ring.isInitialised() && n >= ring.majority();
  }

  /** True when `peer` has been unreachable for at least --ipalloc-reclaim-after. */
  #absentLongEnough(peer: PeerName): boolean {
    const since = this.#unreachableSince.get(peer);
    return since !== undefined && this.#opts.now() - since >= this.#reclaimAfter;
  }

  /** Every peer the rings mention. */
  #knownPeers(): Set<PeerName> {
    const out = new Set<PeerName>();
    for (const { ring } of this.#lanes) {
      for (const p of ring.founders) out.add(p);
      for (const p of ring.reports.keys()) out.add(p);
      for (const e of ring.entries.values()) out.add(e.owner);
    }
    out.delete(this.name);
    return out;
  }

  /** The lanes and canonical subnets an allocation in `subnet` (else each range's default) targets. */
  #targets(subnet?: string): { lane: Lane; text: string }[] {
    const targets = subnet === undefined
      ? this.#lanes.map((l) => ({ lane: l, subnet: l.ring.range }))
      : [{ lane: this.#laneForSubnet(subnet), subnet }];
    return targets.map(({ lane, subnet }) => ({ lane, text: subnetIn(lane.ring, subnet).text }));
  }

  /** The lane whose range holds `subnet`. */
  #laneForSubnet(subnet: string): Lane {
    const errors: string[] = [];
    for (const l of this.#lanes) {
      try {
        subnetIn(l.ring, subnet);
        return l;
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    throw new Error(errors[0]);
  }

  /** An allocation's `address/prefix` text. */
  #text(l: Lane, h: Held): string {
    return `${l.ring.format(h.address!)}/${h.subnet.split("/")[1]}`;
  }

  /** Ready when every held address is final, else the first reason to wait. */
  #answer(items: { lane: Lane; h: Held }[]): Allocation {
    for (const { lane, h } of items) {
      if (h.final) continue;
      if (!lane.ring.isInitialised()) {
        return { state: "pending", reason: this.status().find((s) => s.range === lane.ring.range)!.state };
      }
      if (h.address === undefined) {
        return { state: "pending", reason: `no free address in ${h.subnet} here; asking peers for space` };
      }
      return {
        state: "pending",
        reason: `waiting for a majority of peers to acknowledge ${lane.ring.format(h.address)}`,
      };
    }
    return { state: "ready", addresses: items.map(({ lane, h }) => this.#text(lane, h)) };
  }
}

/** The kinds of ring items a delta carries only when changed, with a one-letter tag for {@link Lane.sent}. */
const ITEMS = [
  ["r", (r: Ring) => r.reports],
  ["t", (r: Ring) => r.takeovers],
  ["v", (r: Ring) => r.votes],
] as const;

/**
 * The ring of `l` as a delta: founders, removals and every token (few, and a ring is valid only with them),
 * with the reports, takeovers and votes that changed since they were last broadcast or heard, which are
 * marked sent; undefined when none changed and the tokens did not either, unless `always`.
 */
function delta(l: Lane, always = false): Ring | undefined {
  const d = new Ring(l.ring.range);
  d.founders = [...l.ring.founders];
  for (const p of l.ring.removed) d.removed.add(p);
  for (const [k, e] of l.ring.entries) d.entries.set(k, { ...e });
  let changed = false;
  for (const [tag, items] of ITEMS) {
    const to = items(d) as Map<string, unknown>;
    for (const [k, v] of items(l.ring) as Map<string, unknown>) {
      const key = `${tag} ${k}`, text = canonical(v);
      if (l.sent.get(key) === text) continue;
      to.set(k, structuredClone(v));
      l.sent.set(key, text);
      changed = true;
    }
  }
  const tokens = canonical([d.founders, [...d.removed], [...d.entries]]);
  if (l.sent.get("tokens") !== tokens) {
    l.sent.set("tokens", tokens);
    changed = true;
  }
  return changed || always ? d : undefined;
}

/**
 * Marks the items of `ring` (merged into `l`'s ring) that `l`'s ring now holds as they are as sent: their
 * broadcast is passed on by the mesh, so this peer's deltas need not carry them again.
 */
function heard(l: Lane, ring: Ring): void {
  for (const [tag, items] of ITEMS) {
    const mine = items(l.ring) as Map<string, unknown>;
    for (const [k, v] of items(ring) as Map<string, unknown>) {
      const text = canonical(v);
      if (mine.has(k) && canonical(mine.get(k)) === text) l.sent.set(`${tag} ${k}`, text);
    }
  }
}

/** Sorted unique bigints. */
function sortedUnique(xs: bigint[]): bigint[] {
  return [...new Set(xs)].sort(cmp);
}
