/**
 * MAC learning: which peer (or this one) each source MAC address was last seen behind, so a unicast frame goes
 * to one peer instead of being flooded. Entries expire when their MAC falls silent; a MAC seen behind another
 * peer moves there, and the move is reported (a container migrated, or two hosts claim one MAC).
 *
 * @module
 */

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
  readonly #entries = new Map<number, Entry>();
  /** The entry found last and its MAC (−1: none): a frame's MAC is looked up, then learned. */
  #lastMac = -1;
  #lastEntry: Entry | undefined;
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
    const e = this.#find(mac);
    return e !== undefined && now - e.seen < this.#expiryMs ? e.owner : undefined;
  }

  /**
   * Records that a frame from `mac` came from `owner` at `now`.
   *
   * @returns the move when a live entry had another owner, else undefined
   */
  learn(mac: number, owner: number, now: number): MacMove | undefined {
    const e = this.#find(mac);
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
      if (this.#entries.size >= this.#limit) this.#delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(mac, { owner, seen: now });
    return undefined;
  }

  /** Deletes the entries expired at `now`; returns how many. */
  sweep(now: number): number {
    let n = 0;
    for (const [mac, e] of this.#entries) {
      if (now - e.seen >= this.#expiryMs) {
        this.#delete(mac);
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
        this.#delete(mac);
        n++;
      }
    }
    return n;
  }

  /** The entry of `mac`, remembered for the next call. */
  #find(mac: number): Entry | undefined {
    if (mac === this.#lastMac) return this.#lastEntry;
    const e = this.#entries.get(mac);
    if (e !== undefined) {
      this.#lastMac = mac;
      this.#lastEntry = e;
    }
    return e;
  }

  #delete(mac: number): void {
    this.#entries.delete(mac);
    if (mac === this.#lastMac) {
      this.#lastMac = -1;
      this.#lastEntry = undefined;
    }
  }
}
