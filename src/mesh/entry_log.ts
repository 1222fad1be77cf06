/**
 * Per topology entry, which of its connections were touched at which version, so that a peer can send a
 * neighbour only the connections touched since a version the neighbour holds (an {@link EntryDelta}).
 *
 * Each entry's log has a floor (`since`): deltas can be made from any base at or above it. A connection's
 * stamp is at least the version of its last change above the floor, and a removed connection is kept as a
 * tombstone with such a stamp. The owner of an entry stamps exactly; a peer that applies a delta stamps what
 * the delta touched with the delta's version (at least the real one, so its own deltas are supersets of the
 * exact ones); a peer that takes a whole entry can make deltas only from that entry's version on. Tombstones
 * are capped per entry; dropping one raises the floor to its stamp.
 *
 * @module
 */

import type { PeerName } from "./gossip.ts";
import type { Peer } from "./peer.ts";
import type { EntryDelta } from "./topology_wire.ts";
import { TOPOLOGY_MAX_TOMBSTONES } from "./constants.ts";

interface Log {
  uid: bigint;
  since: number;
  readonly stamps: Map<PeerName, number>;
  readonly tombstones: Map<PeerName, number>;
}

/** The change logs of a topology table's entries. */
export class EntryLogs {
  readonly #logs = new Map<PeerName, Log>();

  /** `p` was taken whole: deltas of it can be made from its version on. */
  reset(p: Peer): void {
    this.#logs.set(p.name, { uid: p.uid, since: p.version, stamps: new Map(), tombstones: new Map() });
  }

  /**
   * Entry `p` (now at `p.version`) had the connections `touched` changed and `removed` removed at that
   * version: by its owner, or by applying a delta. Starts a log from `p.version` when there is none for
   * its uid.
   */
  touch(p: Peer, touched: Iterable<PeerName>, removed: Iterable<PeerName>): void {
    const log = this.#logs.get(p.name);
    if (log === undefined || log.uid !== p.uid) return this.reset(p);
    for (const n of touched) {
      log.stamps.set(n, p.version);
      log.tombstones.delete(n);
    }
    for (const n of removed) {
      log.stamps.delete(n);
      log.tombstones.delete(n);
      log.tombstones.set(n, p.version);
    }
    while (log.tombstones.size > TOPOLOGY_MAX_TOMBSTONES) {
      const [oldest, stamp] = log.tombstones.entries().next().value!;
      log.tombstones.delete(oldest);
      log.since = Math.max(log.since, stamp);
    }
  }

  /** Deltas of `p` can no longer be made from below its current version (e.g. after an outbid version jump). */
  raiseFloor(p: Peer): void {
    const log = this.#logs.get(p.name);
    if (log === undefined || log.uid !== p.uid) return this.reset(p);
    log.since = Math.max(log.since, p.version);
  }

  /** Forgets the log of `name` (its entry is gone). */
  drop(name: PeerName): void {
    this.#logs.delete(name);
  }

  /**
   * The delta taking a holder of `p` at `base` (same uid) to `p`, or undefined when the log cannot make one
   * (another uid, a base below the floor, or not below `p.version`).
   */
  deltaSince(p: Peer, uid: bigint, base: number): EntryDelta | undefined {
    const log = this.#logs.get(p.name);
    if (log === undefined || log.uid !== p.uid || uid !== p.uid || base < log.since || base >= p.version) {
      return undefined;
    }
    const upserts = p.connections.filter((c) => (log.stamps.get(c.name) ?? log.since) > base);
    const removals = [...log.tombstones].filter(([, s]) => s > base).map(([n]) => n).sort();
    return { name: p.name, uid: p.uid, base, version: p.version, upserts, removals };
  }

  /** The versions from which deltas of `name` can be made: undefined when there is no log. */
  floor(name: PeerName): number | undefined {
    return this.#logs.get(name)?.since;
  }
}
