/**
 * The IPAM ring: a CRDT over one address universe (--ipalloc-range), gossiped on channel "IPallocation".
 *
 * - Tokens map a start address to {owner, epoch, version}; a token's range runs to the next token (the last to
 *   the end of the universe). A token is changed by its owner (version + 1), or by the heir of an agreed
 *   takeover, which raises the epoch; merge keeps the higher (epoch, version).
 * - Reports, one per peer and written only by that peer (higher version wins): the addresses it has in use,
 *   its claims of hand-set addresses, its offers of space to other peers, its reserve, its acknowledgements of
 *   other peers' reports, and the takeovers it backs (see reclaim.ts).
 * - Takeovers: immutable records {victim, heir, epoch, ranges}, merged by union.
 * - Votes: each peer's consensus acceptor state (see consensus.ts), higher (promise, accepted round) wins.
 * - Founders: the peers the ring was initialised with. Two rings with different founders were initialised apart
 *   and are never merged.
 *
 * merge() is commutative, associative and idempotent. It throws, changing nothing, only for a ring of another
 * range or one initialised apart. The maps are private: others change the ring only through its methods, so
 * the ring knows when cached derived values (token ranges, owned space) go stale. The wire form is in
 * ring_wire.ts.
 *
 * @module
 */

import type { GossipData, PeerName } from "../mesh/gossip.ts";
import { PEER_NAME } from "../../base/mac.ts";
import { bigIntToIP, type Cidr, formatCIDR, formatIP, networkOf, parseCIDR, sizeOf } from "../../base/ip.ts";
import { decodeRing, ringFromWire, ringToWire } from "./ring_wire.ts";
import { cmp, normalize, type Range } from "./space.ts";

/** One token: who owns the addresses from its start to the next token. */
export interface Entry {
  /** The owning peer. */
  owner: PeerName;
  /** Raised by each takeover; a higher epoch beats any version. */
  epoch: number;
  /** Raised by each change within an epoch. */
  version: number;
}

/** Space a peer gives to another; it counts as in use by the giver until the ring shows the new owner. */
export interface Offer {
  /** The addresses given. */
  range: Range;
  /** The receiving peer. */
  to: PeerName;
  /** The giver's report version that first carried the offer; it is final once a majority acknowledged it. */
  since: number;
}

/** What one peer says about itself; only that peer writes it. */
export interface Report {
  /** Raised by each change. */
  version: number;
  /** The version at which in-use, claims, offers or reserve last changed: what acknowledgements refer to. */
  stamp: number;
  /** Addresses allocated by IPAM (final or waiting for acknowledgement), sorted. */
  inUse: bigint[];
  /** Hand-set addresses claimed so IPAM never gives them out, sorted. */
  claims: bigint[];
  /** Space being given to other peers. */
  offers: Offer[];
  /** Space kept for minority operation; automatic reclaim never takes it. Only grows. */
  reserve: Range[];
  /** Free addresses in the peer's own space, a hint for picking a donor. */
  free: bigint;
  /** The highest report stamp of each other peer this peer has checked and acknowledged. */
  acks: Record<PeerName, number>;
  /** Ids of takeovers this peer backs. */
  backs: string[];
}

/** An agreed-on move of an absent peer's space to an heir (see reclaim.ts). */
export interface Takeover {
  /** `heir/n`, unique per heir. */
  id: string;
  /** The absent peer. */
  victim: PeerName;
  /** The peer that takes the space. */
  heir: PeerName;
  /** The epoch the heir's tokens get; above every token epoch the heir knew. */
  epoch: number;
  /** The addresses taken. */
  ranges: Range[];
  /** The tokens the heir writes (all at `epoch`, version 0): the taken ranges, and the split points after them. */
  writes: { start: bigint; owner: PeerName }[];
  /** True for rmpeer: backers need not wait for --ipalloc-reclaim-after, the victim no longer votes. */
  admin: boolean;
}

/** A consensus round: ordered by number, then proposer name. */
export interface Round {
  /** Round number. */
  n: number;
  /** The proposer. */
  by: PeerName;
}

/** One peer's consensus acceptor state. */
export interface Vote {
  /** The highest round promised. */
  promise: Round;
  /** The value accepted, with its round. */
  accepted?: { round: Round; value: PeerName[] };
}

/** A peer name as the mesh writes it: 48 bits like a MAC address (defined once in base/mac.ts). */
export { PEER_NAME };

/** Compares two consensus rounds. */
export function compareRounds(a: Round, b: Round): number {
  return a.n !== b.n ? a.n - b.n : a.by < b.by ? -1 : a.by > b.by ? 1 : 0;
}

/** An empty report at version 0. */
export function emptyReport(): Report {
  return {
    version: 0,
    stamp: 0,
    inUse: [],
    claims: [],
    offers: [],
    reserve: [],
    free: 0n,
    acks: {},
    backs: [],
  };
}

/** The ring CRDT for one universe. */
export class Ring implements GossipData {
  /** The universe as parsed. */
  readonly cidr: Cidr;
  /** The universe's addresses. */
  readonly universe: Range;
  #founders: PeerName[] = [];
  readonly #removed = new Set<PeerName>();
  readonly #entries = new Map<bigint, Entry>();
  readonly #reports = new Map<PeerName, Report>();
  readonly #takeovers = new Map<string, Takeover>();
  readonly #votes = new Map<PeerName, Vote>();
  /** Raised by every change that derived values depend on (votes excepted). */
  #gen = 0;
  readonly #memos = new Map<string, { gen: number; value: unknown }>();

  /**
   * An empty ring over `range`.
   * @throws {Error} when `range` is not a CIDR, or too small to hold a subnet
   */
  constructor(range: string) {
    this.cidr = parseCIDR(range);
    const start = networkOf(this.cidr);
    this.universe = { start, end: start + sizeOf(this.cidr) };
    if (sizeOf(this.cidr) < 4n) {
      throw new Error(`Invalid IP allocation range '${range}': it must hold at least 4 addresses`);
    }
  }

  /** The universe as text, e.g. "10.32.0.0/12". */
  get range(): string {
    return formatCIDR({ ...this.cidr, address: bigIntToIP(this.universe.start, this.cidr.family) });
  }

  /** The peers the ring was initialised with, sorted; empty until initialisation. */
  get founders(): readonly PeerName[] {
    return this.#founders;
  }

  /** Peers removed by rmpeer; they no longer vote. */
  get removed(): ReadonlySet<PeerName> {
    return this.#removed;
  }

  /** Tokens by start address. */
  get entries(): ReadonlyMap<bigint, Entry> {
    return this.#entries;
  }

  /** Reports by peer; change one only with {@link Ring.setReport}. */
  get reports(): ReadonlyMap<PeerName, Report> {
    return this.#reports;
  }

  /** Takeovers by id. */
  get takeovers(): ReadonlyMap<string, Takeover> {
    return this.#takeovers;
  }

  /** Consensus votes by peer. */
  get votes(): ReadonlyMap<PeerName, Vote> {
    return this.#votes;
  }

  /** Formats an address of this universe. */
  format(a: bigint): string {
    return formatIP(bigIntToIP(a, this.cidr.family));
  }

  /** True once the ring has founders and tokens. */
  isInitialised(): boolean {
    return this.#founders.length > 0;
  }

  /**
   * Initialises the ring: the universe split in equal parts among `founders`, in name order.
   * Deterministic, so peers that decide the same founders build the same ring.
   * @throws {Error} when already initialised or `founders` is empty
   */
  initialise(founders: readonly PeerName[]): void {
    if (this.isInitialised()) throw new Error(`IP allocation ring '${this.range}' is already initialised`);
    if (founders.length === 0) {
      throw new Error(`Cannot initialise IP allocation ring '${this.range}' without peers`);
    }
    const names = [...new Set(founders)].sort();
    const size = this.universe.end - this.universe.start;
    const n = BigInt(names.length);
    names.forEach((owner, i) => {
      this.setEntry(this.universe.start + (size * BigInt(i)) / n, { owner, epoch: 0, version: 0 });
    });
    this.adoptFounders(names);
  }

  /**
   * Sets the founders of a ring initialised elsewhere (its tokens come with it); for merging and decoding.
   * Nothing changes when this ring already has founders.
   */
  adoptFounders(founders: readonly PeerName[]): void {
    if (this.isInitialised()) return;
    this.#founders = [...founders];
    this.#gen++;
  }

  /** Sets the token starting at `start`. */
  setEntry(start: bigint, entry: Entry): void {
    this.#entries.set(start, entry);
    this.#gen++;
  }

  /** Replaces the report of `peer`; the ring keeps `report`, so do not change it afterwards. */
  setReport(peer: PeerName, report: Report): void {
    this.#reports.set(peer, report);
    this.#gen++;
  }

  /** Adds (or replaces) takeover `t`, by its id. */
  addTakeover(t: Takeover): void {
    this.#takeovers.set(t.id, t);
    this.#gen++;
  }

  /** Sets the consensus vote of `peer`. */
  setVote(peer: PeerName, vote: Vote): void {
    this.#votes.set(peer, vote);
  }

  /** Marks `peer` removed by rmpeer: it no longer votes. */
  remove(peer: PeerName): void {
    if (this.#removed.has(peer)) return;
    this.#removed.add(peer);
    this.#gen++;
  }

  /**
   * The value of `fn`, computed once per ring state and `key`. Callers must not change the returned value.
   * @example ring.memo(`owned ${peer}`, () => expensive(peer))
   */
  memo<T>(key: string, fn: () => T): T {
    const hit = this.#memos.get(key);
    if (hit && hit.gen === this.#gen) return hit.value as T;
    const value = fn();
    this.#memos.set(key, { gen: this.#gen, value });
    return value;
  }

  /** Token starts in address order. */
  starts(): bigint[] {
    return this.memo("starts", () => [...this.#entries.keys()].sort(cmp));
  }

  /** The owner of address `x`, or undefined before initialisation or outside the universe. */
  ownerOf(x: bigint): PeerName | undefined {
    return this.tokens().find((t) => x >= t.range.start && x < t.range.end)?.entry.owner;
  }

  /** Every token as a range with its entry, in address order. */
  tokens(): { range: Range; entry: Entry }[] {
    return this.memo("tokens", () => {
      const starts = this.starts();
      return starts.map((s, i) => ({
        range: { start: s, end: i + 1 < starts.length ? starts[i + 1] : this.universe.end },
        entry: this.#entries.get(s)!,
      }));
    });
  }

  /** The addresses owned by `peer` according to the tokens. */
  ownedBy(peer: PeerName): Range[] {
    return this.memo(
      `owned ${peer}`,
      () => normalize(this.tokens().filter((t) => t.entry.owner === peer).map((t) => t.range)),
    );
  }

  /** The peers that vote: founders not removed by rmpeer. */
  voters(): PeerName[] {
    return this.#founders.filter((p) => !this.#removed.has(p));
  }

  /** The smallest number of voters that is a majority. */
  majority(): number {
    return Math.floor(this.voters().length / 2) + 1;
  }

  /** The highest token epoch. */
  maxEpoch(): number {
    let m = 0;
    for (const e of this.#entries.values()) m = Math.max(m, e.epoch);
    return m;
  }

  /** The report of `peer`, or an empty one. */
  report(peer: PeerName): Report {
    return this.#reports.get(peer) ?? emptyReport();
  }

  /**
   * Merges `other` into this ring and returns this.
   * @throws {Error} when `other` is not a Ring, covers another range, or was initialised apart; this ring is
   *   then unchanged
   */
  merge(other: GossipData): GossipData {
    this.mergeRing(other);
    return this;
  }

  /**
   * Throws when `other` cannot be merged into this ring; merge changes nothing then.
   * @throws {Error} as {@link Ring.merge}
   */
  checkMergeable(other: GossipData): void {
    if (!(other instanceof Ring)) {
      throw new Error("Cannot merge IP allocation ring with another kind of gossip");
    }
    if (other.range !== this.range) {
      throw new Error(
        `Cannot merge IP allocation ring: range '${this.range}' here, '${other.range}' from the peer; ` +
          "give every peer the same --ipalloc-range",
      );
    }
    if (this.isInitialised() && other.isInitialised() && this.#founders.join() !== other.founders.join()) {
      throw new Error(
        `Cannot merge IP allocation ring '${this.range}': it was initialised apart ` +
          `(founders ${this.#founders.join(",")} here, ${other.founders.join(",")} from the peer); ` +
          "run 'meshnet reset' on the peers of one side and relaunch them so they join the other side's ring",
      );
    }
  }

  /**
   * Merges `other` into this ring.
   * @returns true when anything here changed
   * @throws {Error} as {@link Ring.merge}
   */
  mergeRing(other: GossipData): boolean {
    this.checkMergeable(other);
    const o = other as Ring;
    let changed = mergeInto(this.#entries, o.entries, (a, b) => a.epoch - b.epoch || a.version - b.version);
    changed = mergeInto(this.#reports, o.reports, (a, b) => a.version - b.version) || changed;
    changed = mergeInto(this.#takeovers, o.takeovers, () => 0) || changed;
    if (changed) this.#gen++;
    changed = mergeInto(
      this.#votes,
      o.votes,
      (a, b) => compareRounds(a.promise, b.promise) || compareRounds(roundOf(a), roundOf(b)),
    ) || changed;
    for (const p of o.removed) {
      if (this.#removed.has(p)) continue;
      this.remove(p);
      changed = true;
    }
    if (!this.isInitialised() && o.isInitialised()) {
      this.adoptFounders(o.founders);
      changed = true;
    }
    return changed;
  }

  /**
   * The ring with its founders, removals and tokens only (copies): what every delta carries, since a ring is
   * valid only with all of them.
   */
  skeleton(): Ring {
    const d = new Ring(this.range);
    d.adoptFounders(this.#founders);
    for (const p of this.#removed) d.remove(p);
    for (const [k, e] of this.#entries) d.setEntry(k, { ...e });
    return d;
  }

  /** A deep copy. */
  clone(): Ring {
    return Ring.decode(this.encode()[0]);
  }

  /** The wire form: one message (JSON, addresses as decimal strings; see ring_wire.ts). */
  encode(): Uint8Array[] {
    return [new TextEncoder().encode(JSON.stringify(this.toWire()))];
  }

  /** The wire form as a plain JSON value (see {@link Ring.encode}). */
  toWire(): unknown {
    return ringToWire(this);
  }

  /**
   * Parses and strictly validates a ring's wire form.
   * @throws {Error} `Invalid IP allocation ring: …` naming the first thing wrong
   */
  static decode(bytes: Uint8Array): Ring {
    return decodeRing(bytes);
  }

  /**
   * Validates a wire value (see {@link Ring.toWire}) and builds the ring.
   * @throws {Error} `Invalid IP allocation ring: …` naming the first thing wrong
   */
  static fromWire(json: unknown): Ring {
    return ringFromWire(json);
  }
}

/** A kind of ring item that deltas and digests handle one by one, with a one-letter tag. */
export interface ItemKind {
  /** The tag. */
  tag: string;
  /** The items of this kind in `r`, by key. */
  items(r: Ring): ReadonlyMap<string, unknown>;
  /** Puts `value` into `r` under `key`. */
  put(r: Ring, key: string, value: unknown): void;
  /** The peer that wrote the item. */
  writer(key: string, value: unknown): PeerName;
}

/** Reports, takeovers and votes. */
export const ITEM_KINDS: readonly ItemKind[] = [
  { tag: "r", items: (r) => r.reports, put: (r, k, v) => r.setReport(k, v as Report), writer: (k) => k },
  {
    tag: "t",
    items: (r) => r.takeovers,
    put: (r, _k, v) => r.addTakeover(v as Takeover),
    writer: (_k, v) => (v as Takeover).heir,
  },
  { tag: "v", items: (r) => r.votes, put: (r, k, v) => r.setVote(k, v as Vote), writer: (k) => k },
];

/** The accepted round of a vote, or round 0. */
function roundOf(v: Vote): Round {
  return v.accepted?.round ?? { n: 0, by: "" };
}

/**
 * Merges two maps keeping the greater value per key. Equal rank with different content (a peer restarted from
 * stale state, or rmpeer run on two hosts) is broken by the canonical text, so merge stays a total CRDT; the
 * acknowledgement rules (reclaim.ts) keep such states from giving an address twice, and the owner of a report
 * re-asserts it at a higher version.
 */
function mergeInto<K, V>(mine: Map<K, V>, theirs: ReadonlyMap<K, V>, rank: (a: V, b: V) => number): boolean {
  let changed = false;
  for (const [k, v] of theirs) {
    const cur = mine.get(k);
    const c = cur === undefined ? 1 : rank(v, cur) || (canonical(v) > canonical(cur) ? 1 : 0);
    if (c > 0) {
      mine.set(k, structuredClone(v));
      changed = true;
    }
  }
  return changed;
}

/**
 * A canonical text of a plain value with bigints, for comparing reports and breaking ties: object keys in
 * sorted order, so equal values give equal texts whatever order their keys were set in (a report's acks are
 * set as they come in, and decoded in the wire's sorted order).
 */
export function canonical(x: unknown): string {
  return JSON.stringify(x, (_, v) => {
    if (typeof v === "bigint") return `${v}n`;
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}
