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
 * A peer that takes a whole entry newer than the one it holds (same uid) stamps the connections that differ
 * with the new version instead of starting over. That misses a connection changed and changed back between
 * the two versions, which matters only to a holder of a version strictly between them: the log keeps that
 * span as a gap (one per entry, widened to cover the next), and its deltas say they do not apply to holders
 * inside it. Such a holder requests the entry instead.
 *
 * @module
 */

import type { PeerName } from "./gossip.ts";
import type { Peer } from "./peer.ts";
import type { EntryDelta } from "./topology_wire.ts";
import { TOPOLOGY_MAX_TOMBSTONES } from "./constants.ts";

/** Versions strictly between `lo` and `hi` that a delta does not apply to. */
export interface Gap {
  readonly lo: number;
  readonly hi: number;
}

interface Log {
  uid: bigint;
  since: number;
  gap?: Gap;
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
  touch(p: Peer, touched: Iterable<PeerName>, removed: Iterable<PeerName>, gap?: Gap): void {
    const log = this.#logs.get(p.name);
    if (log === undefined || log.uid !== p.uid) return this.reset(p);
    if (gap !== undefined) log.gap = widen(log.gap, gap);
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

  /**
   * We held `cur` and took `next`, a whole newer entry of the same uid: the connections that differ are
   * stamped with its version, and the versions between the two become (part of) the gap.
   */
  absorb(cur: Peer, next: Peer): void {
    const log = this.#logs.get(next.name);
    if (log === undefined || log.uid !== next.uid || cur.uid !== next.uid || cur.version >= next.version) {
      return this.reset(next);
    }
    const was = new Map(cur.connections.map((c) => [c.name, c]));
    const touched: PeerName[] = [];
    for (const c of next.connections) {
      const o = was.get(c.name);
      was.delete(c.name);
      if (
        o === undefined || o.address !== c.address || o.outbound !== c.outbound ||
        o.established !== c.established
      ) {
        touched.push(c.name);
      }
    }
    this.touch(next, touched, was.keys(), { lo: cur.version, hi: next.version });
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
    const gap = log.gap !== undefined && log.gap.hi > base ? log.gap : undefined;
    if (gap !== undefined && base > gap.lo) return undefined;
    const upserts = p.connections.filter((c) => (log.stamps.get(c.name) ?? log.since) > base);
    const removals = [...log.tombstones].filter(([, s]) => s > base).map(([n]) => n).sort();
    const d = { name: p.name, uid: p.uid, base, version: p.version, upserts, removals };
    return gap === undefined ? d : { ...d, gap };
  }

  /** The versions from which deltas of `name` can be made: undefined when there is no log. */
  floor(name: PeerName): number | undefined {
    return this.#logs.get(name)?.since;
  }
}

/** The smallest gap covering both. */
function widen(a: Gap | undefined, b: Gap): Gap {
  return a === undefined ? b : { lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
}
