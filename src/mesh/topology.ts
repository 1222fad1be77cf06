/**
 * The topology channel's {@link Gossiper}: owns the {@link Peers} table including our own entry, which
 * only we change. Every local connection change bumps our version and records which entries an update
 * must carry (ours and the neighbour's); the mesh sends them after a short deferral.
 *
 * Entries that were new here (or became reachable) are not passed on at once: their names are collected and
 * go out with the next update, at their current version, at most one relay deferral later. During a bring-up
 * an entry changes many times in a short while; a peer then passes each entry on about once per deferral,
 * in its newest version, instead of once per version it received (each of which costs the entry's whole
 * connection list, to a log-sized neighbour subset, at every peer). Our own changes go to every direct
 * neighbour, so an entry is relayed only to neighbours not linked to its owner (see {@link Topology.linked}):
 * in a full mesh every change reaches every peer once, straight from its owner; nor to a neighbour that sent
 * us the entry, or listed it in its digest, at that version or newer.
 *
 * A new neighbour gets our digest (name, uid and version per entry), not our table; we answer its digest with
 * the entries it lacks or holds older, but for those of peers linked to it.
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
  /** Per neighbour, the entry versions it sent us or listed in its digest: it holds them, no need to relay. */
  readonly #holds = new Map<PeerName, Map<PeerName, number>>();

  /** @param self our identity; our entry starts at version 1 with no connections */
  constructor(self: { name: PeerName; nickname: string; uid: bigint }, events: TopologyEvents) {
    this.#us = self.name;
    this.#events = events;
    this.peers = new Peers([{
      name: self.name,
      nickname: self.nickname,
      uid: self.uid,
      version: 1,
      connections: [],
    }]);
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
      this.peers.set({ name: n.name, nickname: n.nickname, uid: n.uid, version: 0, connections: [] });
    }
    const c = { name: n.name, address: n.address, outbound: n.outbound, established: false };
    this.#setConnections(n.name, sortConnections([...this.self.connections, c]));
  }

  /**
   * Marks the connection to `name` established (its data-plane path works both ways).
   * @throws {Error} when there is no connection to `name`
   */
  establishConnection(name: PeerName): void {
    const c = this.#existing(name, "establish");
    if (c.established) return;
    this.#setConnections(name, this.self.connections.map((x) => (x === c ? { ...c, established: true } : x)));
  }

  /**
   * Forgets the connection to `name`.
   * @throws {Error} when there is no connection to `name`
   */
  removeConnection(name: PeerName): void {
    this.#existing(name, "remove");
    this.#holds.delete(name);
    this.#setConnections(name, this.self.connections.filter((x) => x.name !== name));
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
  takeUpdate(): { own?: Peers; relay?: Peers } {
    const own = this.#selfDirty || this.#update.size > 0 ? [this.#us] : [];
    const relay = [...this.#update, ...this.#relay].filter((n) => n !== this.#us);
    this.#update = new Set();
    this.#relay = new Set();
    this.#selfDirty = false;
    const entries = (names: Iterable<PeerName>) => {
      const ps = [...names].map((n) => this.peers.get(n as PeerName)).filter((p): p is Peer =>
        p !== undefined
      );
      return ps.length > 0 ? new Peers(ps) : undefined;
    };
    return { own: entries(own), relay: entries(relay) };
  }

  /**
   * Whether neighbour `n` told us (by sending it, or listing it in its digest) that it holds entry `p` at its
   * version or newer: then nobody needs to relay it there.
   */
  holds(n: PeerName, p: Peer): boolean {
    return (this.#holds.get(n)?.get(p.name) ?? -1) >= p.version;
  }

  /**
   * Whether `a` and `b` both report a connection to each other: then `a` sends its changes to `b` itself,
   * and nobody needs to relay them there.
   */
  linked(a: PeerName, b: PeerName): boolean {
    const has = (x: PeerName, y: PeerName) =>
      this.peers.get(x)?.connections.some((c) => c.name === y) ?? false;
    return has(a, b) && has(b, a);
  }

  /** Applies a unicast update (unused by the protocol, accepted like neighbour gossip). */
  onGossipUnicast(_src: PeerName, msg: Uint8Array): void {
    this.#apply(Peers.decode(msg));
  }

  /** Applies a broadcast update; what was new goes out with the next update (see {@link takeUpdate}). */
  onGossipBroadcast(_src: PeerName, update: Uint8Array): undefined {
    this.#apply(Peers.decode(update));
  }

  /** The digest of the table, for a new neighbour (see {@link Peers.digest}). */
  digest(): Uint8Array {
    return this.peers.digest();
  }

  /**
   * Answers new neighbour `src`'s digest: the entries it lacks or holds older, but for its own and those of
   * peers linked to it (they send it their changes themselves, and answered its digest when they connected).
   * @throws {Error} when `digest` cannot be decoded
   */
  answerDigest(src: PeerName, digest: Uint8Array): Peers | undefined {
    const lacking = this.peers.missingFrom(digest, (name, version) => this.#held(src, name, version))
      .filter((p) => p.name !== src && !this.linked(p.name, src));
    return lacking.length > 0 ? new Peers(lacking) : undefined;
  }

  /** A snapshot of the whole table. */
  gossip(): Peers {
    return new Peers(this.peers.list());
  }

  /** Applies neighbour gossip; what was new goes out with the next update (see {@link takeUpdate}). */
  onGossip(msg: Uint8Array): undefined {
    this.#apply(Peers.decode(msg));
  }

  /**
   * Applies neighbour gossip like {@link Topology.onGossip}; returns the answer for the sender: our entries
   * newer than those it sent, with the entries of peers that ours report connections to and its stale copies
   * did not (it may not know them), unless it sent them.
   * @throws {Error} when `msg` cannot be decoded
   */
  onGossipAnswering(src: PeerName, msg: Uint8Array): { answer?: Peers } {
    const update = Peers.decode(msg);
    for (const p of update.list()) this.#held(src, p.name, p.version);
    this.#apply(update);
    const newer = this.peers.newerThan(update).filter((p) =>
      p.name === this.#us ? !this.#selfDirty : !this.linked(p.name, src)
    );
    if (newer.length === 0) return {};
    const named = newer.flatMap((p) => {
      const known = new Set(update.get(p.name)!.connections.map((c) => c.name));
      return p.connections.filter((c) => !known.has(c.name)).map((c) => this.peers.get(c.name));
    });
    const unsent = named.filter((p): p is Peer => p !== undefined && update.get(p.name) === undefined);
    return { answer: new Peers([...newer, ...unsent]) };
  }

  /** Merges `update`; records what was new (or became reachable) to pass on. */
  #apply(update: Peers): void {
    const mine = update.get(this.#us);
    const self = this.self;
    const others = mine === undefined ? update : new Peers(update.list().filter((p) => p.name !== this.#us));
    if (mine !== undefined && comparePeers(mine, self) > 0) {
      this.peers.set({ ...self, version: Math.max(mine.version, self.version) + 1 });
      this.#selfDirty = true;
      this.#events.selfChanged();
    }
    const wins = (p: Peer) => {
      const cur = this.peers.get(p.name);
      return cur === undefined || comparePeers(p, cur) > 0;
    };
    if (!others.list().some(wins)) return;
    const before = this.peers.reachable(this.#us);
    const delta = this.peers.mergeDelta(others);
    if (delta === undefined) return;
    this.#events.changed();
    const after = this.peers.reachable(this.#us);
    const relay = [...after].filter((n) => delta.get(n) !== undefined || !before.has(n));
    for (const n of relay) this.#relay.add(n);
    if (relay.length > 0) this.#events.relayPending();
  }

  /** Records that neighbour `n` holds entry `name` at `version` or newer. */
  #held(n: PeerName, name: PeerName, version: number): void {
    let m = this.#holds.get(n);
    if (m === undefined) this.#holds.set(n, m = new Map());
    if ((m.get(name) ?? -1) < version) m.set(name, version);
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

  #setConnections(neighbour: PeerName, connections: PeerConnection[]): void {
    const self = this.self;
    this.peers.set({ ...self, version: self.version + 1, connections });
    this.#update.add(neighbour);
    this.#selfDirty = true;
    this.#events.changed();
    this.#events.selfChanged();
  }
}
