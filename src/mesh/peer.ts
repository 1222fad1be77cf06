/**
 * A peer as the topology knows it: identity, a version its owner bumps on every local connection change,
 * and the connections it reports.
 *
 * @module
 */

import type { PeerName } from "./gossip.ts";
import { type ByteReader, ByteWriter } from "./byte_codec.ts";

/** One connection as reported by the peer at its local end. */
export interface PeerConnection {
  /** The remote peer. */
  readonly name: PeerName;
  /** The remote end's TCP address as "host:port" ("[v6]:port" for IPv6). */
  readonly address: string;
  /** True when the reporting peer dialled it. */
  readonly outbound: boolean;
  /** True once the data-plane path to the remote works both ways. */
  readonly established: boolean;
}

/** A peer's topology entry; immutable, replaced as a whole on change. */
export interface Peer {
  /** 48-bit name written as a MAC address. */
  readonly name: PeerName;
  /** Human name, usually the host name. */
  readonly nickname: string;
  /** Random 64-bit id, new on every process start: a changed uid means a restarted peer. */
  readonly uid: bigint;
  /** Bumped by the owner on every local connection change; 0 for a neighbour known only from its handshake. */
  readonly version: number;
  /** Connections the peer reports, sorted by remote name. */
  readonly connections: readonly PeerConnection[];
}

/**
 * Total order used by the topology merge: higher version wins, then higher uid, then the encoded
 * connection list, so that merging is a true join even for conflicting entries of equal version.
 *
 * @returns negative when `a` loses to `b`, 0 when equal, positive when `a` wins
 */
export function comparePeers(a: Peer, b: Peer): number {
  if (a.version !== b.version) return a.version < b.version ? -1 : 1;
  if (a.uid !== b.uid) return a.uid < b.uid ? -1 : 1;
  if (a.nickname !== b.nickname) return a.nickname < b.nickname ? -1 : 1;
  const n = Math.min(a.connections.length, b.connections.length);
  for (let i = 0; i < n; i++) {
    const c = compareConnections(a.connections[i], b.connections[i]);
    if (c !== 0) return c;
  }
  return a.connections.length - b.connections.length;
}

function compareConnections(a: PeerConnection, b: PeerConnection): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  if (a.outbound !== b.outbound) return a.outbound ? 1 : -1;
  if (a.established !== b.established) return a.established ? 1 : -1;
  return 0;
}

/** Sorts connections by remote name, as {@link Peer.connections} requires. */
export function sortConnections(cs: PeerConnection[]): PeerConnection[] {
  return cs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Encoded entries: a {@link Peer} is immutable, so its wire form is computed once. */
const encoded = new WeakMap<Peer, Uint8Array>();

/**
 * The wire form of `p`: name, nickname, uid u64, version u32, connection count u16, then per connection
 * name, address, flags (bit 0 outbound, bit 1 established). Cached per entry; do not modify the result.
 * @throws {Error} when a string is longer than 65535 bytes or there are more than 65535 connections
 */
export function encodePeer(p: Peer): Uint8Array {
  let b = encoded.get(p);
  if (b === undefined) {
    if (p.connections.length > 0xffff) {
      throw new Error(`Cannot encode peer '${p.name}': over 65535 connections`);
    }
    const w = new ByteWriter().str(p.name).str(p.nickname).u64(p.uid).u32(p.version).u16(
      p.connections.length,
    );
    for (const c of p.connections) {
      w.str(c.name).str(c.address).u8((c.outbound ? 1 : 0) | (c.established ? 2 : 0));
    }
    b = w.finish();
    encoded.set(p, b);
  }
  return b;
}

/**
 * Reads a peer encoded by {@link encodePeer}.
 * @throws {Error} on truncated input, an empty name, unknown flag bits, or duplicate or unsorted connections
 */
export function readPeer(r: ByteReader): Peer {
  const name = r.str("peer name");
  if (name === "") r.fail("empty peer name");
  const nickname = r.str("nickname");
  const uid = r.u64("uid");
  const version = r.u32("version");
  const count = r.u16("connection count");
  const connections: PeerConnection[] = [];
  for (let i = 0; i < count; i++) {
    const remote = r.str("connection name");
    if (remote === "" || remote === name) r.fail(`peer '${name}' reports a connection to '${remote}'`);
    if (i > 0 && connections[i - 1].name >= remote) {
      r.fail(`peer '${name}' reports connections out of order or twice at '${remote}'`);
    }
    const address = r.str("connection address");
    const flags = r.u8("connection flags");
    if (flags > 3) r.fail(`connection flags 0x${flags.toString(16)} of peer '${name}' are unknown`);
    connections.push({ name: remote, address, outbound: (flags & 1) !== 0, established: (flags & 2) !== 0 });
  }
  return { name, nickname, uid, version, connections };
}
