/**
 * Test helper: a grow-only set of strings as a second gossip channel (like weaveworks/mesh's example
 * counter), to exercise unicast, broadcast and neighbour gossip on a channel other than topology.
 *
 * @module
 */

import type { GossipData, Gossiper, PeerName } from "../../src/mesh/gossip.ts";
import { ByteReader, ByteWriter } from "../../src/mesh/byte_codec.ts";

/** A G-set: merge is union. */
export class StringSet implements GossipData {
  readonly items: Set<string>;

  constructor(items: Iterable<string> = []) {
    this.items = new Set(items);
  }

  encode(): Uint8Array[] {
    const w = new ByteWriter().u32(this.items.size);
    for (const s of [...this.items].sort()) w.str(s);
    return [w.finish()];
  }

  merge(other: GossipData): this {
    for (const s of (other as StringSet).items) this.items.add(s);
    return this;
  }

  static decode(msg: Uint8Array): StringSet {
    const r = new ByteReader(msg, "string set");
    const n = r.u32("count");
    const items: string[] = [];
    for (let i = 0; i < n; i++) items.push(r.str("item"));
    r.end();
    return new StringSet(items);
  }
}

/** Keeps a {@link StringSet} and records unicasts. */
export class SetGossiper implements Gossiper {
  readonly state = new StringSet();
  readonly unicasts: [PeerName, string][] = [];

  onGossipUnicast(src: PeerName, msg: Uint8Array): void {
    this.unicasts.push([src, new TextDecoder().decode(msg)]);
  }

  onGossipBroadcast(_src: PeerName, update: Uint8Array): StringSet | undefined {
    return this.#merge(update);
  }

  gossip(): StringSet | undefined {
    return this.state.items.size > 0 ? new StringSet(this.state.items) : undefined;
  }

  onGossip(msg: Uint8Array): StringSet | undefined {
    return this.#merge(msg);
  }

  #merge(msg: Uint8Array): StringSet | undefined {
    const fresh = [...StringSet.decode(msg).items].filter((s) => !this.state.items.has(s));
    for (const s of fresh) this.state.items.add(s);
    return fresh.length > 0 ? new StringSet(fresh) : undefined;
  }
}
