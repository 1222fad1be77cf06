/**
 * The topology table as a CRDT: a map from peer name to {@link Peer}, merged entry by entry, where the
 * entry that wins {@link comparePeers} (higher version, then higher uid) is kept.
 *
 * A connection may name a peer the table does not know (its entry has not arrived yet); it is kept and
 * simply ignored by routing until the entry arrives, rather than rejecting the update.
 *
 * @module
 */

import type { GossipData, PeerName } from "./gossip.ts";
import { comparePeers, encodePeer, type Peer, readPeer } from "./peer.ts";
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { bfs } from "./routes.ts";
import { TOPOLOGY_CHUNK_BYTES } from "./constants.ts";

/** The smallest encoded peer: empty nickname, no connections. */
const MIN_PEER_BYTES = 2 + 1 + 2 + 8 + 4 + 2;

/**
 * A set of peer entries keyed by name: the whole topology table, or an update (delta) to merge into one.
 *
 * @example
 * ```ts
 * const table = new Peers([a]);
 * const delta = table.mergeDelta(Peers.decode(msg)); // what was new here
 * ```
 */
export class Peers implements GossipData {
  readonly #byName = new Map<PeerName, Peer>();

  /** @param peers initial entries; for duplicate names the winning entry is kept */
  constructor(peers: Iterable<Peer> = []) {
    for (const p of peers) this.#offer(p);
  }

  /** Number of entries. */
  get size(): number {
    return this.#byName.size;
  }

  /** The entry for `name`, or undefined. */
  get(name: PeerName): Peer | undefined {
    return this.#byName.get(name);
  }

  /** All entries, sorted by name. */
  list(): Peer[] {
    return [...this.#byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Replaces the entry for `p.name` unconditionally (for the owner's own entry and handshake facts). */
  set(p: Peer): void {
    this.#byName.set(p.name, p);
  }

  /** Keeps `p` if it wins against the current entry; returns whether it did. */
  #offer(p: Peer): boolean {
    const cur = this.#byName.get(p.name);
    if (cur !== undefined && comparePeers(p, cur) <= 0) return false;
    this.#byName.set(p.name, p);
    return true;
  }

  /**
   * Merges `other` into this table: commutative, associative and idempotent.
   * @throws {TypeError} when `other` is not a {@link Peers}
   */
  merge(other: GossipData): this {
    this.mergeDelta(other);
    return this;
  }

  /**
   * Merges `other` and returns the entries that won (new or newer here), or undefined when none did.
   * @throws {TypeError} when `other` is not a {@link Peers}
   */
  mergeDelta(other: GossipData): Peers | undefined {
    if (!(other instanceof Peers)) {
      throw new TypeError("Cannot merge topology with other gossip data: pass a Peers");
    }
    const won: Peer[] = [];
    for (const p of other.#byName.values()) if (this.#offer(p)) won.push(p);
    return won.length > 0 ? new Peers(won) : undefined;
  }

  /**
   * Our entries that beat (under {@link comparePeers}) the entries of the same name in `other`: what a sender
   * of `other` holds stale. The same before and after merging `other`.
   */
  newerThan(other: Peers): Peer[] {
    const out: Peer[] = [];
    for (const p of other.#byName.values()) {
      const cur = this.#byName.get(p.name);
      if (cur !== undefined && comparePeers(cur, p) > 0) out.push(cur);
    }
    return out;
  }

  /** The names of the peers reachable from `us` over reported connections between known peers, `us` included. */
  reachable(us: PeerName): Set<PeerName> {
    return new Set(bfs((n) => this.#byName.get(n), us, "all").keys());
  }

  /**
   * Removes every peer not reachable from `us` over reported connections between known peers.
   *
   * @param onRemoved called once per removed peer, after it is removed
   * @returns the removed entries, sorted by name
   */
  garbageCollect(us: PeerName, onRemoved: (p: Peer) => void = () => {}): Peer[] {
    const reached = this.reachable(us);
    const removed = this.list().filter((p) => !reached.has(p.name));
    for (const p of removed) this.#byName.delete(p.name);
    for (const p of removed) onRemoved(p);
    return removed;
  }

  /**
   * The wire form: messages of about {@link TOPOLOGY_CHUNK_BYTES} at most, each a u32 count then peers.
   * An empty table encodes as one message with count 0.
   */
  encode(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let chunk: Uint8Array[] = [];
    let bytes = 0;
    const flush = () => {
      const w = new ByteWriter(4 + bytes).u32(chunk.length);
      for (const b of chunk) w.raw(b);
      out.push(w.finish());
      chunk = [];
      bytes = 0;
    };
    for (const p of this.list()) {
      const b = encodePeer(p);
      chunk.push(b);
      bytes += b.length;
      if (bytes >= TOPOLOGY_CHUNK_BYTES) flush();
    }
    if (chunk.length > 0 || out.length === 0) flush();
    return out;
  }

  /**
   * The digest of the table: one message, a u32 count then per entry its name, uid u64 and version u32.
   */
  digest(): Uint8Array {
    const ps = this.list();
    const w = new ByteWriter(4 + ps.length * 32).u32(ps.length);
    for (const p of ps) w.str(p.name).u64(p.uid).u32(p.version);
    return w.finish();
  }

  /**
   * Decodes one message written by {@link Peers.encode}.
   * @throws {Error} when `msg` is truncated, has trailing bytes or holds an invalid peer
   */
  static decode(msg: Uint8Array): Peers {
    const r = new ByteReader(msg, "topology update");
    const count = r.u32("peer count");
    if (count * MIN_PEER_BYTES > r.remaining) r.fail(`${count} peers cannot fit in ${r.remaining} bytes`);
    const peers: Peer[] = [];
    for (let i = 0; i < count; i++) peers.push(readPeer(r));
    r.end();
    return new Peers(peers);
  }
}
