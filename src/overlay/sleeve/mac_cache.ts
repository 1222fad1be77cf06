/**
 * MAC learning: which peer (or this one) each source MAC address was last seen behind, so a unicast frame goes
 * to one peer instead of being flooded. Entries expire when their MAC falls silent; a MAC seen behind another
 * peer moves there, and the move is reported (a container migrated, or two hosts claim one MAC).
 *
 * @module
 */
import { MemoMap } from "./memo_map.ts";

interface Entry {
  owner: number;
  seen: number;
}

/** A MAC that was seen behind a new owner. */
export interface MacMove {
  /** The 48-bit MAC. */
  mac: number;
  /** The previous owner (48-bit peer name). */
  from: number;
  /** The new owner. */
  to: number;
}

/** MAC → owning peer, learned from frames' source addresses, with expiry and a size limit. */
export class MacCache {
  /** A frame's MAC is looked up, then learned: the map answers the second lookup from its memo. */
  readonly #entries = new MemoMap<number, Entry>();
  readonly #expiryMs: number;
  readonly #limit: number;

  /**
   * @param expiryMs how long an entry lives without a frame from its MAC, in ms
   * @param limit the most entries kept; beyond it the expired ones go, then the oldest learned
   */
  constructor(expiryMs: number, limit: number) {
    this.#expiryMs = expiryMs;
    this.#limit = limit;
  }

  /** Entries held, including expired ones not swept yet. */
  get size(): number {
    return this.#entries.size;
  }

  /** The owner of `mac` at time `now` (ms), or undefined when unknown or expired. */
  lookup(mac: number, now: number): number | undefined {
    const e = this.#entries.get(mac);
    return e !== undefined && now - e.seen < this.#expiryMs ? e.owner : undefined;
  }

  /**
   * Records that a frame from `mac` came from `owner` at `now`.
   *
   * @returns the move when a live entry had another owner, else undefined
   */
  learn(mac: number, owner: number, now: number): MacMove | undefined {
    const e = this.#entries.get(mac);
    if (e !== undefined) {
      const live = now - e.seen < this.#expiryMs;
      const from = e.owner;
      e.seen = now;
      if (from === owner) return undefined;
      e.owner = owner;
      return live ? { mac, from, to: owner } : undefined;
    }
    if (this.#entries.size >= this.#limit) {
      this.sweep(now);
      if (this.#entries.size >= this.#limit) this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(mac, { owner, seen: now });
    return undefined;
  }

  /** Deletes the entries expired at `now`; returns how many. */
  sweep(now: number): number {
    let n = 0;
    for (const [mac, e] of this.#entries) {
      if (now - e.seen >= this.#expiryMs) {
        this.#entries.delete(mac);
        n++;
      }
    }
    return n;
  }

  /** Deletes every entry owned by `owner` (a peer that left); returns how many. */
  forget(owner: number): number {
    let n = 0;
    for (const [mac, e] of this.#entries) {
      if (e.owner === owner) {
        this.#entries.delete(mac);
        n++;
      }
    }
    return n;
  }
}
