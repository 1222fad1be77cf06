/**
 * The name table on the mesh's "nameserver" gossip channel: full state to neighbours, deltas merged and
 * only what was new relayed. Single-threaded, like the channel that calls it.
 *
 * @module
 */
import { NameTable } from "../dns/name_table.ts";
import type { GossipData, Gossiper, PeerName } from "../mesh/gossip.ts";

/** The {@link Gossiper} of one router's {@link NameTable}. */
export class NameTableGossiper implements Gossiper {
  readonly #table: NameTable;

  /** @param table the table gossip merges into */
  constructor(table: NameTable) {
    this.#table = table;
  }

  /** Full state (a copy: the channel may merge into what it is given), or nothing when empty. */
  gossip(): GossipData | undefined {
    return this.#table.size ? new NameTable(this.#table.entries()) : undefined;
  }

  /**
   * Merges neighbour gossip; returns what was new.
   * @throws {DnsFormatError} when the message does not decode
   */
  onGossip(msg: Uint8Array): GossipData | undefined {
    return this.#table.mergeNew(NameTable.decode(msg));
  }

  /**
   * Merges a broadcast; returns what was new, to relay.
   * @throws {DnsFormatError} when the message does not decode
   */
  onGossipBroadcast(_src: PeerName, update: Uint8Array): GossipData | undefined {
    return this.#table.mergeNew(NameTable.decode(update));
  }

  /** DNS sends no unicasts; any that arrive are ignored. */
  onGossipUnicast(_src: PeerName, _msg: Uint8Array): void {}
}
