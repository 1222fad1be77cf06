/**
 * The topology channel's {@link Gossiper}: owns the {@link Peers} table including our own entry, which
 * only we change. Every local connection change bumps our version and records which entries an update
 * must carry (ours and the neighbour's); the mesh sends them after a short deferral.
 *
 * Entries that were new here (or became reachable) are not passed on at once: their names are collected and
 * go out with the next update, at their current version, at most one relay deferral later. During a bring-up
 * an entry changes many times in a short while; a peer then passes each entry on about once per deferral,
 * in its newest version, instead of once per version it received (each of which costs the entry's whole
 * connection list, to every neighbour, at every peer). Our own changes go to every direct neighbour, so an
 * entry is relayed only to neighbours not linked to its owner either way (see {@link Topology.linked}): in a
 * full mesh every change reaches every peer once, straight from its owner; nor to a neighbour known to hold
 * it at that version or newer; and of the peers that could pass it to a neighbour, only the designated
 * ones do (see {@link Topology.designated}).
 *
 * A new neighbour gets our digest (name, uid and version per entry), not our table; we answer its digest with
 * our entry, and the entries of others it lacks or holds older go with our next update, but for those of peers
 * linked to it by then, and of the others only those we are designated to pass on to it: in a mesh forming, a
 * peer connects to many at once and each would otherwise send it the same entries (N introductions of N
 * entries of N connections each; measured with 40 routers, a fifth of all topology bytes). Until we have
 * answered its digest, a new neighbour gets no update: we would not know what it holds, and every entry
 * would go whole. Anti-entropy sends a digest too: its
 * receiver answers with every entry the sender lacks or holds older but for those of peers linked to it (they
 * send it their changes themselves, over a connection that loses nothing, and answered its digest when it
 * came up), and requests what the sender holds newer.
 *
 * Entries travel as field-level deltas wherever we know a version the receiver holds (it sent or listed it,
 * or we sent it; see entry_log.ts and topology_wire.ts): only the connections touched since then. A receiver
 * that cannot apply a delta (it lacks the base) requests the entry with a request digest and gets it whole
 * or as a delta from what it holds; it asks one neighbour at a time, not every neighbour whose update names
 * the entry (in a mesh forming, many do within moments, and each answer would be the whole entry). In a full
 * mesh a peer's entry is ∝ N bytes and changes about 2N times during a bring-up; sent whole, each change
 * cost N, sent as deltas each costs what it changed.
 *
 * While a local change is unsent, passing new entries on takes our entry along: a new neighbour's entry
 * would otherwise reach peers long before our connection to it and be collected there as unreachable.
 *
 * An update that carries our own name at a version at least ours (an older incarnation of us before a
 * restart, or a forged entry) is never merged; instead we bump our version past it so our entry wins.
 *
 * @module
 */

import type { DigestGossiper, PeerName } from "./gossip.ts";
import type { AnsweringGossiper } from "./gossip_channel.ts";
import { comparePeers, type Peer, type PeerConnection, sortConnections } from "./peer.ts";
import { Peers } from "./peers.ts";
import { EntryLogs } from "./entry_log.ts";
import { TOPOLOGY_RELAY_COPIES, TOPOLOGY_REQUEST_RETRY_MS } from "./constants.ts";
import {
  applyDelta,
  decodeDigest,
  type DigestItem,
  DigestKind,
  encodeDigest,
  TopologyUpdate,
} from "./topology_wire.ts";

/** What a neighbour holds of an entry, as far as we know. */
export interface Held {
  readonly uid: bigint;
  readonly version: number;
}

/** A hash of (owner, hop, relayer) ordering the relayers of one pair (FNV-1a, 32 bits). */
function rank(owner: PeerName, hop: PeerName, relayer: PeerName): number {
  let h = 0x811c9dc5;
  for (const s of [owner, hop, relayer]) {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0x7c, 0x01000193);
  }
  return h >>> 0;
}

/** Whether `a` (version, uid) beats `b`, as {@link comparePeers} orders them. */
function beats(a: Held, b: Held): boolean {
  return a.version > b.version || (a.version === b.version && a.uid > b.uid);
}

/** What the handshake tells us about a new neighbour. */
export interface NeighbourInfo {
  readonly name: PeerName;
  readonly nickname: string;
  readonly uid: bigint;
  /** The neighbour's TCP address as "host:port". */
  readonly address: string;
  /** True when we dialled it. */
  readonly outbound: boolean;
}

/** Callbacks from {@link Topology} to the mesh. */
export interface TopologyEvents {
  /** The table changed: routes need recalculating. */
  changed(): void;
  /** Our own entry changed: an update needs sending. */
  selfChanged(): void;
  /** Entries new here wait to be passed on: send an update within the relay deferral. */
  relayPending(): void;
}

/** The topology table with our own entry, as the topology channel's gossiper. */
export class Topology implements AnsweringGossiper, DigestGossiper {
  /** The table; entries other than ours change only by merging. */
  readonly peers: Peers;
  readonly #us: PeerName;
  readonly #events: TopologyEvents;
  /** Neighbours whose entries the next update carries for a local change; ours goes along when non-empty. */
  #update = new Set<PeerName>();
  /** Our entry changed since the last update. */
  #selfDirty = false;
  /** Entries that were new here, to pass on with the next update. */
  #relay = new Set<PeerName>();
  /**
   * Per neighbour, the entry versions it holds as far as we know: it sent or listed them, or we sent them.
   * No need to relay them; deltas from them are enough.
   */
  readonly #holds = new Map<PeerName, Map<PeerName, Held>>();
  /** Per entry changed here since the last update, the version we held before: a guess of what others hold. */
  #before = new Map<PeerName, Held>();
  /** Per peer, the peers it reports connections to; built on demand, dropped on every change. */
  #reports?: Map<PeerName, Set<PeerName>>;
  /** Which connections of each entry changed when, for deltas. */
  readonly #logs = new EntryLogs();
  /** The uid each direct neighbour's handshake gave: its live incarnation. */
  readonly #neighbourUids = new Map<PeerName, bigint>();
  /** Direct neighbours whose digest we answered: we know what they hold. */
  readonly #introduced = new Set<PeerName>();
  readonly #now: () => number;
  /**
   * Entries we requested, with when: in a mesh forming, many neighbours name a peer we do not know yet within
   * the same moment, and each would otherwise be asked for its whole entry.
   */
  readonly #requested = new Map<PeerName, number>();
  /** Per neighbour, entries of others its introduction lacked: they go with the next update (see {@link takeOwed}). */
  readonly #owed = new Map<PeerName, Set<PeerName>>();

  /**
   * @param self our identity; our entry starts at version 1 with no connections
   * @param now the clock (ms) that spaces out requests for the same entry
   */
  constructor(
    self: { name: PeerName; nickname: string; uid: bigint },
    events: TopologyEvents,
    now: () => number = Date.now,
  ) {
    this.#us = self.name;
    this.#events = events;
    this.#now = now;
    this.peers = new Peers([{
      name: self.name,
      nickname: self.nickname,
      uid: self.uid,
      version: 1,
      connections: [],
    }]);
    this.#logs.reset({ ...this.self, version: 0 });
  }

  /** Our own entry. */
  get self(): Peer {
    return this.peers.get(this.#us)!;
  }

  /**
   * Records a new connection to a neighbour; makes a version-0 entry for it when it is unknown or restarted.
   * @throws {Error} when `n` is ourselves or already connected
   */
  addConnection(n: NeighbourInfo): void {
    if (n.name === this.#us) throw new Error(`Cannot add connection to '${n.name}': that is our own name`);
    if (this.#connection(n.name) !== undefined) {
      throw new Error(
        `Cannot add connection to '${n.name}': already connected; remove the old connection first`,
      );
    }
    const known = this.peers.get(n.name);
    if (known === undefined || known.uid !== n.uid) {
      const p = { name: n.name, nickname: n.nickname, uid: n.uid, version: 0, connections: [] };
      this.#set(p);
      this.#logs.reset(p);
    }
    this.#neighbourUids.set(n.name, n.uid);
    const c = { name: n.name, address: n.address, outbound: n.outbound, established: false };
    this.#setConnections(n.name, sortConnections([...this.self.connections, c]), false);
  }

  /**
   * Marks the connection to `name` established (its data-plane path works both ways).
   * @throws {Error} when there is no connection to `name`
   */
  establishConnection(name: PeerName): void {
    const c = this.#existing(name, "establish");
    if (c.established) return;
    this.#setConnections(
      name,
      this.self.connections.map((x) => (x === c ? { ...c, established: true } : x)),
      false,
    );
  }

  /**
   * Forgets the connection to `name`.
   * @throws {Error} when there is no connection to `name`
   */
  removeConnection(name: PeerName): void {
    this.#existing(name, "remove");
    this.#holds.delete(name);
    this.#neighbourUids.delete(name);
    this.#introduced.delete(name);
    this.#owed.delete(name);
    this.#setConnections(name, this.self.connections.filter((x) => x.name !== name), true);
  }

  /**
   * Whether `p` is an entry of a direct neighbour's earlier incarnation (another uid than its handshake gave):
   * when it wins here (same version, higher uid) it must go to that neighbour, which then outbids it.
   */
  staleIncarnation(p: Peer): boolean {
    const uid = this.#neighbourUids.get(p.name);
    return uid !== undefined && uid !== p.uid;
  }

  /**
   * Whether we answered a digest of neighbour `name` on its current connection. Until then updates skip it:
   * the answer to its introduction carries what it lacks at that moment, each entry as a delta from the
   * version it lists, while an update sent before would go whole (we do not know what it holds).
   */
  introduced(name: PeerName): boolean {
    return this.#introduced.has(name);
  }

  /** Whether we have a connection to `name`. */
  connected(name: PeerName): boolean {
    return this.#connection(name) !== undefined;
  }

  /**
   * What to send since the last call, at the current versions: `own` is our entry with the neighbours' a local
   * change named (for every direct neighbour), `relay` the other entries that were new here (for peers their
   * owners cannot tell directly); each undefined when empty.
   */
  takeUpdate(): { own?: Peers; relay?: Peers; before: ReadonlyMap<PeerName, Held> } {
    const own = this.#selfDirty || this.#update.size > 0 ? [this.#us] : [];
    const relay = [...this.#update, ...this.#relay].filter((n) => n !== this.#us);
    this.#update = new Set();
    this.#relay = new Set();
    this.#selfDirty = false;
    const before = this.#before;
    this.#before = new Map();
    const entries = (names: Iterable<PeerName>) => {
      const ps = [...names].map((n) => this.peers.get(n as PeerName)).filter((p): p is Peer =>
        p !== undefined
      );
      return ps.length > 0 ? new Peers(ps) : undefined;
    };
    return { own: entries(own), relay: entries(relay), before };
  }

  /**
   * The entries of others that neighbour `n`'s introduction lacked, at their current versions, forgotten here.
   * They go with the next update rather than in the answer: in a mesh forming, a peer connects to many at
   * once, and each would answer with the same entries; by the next update the views show which of them
   * are linked to `n` (and tell it themselves) and which one is designated to pass the others on.
   */
  takeOwed(n: PeerName): Peer[] {
    const owed = this.#owed.get(n);
    if (owed === undefined) return [];
    this.#owed.delete(n);
    return [...owed].map((name) => this.peers.get(name)).filter((p): p is Peer => p !== undefined);
  }

  /**
   * Of `entries` new here or owed to neighbour `hop`, those to pass on to it: not placeholders (version 0);
   * not its own entry, unless it is of an earlier incarnation (it then outbids it); not of peers linked to it
   * (they tell it themselves); and only where we are designated (see {@link designated}).
   */
  toPassOn(hop: PeerName, entries: Iterable<Peer>): Peer[] {
    return [...entries].filter((p) =>
      p.version > 0 &&
      (p.name === hop
        ? this.staleIncarnation(p)
        : !this.linked(p.name, hop) && this.designated(p.name, hop, TOPOLOGY_RELAY_COPIES))
    );
  }

  /**
   * Whether neighbour `n` holds entry `p` at its version or newer, as far as we know (it sent or listed it,
   * or we sent it): then nobody needs to relay it there.
   */
  holds(n: PeerName, p: Peer): boolean {
    const h = this.#holds.get(n)?.get(p.name);
    return h !== undefined && h.uid === p.uid && h.version >= p.version;
  }

  /**
   * Whether `a` or `b` reports a connection to the other: then `a` sends its changes to `b` itself (its own
   * updates go to every neighbour it reports, and it answers the digest of each new one), and nobody needs
   * to relay them there.
   */
  linked(a: PeerName, b: PeerName): boolean {
    const has = (x: PeerName, y: PeerName) =>
      this.peers.get(x)?.connections.some((c) => c.name === y) ?? false;
    return has(a, b) || has(b, a);
  }

  /**
   * What to send neighbour `n` of `entries`: each it does not hold, as a delta from the version it holds
   * where we can make one, else whole; undefined when it holds them all. Records that it holds them then.
   *
   * @param guess for entries we do not know `n` to hold at all, a version it likely holds (what we held
   *   before the latest changes, see {@link takeUpdate}): a delta from it goes instead, and a neighbour that
   *   holds less requests the entry
   */
  updateFor(
    n: PeerName,
    entries: Iterable<Peer>,
    guess?: ReadonlyMap<PeerName, Held>,
  ): TopologyUpdate | undefined {
    const full: Peer[] = [];
    const deltas = [];
    let held = this.#holds.get(n);
    if (held === undefined) this.#holds.set(n, held = new Map());
    for (const p of entries) {
      const h = held.get(p.name);
      if (h !== undefined && h.uid === p.uid && h.version >= p.version) continue;
      const base = h ?? guess?.get(p.name);
      const d = base === undefined ? undefined : this.#logs.deltaSince(p, base.uid, base.version);
      if (d !== undefined) deltas.push(d);
      else full.push(p);
      held.set(p.name, { uid: p.uid, version: p.version });
    }
    return full.length > 0 || deltas.length > 0 ? new TopologyUpdate(full, deltas) : undefined;
  }

  /**
   * Whether we are one of the `k` peers designated to pass `owner`'s changes on to our neighbour `hop`: of
   * us and the peers `owner` reports that report `hop` (they hear its changes from it and can tell `hop`), the
   * `k` first in an order fixed per pair by a hash; all of them while they are fewer than 2·`k`. Peers that
   * see the same links designate the same `k`, so in a dense mesh each change reaches an unlinked peer about
   * `k` times rather than once per common neighbour; in a sparse mesh, where views that disagree (after a
   * heal) could leave a change with no designated peer that passes it on, every one does.
   */
  designated(owner: PeerName, hop: PeerName, k: number): boolean {
    const reports = this.#reports ??= new Map(
      this.peers.list().map((p) => [p.name, new Set(p.connections.map((c) => c.name))]),
    );
    const mine = rank(owner, hop, this.#us);
    let ahead = 0, others = 0;
    for (const c of this.peers.get(owner)?.connections ?? []) {
      if (c.name === this.#us || c.name === hop || !reports.get(c.name)?.has(hop)) continue;
      others++;
      if (rank(owner, hop, c.name) < mine) ahead++;
    }
    return ahead < k || others < 2 * k;
  }

  /** Removes every peer not reachable from us (see {@link Peers.garbageCollect}); returns them. */
  collect(): Peer[] {
    this.#reports = undefined;
    return this.peers.garbageCollect(this.#us, (p) => this.#logs.drop(p.name));
  }

  /** Applies a unicast update (unused by the protocol, accepted like neighbour gossip). */
  onGossipUnicast(_src: PeerName, msg: Uint8Array): void {
    this.#apply(TopologyUpdate.decode(msg));
  }

  /** Applies a broadcast update; what was new goes out with the next update (see {@link takeUpdate}). */
  onGossipBroadcast(_src: PeerName, update: Uint8Array): undefined {
    this.#apply(TopologyUpdate.decode(update));
  }

  /** The digest of the table, for a new neighbour (see {@link Peers.digest}). */
  digest(): Uint8Array {
    return this.peers.digest();
  }

  /** The digest of the table for anti-entropy: its receiver answers and requests (see {@link onDigestAnswering}). */
  antiEntropyDigest(): Uint8Array {
    return encodeDigest(this.peers.list(), DigestKind.antiEntropy);
  }

  /**
   * Answers neighbour `src`'s digest (see {@link onDigestAnswering}) with what it lacks.
   * @throws {Error} when `digest` cannot be decoded
   */
  answerDigest(src: PeerName, digest: Uint8Array): TopologyUpdate | undefined {
    return this.onDigestAnswering(src, digest).answer;
  }

  /**
   * Answers neighbour `src`'s digest by its kind. A new neighbour's (introduce): ours if it lacks it or holds
   * it older; the others it lacks or holds older are owed to it (see {@link takeOwed}), and its own when ours
   * is of an earlier incarnation (it then outbids it). Anti-entropy: every entry it lacks or holds older but
   * for those of peers linked to it, ours always, and a request for those it holds newer or we lack. A request: the
   * entries listed that we hold newer. Entries go as deltas from the versions listed where we can make them.
   * @throws {Error} when `digest` cannot be decoded
   */
  onDigestAnswering(src: PeerName, digest: Uint8Array): { answer?: TopologyUpdate; request?: Uint8Array } {
    const { kind, items } = decodeDigest(digest);
    if (this.connected(src)) this.#introduced.add(src);
    let held = this.#holds.get(src);
    if (held === undefined || kind === DigestKind.introduce) this.#holds.set(src, held = new Map());
    const listed = new Map<PeerName, DigestItem>();
    for (const i of items) {
      listed.set(i.name, i);
      if (i.version > 0 || kind !== DigestKind.request) held.set(i.name, { uid: i.uid, version: i.version });
      else held.delete(i.name);
    }
    const mine = listed.get(this.#us);
    if (mine !== undefined && beats(mine, this.self)) this.#outbid(mine.version);
    const lacks = (p: Peer) => {
      const i = listed.get(p.name);
      return i === undefined || beats(p, i) || (kind === DigestKind.request && i.version === 0);
    };
    let send: Peer[];
    if (kind === DigestKind.request) {
      send = items.map((i) => this.peers.get(i.name)).filter((p): p is Peer => p !== undefined && lacks(p));
    } else if (kind === DigestKind.introduce) {
      send = lacks(this.self) ? [this.self] : [];
      const owed = this.peers.list().filter((p) =>
        p.name !== this.#us && lacks(p) && (p.name !== src || this.staleIncarnation(p))
      );
      if (owed.length > 0) {
        this.#owed.set(src, new Set(owed.map((p) => p.name)));
        this.#events.relayPending();
      }
    } else {
      send = this.peers.list().filter((p) =>
        lacks(p) && p.name !== src && (p.name === this.#us || !this.linked(p.name, src))
      );
    }
    const answer = this.updateFor(src, send);
    if (kind !== DigestKind.antiEntropy) return { answer };
    const need = items.filter((i) => {
      if (i.name === this.#us) return false;
      const cur = this.peers.get(i.name);
      return cur === undefined || beats(i, cur);
    }).map((i) => this.#holding(i.name));
    return { answer, request: need.length > 0 ? encodeDigest(need, DigestKind.request) : undefined };
  }

  /** A snapshot of the whole table. */
  gossip(): Peers {
    return new Peers(this.peers.list());
  }

  /** Applies neighbour gossip; what was new goes out with the next update (see {@link takeUpdate}). */
  onGossip(msg: Uint8Array): undefined {
    this.#apply(TopologyUpdate.decode(msg));
  }

  /**
   * Applies neighbour gossip like {@link Topology.onGossip}; returns the answer for the sender: our entries
   * newer than those it sent, with the entries of peers that ours name in connections touched since its
   * versions (it may not know them), unless it sent them or we know it holds them (any version: it hears of
   * their changes like of any other's); and a request for the entries of deltas we could
   * not apply (we lack their base).
   * @throws {Error} when `msg` cannot be decoded
   */
  onGossipAnswering(src: PeerName, msg: Uint8Array): { answer?: TopologyUpdate; request?: Uint8Array } {
    const update = TopologyUpdate.decode(msg);
    const sent = new Map<PeerName, Held>();
    for (const p of update.full) sent.set(p.name, p);
    for (const d of update.deltas) sent.set(d.name, d);
    for (const [name, h] of sent) this.#held(src, name, h);
    const need = this.#unrequested(this.#apply(update));
    const request = need.length > 0 ? encodeDigest(need, DigestKind.request) : undefined;
    const newer: Peer[] = [];
    for (const [name, h] of sent) {
      const cur = this.peers.get(name);
      if (cur === undefined || !beats(cur, h)) continue;
      // A linked owner tells the sender its changes itself, but not those of another incarnation: an entry of
      // a restarted peer that loses to ours (same version, lower uid) must reach it, so that it outbids it.
      if (name === this.#us ? this.#selfDirty : this.linked(name, src) && cur.uid === h.uid) continue;
      newer.push(cur);
    }
    const fulls = new Map(update.full.map((p) => [p.name, p]));
    for (const p of update.full) {
      const cur = this.peers.get(p.name);
      if (cur !== undefined && cur.version === p.version && cur.uid === p.uid && comparePeers(cur, p) > 0) {
        if (!newer.includes(cur)) newer.push(cur);
      }
    }
    if (newer.length === 0) return request === undefined ? {} : { request };
    const named = newer.flatMap((p) => {
      const stale = fulls.get(p.name);
      const h = sent.get(p.name)!;
      const touched = stale !== undefined
        ? p.connections.filter((c) => !stale.connections.some((s) => s.name === c.name))
        : this.#logs.deltaSince(p, h.uid, h.version)?.upserts ?? p.connections;
      return touched.map((c) => this.peers.get(c.name));
    });
    const known = this.#holds.get(src);
    const unsent = named.filter((p): p is Peer =>
      p !== undefined && !sent.has(p.name) && known?.get(p.name)?.uid !== p.uid
    );
    const answer = this.updateFor(src, [...newer, ...unsent]);
    return request === undefined ? { answer } : { answer, request };
  }

  /**
   * Merges `update`: whole entries that win, then deltas that apply; records what was new (or became
   * reachable) to pass on. Returns what to request: what we hold of the entries of deltas we could not apply
   * and that would win, and the peers that changed entries name but we do not know. The sender may believe
   * we hold an entry we collected as unreachable before the entries connecting it arrived, and never send it
   * again.
   */
  #apply(update: TopologyUpdate): DigestItem[] {
    const self = this.self;
    let outbid = -1;
    for (const p of update.full) if (p.name === this.#us && comparePeers(p, self) > 0) outbid = p.version;
    for (const d of update.deltas) if (d.name === this.#us && beats(d, self)) outbid = d.version;
    if (outbid >= 0) this.#outbid(outbid);
    let before: Set<PeerName> | undefined;
    const changed = new Set<PeerName>();
    const put = (p: Peer) => {
      before ??= this.peers.reachable(this.#us);
      const cur = this.peers.get(p.name);
      if (cur !== undefined && !this.#before.has(p.name)) {
        this.#before.set(p.name, { uid: cur.uid, version: cur.version });
      }
      this.#set(p);
      this.#requested.delete(p.name);
      changed.add(p.name);
    };
    for (const p of update.full) {
      if (p.name === this.#us) continue;
      const cur = this.peers.get(p.name);
      if (cur !== undefined && comparePeers(p, cur) <= 0) continue;
      put(p);
      if (cur !== undefined && cur.uid === p.uid && cur.version < p.version) this.#logs.absorb(cur, p);
      else this.#logs.reset(p);
    }
    const need: DigestItem[] = [];
    for (const d of update.deltas) {
      if (d.name === this.#us) continue;
      const cur = this.peers.get(d.name);
      if (cur !== undefined && !beats(d, cur)) continue;
      const next = cur === undefined ? undefined : applyDelta(cur, d);
      if (next === undefined) {
        need.push(this.#holding(d.name));
        continue;
      }
      put(next);
      const gap = d.gap !== undefined && d.gap.lo >= cur!.version ? d.gap : undefined;
      this.#logs.touch(next, d.upserts.map((c) => c.name), d.removals, gap);
    }
    if (changed.size === 0) return need;
    this.#events.changed();
    const after = this.peers.reachable(this.#us);
    const relay = [...after].filter((n) => changed.has(n) || !before!.has(n));
    for (const n of relay) this.#relay.add(n);
    if (relay.length > 0) this.#events.relayPending();
    const asked = new Set(need.map((i) => i.name));
    for (const n of changed) {
      for (const c of this.peers.get(n)!.connections) {
        if (c.name === this.#us || asked.has(c.name) || this.peers.get(c.name) !== undefined) continue;
        asked.add(c.name);
        need.push({ name: c.name, uid: 0n, version: 0 });
      }
    }
    return need;
  }

  /**
   * Of `need`, the entries not requested within {@link TOPOLOGY_REQUEST_RETRY_MS} (an answer is on its way
   * or was lost; one lost is asked for again at the next mention after that), recorded as requested now.
   */
  #unrequested(need: DigestItem[]): DigestItem[] {
    const now = this.#now();
    for (const [name, at] of this.#requested) {
      if (now - at >= TOPOLOGY_REQUEST_RETRY_MS) this.#requested.delete(name);
    }
    const fresh = need.filter((i) => !this.#requested.has(i.name));
    for (const i of fresh) this.#requested.set(i.name, now);
    return fresh;
  }

  /** What we hold of entry `name`, for a request (version 0: nothing). */
  #holding(name: PeerName): DigestItem {
    const cur = this.peers.get(name);
    return { name, uid: cur?.uid ?? 0n, version: cur?.version ?? 0 };
  }

  /** Bumps our version past `version` (an entry of ours we did not write): ours must win everywhere. */
  #outbid(version: number): void {
    const self = this.self;
    const next = { ...self, version: Math.max(version, self.version) + 1 };
    this.#set(next);
    this.#logs.raiseFloor(next);
    this.#selfDirty = true;
    this.#events.selfChanged();
  }

  /** Records that neighbour `n` holds entry `name` at `h` or newer. */
  #held(n: PeerName, name: PeerName, h: Held): void {
    let m = this.#holds.get(n);
    if (m === undefined) this.#holds.set(n, m = new Map());
    const cur = m.get(name);
    // Another incarnation replaces what it held even when it loses: a neighbour that met the restarted peer
    // dropped the old entry, and must be sent ours again if that wins.
    if (cur === undefined || beats(h, cur) || h.uid !== cur.uid) {
      m.set(name, { uid: h.uid, version: h.version });
    }
  }

  #connection(name: PeerName): PeerConnection | undefined {
    return this.self.connections.find((c) => c.name === name);
  }

  #existing(name: PeerName, verb: string): PeerConnection {
    const c = this.#connection(name);
    if (c === undefined) {
      throw new Error(`Cannot ${verb} connection to '${name}': not connected; add it first`);
    }
    return c;
  }

  /** Sets an entry of the table. */
  #set(p: Peer): void {
    this.#reports = undefined;
    this.peers.set(p);
  }

  #setConnections(neighbour: PeerName, connections: PeerConnection[], removed: boolean): void {
    const self = this.self;
    const next = { ...self, version: self.version + 1, connections };
    this.#set(next);
    this.#logs.touch(next, removed ? [] : [neighbour], removed ? [neighbour] : []);
    this.#update.add(neighbour);
    this.#selfDirty = true;
    this.#events.changed();
    this.#events.selfChanged();
  }
}
