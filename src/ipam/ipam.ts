/**
 * One peer's IPAM: the facade the router calls, and the Gossiper of channel "IPallocation".
 *
 * Flow: every call (allocate, claim, release, rmpeer, tick, setReachable) and every merged gossip runs the
 * step engine (steps.ts), which for each ring takes the steps the state allows until nothing changes, then
 * broadcasts once what changed here: a delta (lane.ts) of every token with only the reports, takeovers and
 * votes changed since they were last broadcast or heard (the mesh passes each broadcast on, so what came in by
 * gossip is not sent again). A new neighbour gets a digest, and answers ours with what we lack
 * (ring_digest.ts); whole rings go only on the anti-entropy timer, and when a peer became reachable or rmpeer
 * ran. Persistence is in ipam_state.ts. Single-threaded and
 * synchronous: time and randomness are injected, nothing here touches sockets or timers, so a test can run
 * many peers in one process.
 *
 * Allocation is per container id and subnet: the same id gets the same address back. An address from the
 * peer's main space is handed out only once a majority of voters acknowledged the report that carries it; a
 * peer that cannot reach a majority allocates from its acknowledged reserve instead (reclaim.ts).
 *
 * @module
 */

import { ConflictError } from "../../base/errors.ts";
import type { DigestGossiper, Gossip, GossipData, PeerName } from "../mesh/gossip.ts";
import { ipToBigInt, parseCIDR } from "../../base/ip.ts";
import { freeSpace, subnetIn } from "./allocator.ts";
import { Consensus } from "./consensus.ts";
import { DEFAULT_RANGE, DEFAULT_RECLAIM_AFTER_MS, RMPEER_QUIET_MS } from "./constants.ts";
import { decodeSpaceRequest, planDonation } from "./donation.ts";
import { decodeState, persistState, restoreState } from "./ipam_state.ts";
import { heard, type Held, type Lane, newLane } from "./lane.ts";
import { isFinal, planTakeover } from "./reclaim.ts";
import { PEER_NAME, type Ring } from "./ring.ts";
import { answerDigest, encodeDigest } from "./ring_digest.ts";
import { RingSet } from "./ring_set.ts";
import { Steps } from "./steps.ts";
import { includes, total } from "./space.ts";

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
  /** True once a majority has acknowledged the reserve: this peer can then allocate even when cut off from it. */
  reserveReady: boolean;
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
export class Ipam implements DigestGossiper {
  readonly #steps: Steps;
  readonly #lanes: Lane[];
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
    this.#lanes = ranges.map(newLane);
    if (ranges.length === 2 && this.#lanes[0].ring.cidr.family === this.#lanes[1].ring.cidr.family) {
      throw new Error(
        `Invalid --ipalloc-range '${ranges.join(",")}': two ranges must be one IPv4 and one IPv6`,
      );
    }
    let consensus: Consensus | undefined;
    const init = opts.init;
    if (init.mode === "consensus") {
      if (!Number.isInteger(init.count) || init.count < 1) {
        throw new Error(
          `Invalid --ipalloc-init 'consensus=${init.count}': the count must be a whole number ≥ 1`,
        );
      }
      consensus = new Consensus(opts.name, init.count, opts.random);
    } else if (init.mode === "seed") {
      const bad = init.peers.find((p) => !PEER_NAME.test(p));
      if (bad !== undefined || init.peers.length === 0) {
        throw new Error(
          `Invalid --ipalloc-init 'seed=${init.peers.join(",")}': list peer names like ce:31:e0:06:45:1e`,
        );
      }
      for (const l of this.#lanes) l.ring.initialise(init.peers);
    }
    for (const l of this.#lanes) consensus?.join(l.ring);
    this.#steps = new Steps({
      name: opts.name,
      lanes: this.#lanes,
      consensus,
      reclaimAfterMs: opts.reclaimAfterMs ?? DEFAULT_RECLAIM_AFTER_MS,
      now: opts.now,
      random: opts.random,
      gossip: opts.gossip,
    });
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
    this.#steps.gossiper = gossip;
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
    this.#steps.wanted = true;
    this.#steps.update();
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
    this.#steps.wanted = true;
    this.#steps.update();
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
    this.#steps.wanted = true;
    this.#steps.update();
    return this.#answer([{ lane, h: lane.held.find((h) => h.address === a)! }]);
  }

  /** Releases the addresses of container `id` (only `address` when given, with or without prefix). */
  release(id: string, address?: string): void {
    const only = address === undefined ? undefined : ipToBigInt(parseCIDR(address, 0).address);
    for (const l of this.#lanes) {
      l.held = l.held.filter((h) => h.id !== id || (only !== undefined && h.address !== only));
    }
    this.#steps.update();
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
      ring.remove(gone);
      const t = this.#steps.propose(ring, (id) => planTakeover(ring, this.name, gone, id, true));
      if (t) n += total(t.ranges);
    }
    this.#steps.update("whole");
    return n;
  }

  /** Throws when `peer` is reachable, or was less than {@link RMPEER_QUIET_MS} ago. */
  #refuseIfAlive(peer: PeerName): void {
    const stop = "stop its router first (meshnet stop, or power the host off)";
    if (this.#steps.reachable().has(peer)) {
      throw new ConflictError(
        `Cannot rmpeer ${peer}: it is reachable now and may be using its addresses; ${stop}, then retry`,
      );
    }
    const since = this.#steps.unreachableSince(peer);
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
   * reachable, what this peer wrote is broadcast again: a broadcast made before the mesh had a route to it (a
   * consensus vote right after launch) never reached it, and would otherwise wait for a retry timer. Every
   * peer does the same, so the newcomer hears each item from its writer; the whole rings went before, which
   * in a mesh launched together cost each peer N broadcasts of N peers' items. The same set again changes
   * nothing (the mesh tells every topology change; timed steps wait for {@link tick}).
   */
  setReachable(peers: Iterable<PeerName>): void {
    const change = this.#steps.setReachable(peers);
    if (change !== "same") this.#steps.update(change === "gained" ? "own" : "changes");
  }

  /**
   * Runs timed work: consensus retries, space requests, reclaim. Call every second or so.
   *
   * @returns false when it changed nothing that {@link persist} writes (an idle tick), so the caller can
   *   skip writing the state
   */
  tick(): boolean {
    this.#steps.noteAbsent();
    return this.#steps.update();
  }

  /** Status of each ring. */
  status(): RingStatus[] {
    return this.#lanes.map((l) => {
      const r = l.ring;
      const state = r.isInitialised()
        ? "ready"
        : this.#steps.consensus
        ? this.#steps.consensus.describe(r)
        : this.#opts.init.mode === "observer"
        ? "observer: waiting for another peer to initialise the ring"
        : "not initialised";
      return {
        range: r.range,
        state,
        owned: total(r.ownedBy(this.name)),
        free: r.isInitialised() ? total(freeSpace(r, this.name, l.own, "main")) : 0n,
        reserve: total(l.own.reserve),
        reserveReady: l.reserveSince !== undefined && isFinal(r, this.name, l.reserveSince),
        inUse: l.held.filter((h) => h.final).length,
        pending: l.held.filter((h) => !h.final).length,
        majority: this.#steps.reachesMajority(r),
        tokens: r.tokens().map((t) => ({
          start: r.format(t.range.start),
          end: r.format(t.range.end - 1n),
          owner: t.entry.owner,
          epoch: t.entry.epoch,
        })),
      };
    });
  }

  /** The rings, for the anti-entropy timer. */
  gossip(): GossipData | undefined {
    return new RingSet(this.#lanes.map((l) => l.ring));
  }

  /** The digest of the rings, for a new neighbour (see ring_digest.ts). */
  digest(): Uint8Array {
    return encodeDigest(this.rings());
  }

  /**
   * The digest again, for anti-entropy: each neighbour that gets it answers with what we lack or hold
   * different, so a peer pulls its repairs every round at the cost of a digest (about a tenth of the rings'
   * bytes) instead of being sent whole rings.
   */
  antiEntropyDigest(): Uint8Array {
    return this.digest();
  }

  /**
   * Answers a new neighbour's digest: per ring the skeleton with the items it lacks or has different.
   * @throws {Error} when `digest` is malformed or covers other ranges
   */
  answerDigest(_src: PeerName, digest: Uint8Array): GossipData | undefined {
    const rings = answerDigest(this.rings(), digest);
    return rings === undefined ? undefined : new RingSet(rings);
  }

  /**
   * Merges a broadcast ring set.
   * @returns the update when it changed anything here
   * @throws {Error} when it cannot be decoded or merged; nothing changes then
   */
  onGossipBroadcast(_src: PeerName, update: Uint8Array): GossipData | undefined {
    const set = RingSet.decode(update);
    return this.#merge(set) ? set : undefined;
  }

  /**
   * Merges a gossiped ring set (an answer to our digest, or anti-entropy). What was new here is not gossiped
   * on: changes travel as broadcasts, a peer that becomes reachable gets whole rings by broadcast, and a new
   * connection exchanges digests. Passing each answer on to random neighbours, each of which passed on what was
   * new to it, cost most of IPAM's bytes in a bring-up (N^4.2 at 15 → 25 peers) for items the broadcasts
   * carried anyway.
   * @returns undefined: nothing to gossip on
   * @throws {Error} when it cannot be decoded or merged; nothing changes then
   */
  onGossip(msg: Uint8Array): undefined {
    this.#merge(RingSet.decode(msg));
  }

  /** Merges `set`; true when anything changed here. */
  #merge(set: RingSet): boolean {
    if (!new RingSet(this.#lanes.map((l) => l.ring)).mergeSet(set)) return false;
    this.#lanes.forEach((l, i) => heard(l, set.rings[i]));
    this.#steps.update();
    return true;
  }

  /**
   * Answers a space request from `src` by offering part of this peer's free main space.
   * @throws {Error} when `msg` is not a valid space request
   */
  onGossipUnicast(src: PeerName, msg: Uint8Array): void {
    const req = decodeSpaceRequest(msg);
    const lane = this.#lanes.find((l) => l.ring.range === req.range);
    if (!lane || !lane.ring.isInitialised() || !this.#steps.reachesMajority(lane.ring) || src === this.name) {
      return;
    }
    if (lane.held.some((h) => h.address === undefined)) return; // short of space ourselves
    const give = planDonation(freeSpace(lane.ring, this.name, lane.own, "main"), req.within);
    if (!give) return;
    this.#steps.changeOwn(lane, (o) => o.offers.push({ range: give, to: src, since: o.version + 1 }));
    this.#steps.update("own");
  }

  /** The whole state to persist (rings and allocations); see {@link Ipam.restore}. */
  persist(): Uint8Array {
    return persistState(this.name, this.#steps);
  }

  /**
   * Rebuilds a peer from {@link Ipam.persist} output.
   * @throws {Error} when the bytes are invalid, belong to another peer, or hold other ranges
   */
  static restore(bytes: Uint8Array, opts: IpamOptions): Ipam {
    const state = decodeState(bytes, opts.name);
    const ipam = new Ipam(opts);
    restoreState(state, ipam.#steps);
    return ipam;
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
