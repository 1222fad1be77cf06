/**
 * The topology channel's wire forms beyond whole entries: an update that carries whole entries and
 * field-level deltas, and a digest that says why it was sent.
 *
 * An entry delta names the connections of one entry touched since a base version (each with its state at the
 * delta's version, or as removed), so a receiver that holds the entry at any version from the base up to
 * just below the delta's (same uid) reaches the delta's version by applying it; one that holds less asks for
 * the entry with a request digest. A peer's entry lists a connection per neighbour, so in a full mesh of N
 * a whole entry is ∝ N bytes while one connection change is a few dozen: deltas let each change cost what it
 * needs rather than the whole entry again.
 *
 * ```text
 * update := u32 fullCount | peer* [ u32 deltaCount | delta* ]   (peer as encodePeer; no delta part = none)
 * delta  := str name | u64 uid | u32 base | u32 version | u32 gapLow | u32 gapHigh   (0, 0 = no gap)
 *           | u16 upsertCount | (str name | str address | u8 flags)* | u16 removalCount | str name*
 * digest := u32 count | (str name | u64 uid | u32 version)* [ u8 kind ]   (no kind = introduce)
 * ```
 *
 * An update's whole entries apply before its deltas; upserts and removals are sorted by name, unique and
 * disjoint. Decoding is for untrusted input: every count is checked against the bytes left before anything
 * is allocated, and every error names what is wrong.
 *
 * @module
 */

import type { GossipData, PeerName } from "./gossip.ts";
import { encodePeer, type Peer, type PeerConnection, readPeer } from "./peer.ts";
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { TOPOLOGY_CHUNK_BYTES } from "./constants.ts";

/** The smallest encoded peer: empty nickname, no connections. */
const MIN_PEER_BYTES = 2 + 1 + 2 + 8 + 4 + 2;
/** The smallest encoded delta: a one-byte name, uid, versions, no upserts or removals. */
const MIN_DELTA_BYTES = 2 + 1 + 8 + 4 + 4 + 8 + 2 + 2;
/** The smallest upsert: a one-byte name, an empty address, flags. */
const MIN_UPSERT_BYTES = 2 + 1 + 2 + 1;
/** The smallest removal: a one-byte name. */
const MIN_REMOVAL_BYTES = 2 + 1;
/** The smallest digest item: a one-byte name, uid and version. */
const MIN_DIGEST_BYTES = 2 + 1 + 8 + 4;

/** The connections of one entry touched between `base` and `version`, as its owner (uid) reported them. */
export interface EntryDelta {
  readonly name: PeerName;
  readonly uid: bigint;
  /** The receiver must hold the entry (same uid) at this version or newer, below `version`. */
  readonly base: number;
  readonly version: number;
  /** Connections present at `version` that were touched since `base`, sorted by name. */
  readonly upserts: readonly PeerConnection[];
  /** Connections removed since `base`, sorted by name. */
  readonly removals: readonly PeerName[];
  /** Versions strictly between `gap.lo` and `gap.hi` do not take this delta (base ≤ lo < hi ≤ version). */
  readonly gap?: { readonly lo: number; readonly hi: number };
}

/**
 * `cur` with delta `d` applied, or undefined when `d` does not apply to it: another uid, a version below the
 * base or inside its gap, or not older than the delta.
 */
export function applyDelta(cur: Peer, d: EntryDelta): Peer | undefined {
  if (cur.name !== d.name || cur.uid !== d.uid || cur.version < d.base || cur.version >= d.version) {
    return undefined;
  }
  if (d.gap !== undefined && cur.version > d.gap.lo && cur.version < d.gap.hi) return undefined;
  const touched = new Set<PeerName>(d.removals);
  for (const c of d.upserts) touched.add(c.name);
  const connections = cur.connections.filter((c) => !touched.has(c.name));
  connections.push(...d.upserts);
  connections.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (connections.length > 0xffff) return undefined;
  return { ...cur, version: d.version, connections };
}

/** Why a digest was sent, which decides how it is answered. */
export const DigestKind = {
  /** On a new connection: answer with what the sender lacks, but for what others tell it themselves. */
  introduce: 0,
  /** Anti-entropy: answer with everything the sender lacks, and request what it holds newer. */
  antiEntropy: 1,
  /** A request: answer with the entries listed, each newer than listed (version 0: the whole entry). */
  request: 2,
} as const;

/** A {@link DigestKind} value. */
export type DigestKindValue = typeof DigestKind[keyof typeof DigestKind];

/** One item of a digest: an entry as the sender holds it (version 0: not at all, for requests). */
export interface DigestItem {
  readonly name: PeerName;
  readonly uid: bigint;
  readonly version: number;
}

/** A decoded digest. */
export interface Digest {
  readonly kind: DigestKindValue;
  readonly items: readonly DigestItem[];
}

/** Encodes a digest of `items` sent for `kind` (see the module's layout). */
export function encodeDigest(items: readonly DigestItem[], kind: DigestKindValue): Uint8Array {
  const w = new ByteWriter(5 + items.length * 32).u32(items.length);
  for (const i of items) w.str(i.name).u64(i.uid).u32(i.version);
  if (kind !== DigestKind.introduce) w.u8(kind);
  return w.finish();
}

/**
 * Decodes a digest written by {@link encodeDigest} (or Peers.digest, which has no kind).
 * @throws {Error} when `bytes` is truncated, has trailing bytes, an empty or repeated name, or an unknown kind
 */
export function decodeDigest(bytes: Uint8Array): Digest {
  const r = new ByteReader(bytes, "topology digest");
  const count = r.u32("entry count");
  if (count * MIN_DIGEST_BYTES > r.remaining) r.fail(`${count} entries cannot fit in ${r.remaining} bytes`);
  const items: DigestItem[] = [];
  const seen = new Set<PeerName>();
  for (let i = 0; i < count; i++) {
    const name = r.str("peer name");
    if (name === "") r.fail("empty peer name");
    if (seen.has(name)) r.fail(`peer '${name}' listed twice`);
    seen.add(name);
    items.push({ name, uid: r.u64("uid"), version: r.u32("version") });
  }
  let kind: DigestKindValue = DigestKind.introduce;
  if (r.remaining > 0) {
    const k = r.u8("digest kind");
    if (k > DigestKind.request) r.fail(`digest kind ${k} is unknown`);
    kind = k as DigestKindValue;
  }
  r.end();
  return { kind, items };
}

/**
 * A topology update: whole entries and entry deltas, as one message or a few. Immutable: {@link merge}
 * returns a new update with `other`'s items after ours.
 */
export class TopologyUpdate implements GossipData {
  /** Whole entries. */
  readonly full: readonly Peer[];
  /** Entry deltas, applied after the whole entries. */
  readonly deltas: readonly EntryDelta[];

  /** @param full whole entries @param deltas entry deltas */
  constructor(full: readonly Peer[] = [], deltas: readonly EntryDelta[] = []) {
    this.full = full;
    this.deltas = deltas;
  }

  /** Whether it carries nothing. */
  get empty(): boolean {
    return this.full.length === 0 && this.deltas.length === 0;
  }

  /**
   * A new update with `other`'s items after ours (an update for a congested neighbour grows this way).
   * @throws {TypeError} when `other` is not a {@link TopologyUpdate}
   */
  merge(other: GossipData): TopologyUpdate {
    if (!(other instanceof TopologyUpdate)) {
      throw new TypeError("Cannot merge a topology update with other gossip data: pass a TopologyUpdate");
    }
    return new TopologyUpdate([...this.full, ...other.full], [...this.deltas, ...other.deltas]);
  }

  /**
   * The wire form: messages of about {@link TOPOLOGY_CHUNK_BYTES} at most, in order (an entry's whole form
   * and its deltas may land in different messages; each message applies on its own).
   * @throws {Error} when a string is longer than 65535 bytes or a list longer than 65535 items
   */
  encode(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let full: Uint8Array[] = [], deltas: Uint8Array[] = [], bytes = 0;
    const flush = () => {
      const w = new ByteWriter(8 + bytes).u32(full.length);
      for (const b of full) w.raw(b);
      if (deltas.length > 0) {
        w.u32(deltas.length);
        for (const b of deltas) w.raw(b);
      }
      out.push(w.finish());
      [full, deltas, bytes] = [[], [], 0];
    };
    for (const p of this.full) {
      const b = encodePeer(p);
      full.push(b);
      bytes += b.length;
      if (bytes >= TOPOLOGY_CHUNK_BYTES) flush();
    }
    for (const d of this.deltas) {
      const b = encodeDelta(d);
      deltas.push(b);
      bytes += b.length;
      if (bytes >= TOPOLOGY_CHUNK_BYTES) flush();
    }
    if (full.length > 0 || deltas.length > 0 || out.length === 0) flush();
    return out;
  }

  /**
   * Decodes one message written by {@link TopologyUpdate.encode} or Peers.encode.
   * @throws {Error} when `msg` is truncated, has trailing bytes or holds an invalid entry or delta
   */
  static decode(msg: Uint8Array): TopologyUpdate {
    const r = new ByteReader(msg, "topology update");
    const count = r.u32("peer count");
    if (count * MIN_PEER_BYTES > r.remaining) r.fail(`${count} peers cannot fit in ${r.remaining} bytes`);
    const full: Peer[] = [];
    for (let i = 0; i < count; i++) full.push(readPeer(r));
    const deltas: EntryDelta[] = [];
    if (r.remaining > 0) {
      const n = r.u32("delta count");
      if (n * MIN_DELTA_BYTES > r.remaining) r.fail(`${n} deltas cannot fit in ${r.remaining} bytes`);
      for (let i = 0; i < n; i++) deltas.push(readDelta(r));
    }
    r.end();
    return new TopologyUpdate(full, deltas);
  }
}

function flags(c: PeerConnection): number {
  return (c.outbound ? 1 : 0) | (c.established ? 2 : 0);
}

function encodeDelta(d: EntryDelta): Uint8Array {
  if (d.upserts.length > 0xffff || d.removals.length > 0xffff) {
    throw new Error(`Cannot encode the delta of peer '${d.name}': over 65535 connections touched`);
  }
  const w = new ByteWriter(40 + d.upserts.length * 40).str(d.name).u64(d.uid).u32(d.base).u32(d.version);
  w.u32(d.gap?.lo ?? 0).u32(d.gap?.hi ?? 0);
  w.u16(d.upserts.length);
  for (const c of d.upserts) w.str(c.name).str(c.address).u8(flags(c));
  w.u16(d.removals.length);
  for (const n of d.removals) w.str(n);
  return w.finish();
}

function readDelta(r: ByteReader): EntryDelta {
  const name = r.str("delta peer name");
  if (name === "") r.fail("empty delta peer name");
  const uid = r.u64("delta uid");
  const base = r.u32("delta base version");
  const version = r.u32("delta version");
  if (base >= version) r.fail(`delta of peer '${name}' goes from version ${base} to ${version}`);
  const lo = r.u32("delta gap low"), hi = r.u32("delta gap high");
  const gapped = lo !== 0 || hi !== 0;
  if (gapped && !(base <= lo && lo < hi && hi <= version)) {
    r.fail(`delta of peer '${name}' from ${base} to ${version} has the gap ${lo}..${hi} outside it`);
  }
  const nUp = r.u16("upsert count");
  if (nUp * MIN_UPSERT_BYTES > r.remaining) r.fail(`${nUp} upserts cannot fit in ${r.remaining} bytes`);
  const upserts: PeerConnection[] = [];
  for (let i = 0; i < nUp; i++) {
    const remote = r.str("upsert name");
    if (remote === "" || remote === name) {
      r.fail(`delta of peer '${name}' touches a connection to '${remote}'`);
    }
    if (i > 0 && upserts[i - 1].name >= remote) {
      r.fail(`delta of peer '${name}' lists connections out of order or twice at '${remote}'`);
    }
    const address = r.str("upsert address");
    const f = r.u8("upsert flags");
    if (f > 3) r.fail(`connection flags 0x${f.toString(16)} in the delta of peer '${name}' are unknown`);
    upserts.push({ name: remote, address, outbound: (f & 1) !== 0, established: (f & 2) !== 0 });
  }
  const nRm = r.u16("removal count");
  if (nRm * MIN_REMOVAL_BYTES > r.remaining) r.fail(`${nRm} removals cannot fit in ${r.remaining} bytes`);
  const removals: PeerName[] = [];
  const upserted = new Set(upserts.map((c) => c.name));
  for (let i = 0; i < nRm; i++) {
    const remote = r.str("removal name");
    if (remote === "" || remote === name) {
      r.fail(`delta of peer '${name}' removes a connection to '${remote}'`);
    }
    if (i > 0 && removals[i - 1] >= remote) {
      r.fail(`delta of peer '${name}' lists removals out of order or twice at '${remote}'`);
    }
    if (upserted.has(remote)) r.fail(`delta of peer '${name}' both keeps and removes '${remote}'`);
    removals.push(remote);
  }
  const d = { name, uid, base, version, upserts, removals };
  return gapped ? { ...d, gap: { lo, hi } } : d;
}
