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
 * range or one initialised apart.
 *
 * @module
 */

import type { GossipData, PeerName } from "../mesh/gossip.ts";
import { PEER_NAME } from "../net/mac.ts";
import { bigIntToIP, type Cidr, formatCIDR, formatIP, networkOf, parseCIDR, sizeOf } from "../net/ip.ts";
import { MAX_ITEMS, MAX_RING_BYTES, WIRE_VERSION } from "./constants.ts";
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

/** A peer name as the mesh writes it: 48 bits like a MAC address (defined once in net/mac.ts). */
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

/** A Map that counts its changes, so derived values can be cached until the next change. */
class CountingMap<K, V> extends Map<K, V> {
  /** Raised by every set, delete and clear. */
  gen = 0;
  override set(k: K, v: V): this {
    this.gen++;
    return super.set(k, v);
  }
  override delete(k: K): boolean {
    this.gen++;
    return super.delete(k);
  }
  override clear(): void {
    this.gen++;
    super.clear();
  }
}

/** The ring CRDT for one universe. */
export class Ring implements GossipData {
  /** The universe as parsed. */
  readonly cidr: Cidr;
  /** The universe's addresses. */
  readonly universe: Range;
  /** The peers the ring was initialised with, sorted; empty until initialisation. */
  founders: PeerName[] = [];
  /** Peers removed by rmpeer; they no longer vote. */
  readonly removed = new Set<PeerName>();
  /** Tokens by start address. */
  readonly entries: Map<bigint, Entry> = new CountingMap();
  /** Reports by peer; replace a report with set(), never change one in place. */
  readonly reports: Map<PeerName, Report> = new CountingMap();
  /** Takeovers by id. */
  readonly takeovers: Map<string, Takeover> = new CountingMap();
  /** Consensus votes by peer. */
  readonly votes: Map<PeerName, Vote> = new CountingMap();
  private readonly memos = new Map<string, { gen: string; value: unknown }>();

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

  /** Formats an address of this universe. */
  format(a: bigint): string {
    return formatIP(bigIntToIP(a, this.cidr.family));
  }

  /** True once the ring has founders and tokens. */
  isInitialised(): boolean {
    return this.founders.length > 0;
  }

  /**
   * Initialises the ring: the universe split in equal parts among `founders`, in name order.
   * Deterministic, so peers that decide the same founders build the same ring.
   * @throws {Error} when already initialised or `founders` is empty
   */
  initialise(founders: PeerName[]): void {
    if (this.isInitialised()) throw new Error(`IP allocation ring '${this.range}' is already initialised`);
    if (founders.length === 0) {
      throw new Error(`Cannot initialise IP allocation ring '${this.range}' without peers`);
    }
    const names = [...new Set(founders)].sort();
    const size = this.universe.end - this.universe.start;
    const n = BigInt(names.length);
    names.forEach((owner, i) => {
      this.entries.set(this.universe.start + (size * BigInt(i)) / n, { owner, epoch: 0, version: 0 });
    });
    this.founders = names;
  }

  /** A token of the ring's current state: changes whenever any part of the ring changes. */
  private generation(): string {
    const g = (m: Map<unknown, unknown>) => (m as CountingMap<unknown, unknown>).gen;
    return `${g(this.entries)}.${g(this.reports)}.${
      g(this.takeovers)
    }.${this.removed.size}.${this.founders.length}`;
  }

  /**
   * The value of `fn`, computed once per ring state and `key`. Callers must not change the returned value.
   * @example ring.memo(`owned ${peer}`, () => expensive(peer))
   */
  memo<T>(key: string, fn: () => T): T {
    const gen = this.generation();
    const hit = this.memos.get(key);
    if (hit && hit.gen === gen) return hit.value as T;
    const value = fn();
    this.memos.set(key, { gen, value });
    return value;
  }

  /** Token starts in address order. */
  starts(): bigint[] {
    return this.memo("starts", () => [...this.entries.keys()].sort(cmp));
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
        entry: this.entries.get(s)!,
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
    return this.founders.filter((p) => !this.removed.has(p));
  }

  /** The smallest number of voters that is a majority. */
  majority(): number {
    return Math.floor(this.voters().length / 2) + 1;
  }

  /** The highest token epoch. */
  maxEpoch(): number {
    let m = 0;
    for (const e of this.entries.values()) m = Math.max(m, e.epoch);
    return m;
  }

  /** The report of `peer`, or an empty one. */
  report(peer: PeerName): Report {
    return this.reports.get(peer) ?? emptyReport();
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
    if (this.isInitialised() && other.isInitialised() && this.founders.join() !== other.founders.join()) {
      throw new Error(
        `Cannot merge IP allocation ring '${this.range}': it was initialised apart ` +
          `(founders ${this.founders.join(",")} here, ${other.founders.join(",")} from the peer); ` +
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
    let changed = mergeInto(this.entries, o.entries, (a, b) => a.epoch - b.epoch || a.version - b.version);
    changed = mergeInto(this.reports, o.reports, (a, b) => a.version - b.version) || changed;
    changed = mergeInto(this.takeovers, o.takeovers, () => 0) || changed;
    changed = mergeInto(
      this.votes,
      o.votes,
      (a, b) => compareRounds(a.promise, b.promise) || compareRounds(roundOf(a), roundOf(b)),
    ) || changed;
    for (const p of o.removed) {
      if (this.removed.has(p)) continue;
      this.removed.add(p);
      changed = true;
    }
    if (!this.isInitialised() && o.isInitialised()) {
      this.founders = [...o.founders];
      changed = true;
    }
    return changed;
  }

  /** A deep copy. */
  clone(): Ring {
    return Ring.decode(this.encode()[0]);
  }

  /** The wire form: one message (JSON, addresses as decimal strings). */
  encode(): Uint8Array[] {
    return [new TextEncoder().encode(JSON.stringify(this.toWire()))];
  }

  /** The wire form as a plain JSON value (see {@link Ring.encode}). */
  toWire(): unknown {
    const addrs = (xs: bigint[]) => xs.map(String);
    const ranges = (rs: Range[]) => rs.map((r) => [String(r.start), String(r.end)]);
    const wire = {
      v: WIRE_VERSION,
      range: this.range,
      founders: this.founders,
      removed: [...this.removed].sort(),
      entries: this.starts().map((s) => {
        const e = this.entries.get(s)!;
        return [String(s), e.owner, e.epoch, e.version];
      }),
      reports: [...this.reports.keys()].sort().map((p) => {
        const r = this.reports.get(p)!;
        return {
          peer: p,
          version: r.version,
          stamp: r.stamp,
          inUse: addrs(r.inUse),
          claims: addrs(r.claims),
          offers: r.offers.map((o) => [String(o.range.start), String(o.range.end), o.to, o.since]),
          reserve: ranges(r.reserve),
          free: String(r.free),
          acks: Object.keys(r.acks).sort().map((k) => [k, r.acks[k]]),
          backs: [...r.backs].sort(),
        };
      }),
      takeovers: [...this.takeovers.keys()].sort().map((id) => {
        const t = this.takeovers.get(id)!;
        const writes = t.writes.map((w) => [String(w.start), w.owner]);
        return {
          id,
          victim: t.victim,
          heir: t.heir,
          epoch: t.epoch,
          ranges: ranges(t.ranges),
          writes,
          admin: t.admin,
        };
      }),
      votes: [...this.votes.keys()].sort().map((p) => {
        const v = this.votes.get(p)!;
        return [
          p,
          v.promise.n,
          v.promise.by,
          v.accepted ? [v.accepted.round.n, v.accepted.round.by, v.accepted.value] : null,
        ];
      }),
    };
    return wire;
  }

  /**
   * Parses and strictly validates a ring's wire form.
   * @throws {Error} `Invalid IP allocation ring: …` naming the first thing wrong
   */
  static decode(bytes: Uint8Array): Ring {
    return Ring.fromWire(parseWire(bytes));
  }

  /**
   * Validates a wire value (see {@link Ring.toWire}) and builds the ring.
   * @throws {Error} `Invalid IP allocation ring: …` naming the first thing wrong
   */
  static fromWire(json: unknown): Ring {
    return new Decoder().ring(json);
  }
}

/**
 * Parses the JSON of a wire message, refusing oversized input.
 * @throws {Error} `Invalid IP allocation ring: …` when too large or not JSON
 */
export function parseWire(bytes: Uint8Array): unknown {
  if (bytes.length > MAX_RING_BYTES) {
    throw new Error(`Invalid IP allocation ring: ${bytes.length} bytes, at most ${MAX_RING_BYTES} allowed`);
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`Invalid IP allocation ring: not JSON (${(e as Error).message})`);
  }
}

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
function mergeInto<K, V>(mine: Map<K, V>, theirs: Map<K, V>, rank: (a: V, b: V) => number): boolean {
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

/** A canonical text of a plain value with bigints, for comparing reports and breaking ties. */
export function canonical(x: unknown): string {
  return JSON.stringify(x, (_, v) => typeof v === "bigint" ? `${v}n` : v);
}

/** Strict validation of the decoded JSON, building a Ring. */
class Decoder {
  private ringOf?: Ring;

  /** Decodes the top-level object. */
  ring(j: unknown): Ring {
    const o = this.object(j, "ring");
    if (o.v !== WIRE_VERSION) this.fail(`wire version '${o.v}', expected ${WIRE_VERSION}`);
    if (typeof o.range !== "string") this.fail("range is missing");
    let ring: Ring;
    try {
      ring = new Ring(o.range as string);
    } catch (e) {
      return this.fail((e as Error).message);
    }
    if (ring.range !== o.range) this.fail(`range '${o.range}' has host bits set`);
    this.ringOf = ring;
    ring.founders = this.list(o.founders, "founders").map((p) => this.peer(p));
    if (ring.founders.join() !== [...new Set(ring.founders)].sort().join()) {
      this.fail("founders are not sorted and unique");
    }
    for (const p of this.list(o.removed, "removed")) ring.removed.add(this.peer(p));
    for (const e of this.list(o.entries, "entries")) {
      const [s, owner, epoch, version] = this.tuple(e, 4, "entry");
      const start = this.addr(s);
      if (ring.entries.has(start)) this.fail(`token ${ring.format(start)} appears twice`);
      ring.entries.set(start, {
        owner: this.peer(owner),
        epoch: this.count(epoch),
        version: this.count(version),
      });
    }
    if (ring.isInitialised() !== ring.entries.has(ring.universe.start)) {
      this.fail("an initialised ring needs a token at the start of its range, an empty ring none");
    }
    if (!ring.isInitialised() && ring.entries.size > 0) this.fail("tokens without founders");
    for (const r of this.list(o.reports, "reports")) {
      const ro = this.object(r, "report");
      const peer = this.peer(ro.peer);
      if (ring.reports.has(peer)) this.fail(`report of ${peer} appears twice`);
      const acks: Record<PeerName, number> = {};
      for (const a of this.list(ro.acks, "acks")) {
        const [p, v] = this.tuple(a, 2, "ack");
        acks[this.peer(p)] = this.count(v);
      }
      const version = this.count(ro.version), stamp = this.count(ro.stamp);
      if (stamp > version) this.fail(`report of ${peer} has stamp ${stamp} above its version ${version}`);
      ring.reports.set(peer, {
        version,
        stamp,
        inUse: this.addrs(ro.inUse),
        claims: this.addrs(ro.claims),
        offers: this.list(ro.offers, "offers").map((x) => {
          const [s, e, to, since] = this.tuple(x, 4, "offer");
          return { range: this.range([s, e]), to: this.peer(to), since: this.count(since) };
        }),
        reserve: this.ranges(ro.reserve),
        free: this.bigCount(ro.free),
        acks,
        backs: this.list(ro.backs, "backs").map((b) => this.id(b)),
      });
    }
    for (const t of this.list(o.takeovers, "takeovers")) {
      const to = this.object(t, "takeover");
      const id = this.id(to.id);
      if (ring.takeovers.has(id)) this.fail(`takeover ${id} appears twice`);
      const heir = this.peer(to.heir);
      if (!id.startsWith(`${heir}/`)) this.fail(`takeover '${id}' is not named after its heir ${heir}`);
      const ranges = this.ranges(to.ranges);
      if (ranges.length === 0) this.fail(`takeover '${id}' takes nothing`);
      const writes = this.list(to.writes, "writes").map((w) => {
        const [s, owner] = this.tuple(w, 2, "write");
        return { start: this.addr(s), owner: this.peer(owner) };
      });
      const victim = this.peer(to.victim);
      if (victim === heir) this.fail(`takeover '${id}' has the same victim and heir`);
      if (typeof to.admin !== "boolean") this.fail(`takeover '${id}' lacks admin`);
      ring.takeovers.set(id, {
        id,
        victim,
        heir,
        epoch: this.count(to.epoch),
        ranges,
        writes,
        admin: to.admin,
      });
    }
    for (const v of this.list(o.votes, "votes")) {
      const [p, n, by, acc] = this.tuple(v, 4, "vote");
      const vote: Vote = { promise: { n: this.count(n), by: by === "" ? "" : this.peer(by) } };
      if (acc !== null) {
        const [an, aby, value] = this.tuple(acc, 3, "accepted value");
        vote.accepted = {
          round: { n: this.count(an), by: this.peer(aby) },
          value: this.list(value, "accepted value").map((x) => this.peer(x)),
        };
        if (compareRounds(vote.accepted.round, vote.promise) > 0) {
          this.fail("a vote accepted above its promise");
        }
      }
      ring.votes.set(this.peer(p), vote);
    }
    return ring;
  }

  private fail(msg: string): never {
    throw new Error(`Invalid IP allocation ring: ${msg}`);
  }

  private object(j: unknown, what: string): Record<string, unknown> {
    if (typeof j !== "object" || j === null || Array.isArray(j)) this.fail(`${what} is not an object`);
    return j as Record<string, unknown>;
  }

  private list(j: unknown, what: string): unknown[] {
    if (!Array.isArray(j)) this.fail(`${what} is not a list`);
    if (j.length > MAX_ITEMS) this.fail(`${what} has ${j.length} items, at most ${MAX_ITEMS} allowed`);
    return j;
  }

  private tuple(j: unknown, n: number, what: string): unknown[] {
    const l = this.list(j, what);
    if (l.length !== n) this.fail(`${what} has ${l.length} fields, expected ${n}`);
    return l;
  }

  private peer(j: unknown): PeerName {
    if (typeof j !== "string" || !PEER_NAME.test(j)) {
      this.fail(`peer name '${String(j)}' is not like ce:31:e0:06:45:1e`);
    }
    return j;
  }

  private id(j: unknown): string {
    if (typeof j !== "string" || !/^[0-9a-f:]{17}\/\d{1,9}$/.test(j)) {
      this.fail(`takeover id '${String(j)}' is malformed`);
    }
    return j;
  }

  private count(j: unknown): number {
    if (typeof j !== "number" || !Number.isSafeInteger(j) || j < 0) {
      this.fail(`'${String(j)}' is not a count`);
    }
    return j;
  }

  private bigCount(j: unknown): bigint {
    if (typeof j !== "string" || !/^(0|[1-9]\d{0,40})$/.test(j)) this.fail(`'${String(j)}' is not a count`);
    return BigInt(j);
  }

  private addr(j: unknown): bigint {
    const u = this.ringOf!.universe;
    const a = this.bigCount(j);
    if (a < u.start || a >= u.end) this.fail(`address ${j} is outside the range`);
    return a;
  }

  private addrs(j: unknown): bigint[] {
    const xs = this.list(j, "addresses").map((x) => this.addr(x));
    for (let i = 1; i < xs.length; i++) {
      if (xs[i] <= xs[i - 1]) this.fail("addresses are not sorted and unique");
    }
    return xs;
  }

  private range(j: unknown): Range {
    const [s, e] = this.tuple(j, 2, "range");
    const start = this.addr(s), end = this.bigCount(e);
    if (end <= start || end > this.ringOf!.universe.end) {
      this.fail(`range ${s}–${e} is empty or leaves the range`);
    }
    return { start, end };
  }

  private ranges(j: unknown): Range[] {
    return normalize(this.list(j, "ranges").map((r) => this.range(r)));
  }
}
