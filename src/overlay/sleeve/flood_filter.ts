/**
 * Duplicate suppression for floods: a relay delivers and sends on each flood (origin peer, flood sequence)
 * once, however many copies reach it while the peers' broadcast trees disagree.
 *
 * Per origin a window of the newest {@link FLOOD_WINDOW} sequence numbers, compared in serial-number
 * arithmetic (RFC 1982) over 32 bits, so the counter may wrap. A number older than the window is stale
 * (dropped), unless it is {@link FLOOD_RESTART_GAP} or more behind: the origin restarted (its counter starts
 * at a random number) and the window starts again from it. At most {@link FLOOD_ORIGINS_LIMIT} origins are
 * remembered, the least recently seen forgotten first, so spoofed origins cannot grow memory without bound.
 *
 * @module
 */
import { FLOOD_ORIGINS_LIMIT, FLOOD_RESTART_GAP, FLOOD_WINDOW } from "./constants.ts";

interface OriginWindow {
  highest: number;
  bits: Uint32Array;
}

/** Why {@link FloodFilter.accept} refused a flood. */
export type FloodRefusal = "duplicate" | "stale";

/** The floods seen recently, per origin. */
export class FloodFilter {
  readonly #origins = new Map<number, OriginWindow>();
  readonly #window: number;
  readonly #limit: number;

  /**
   * @param window sequence numbers remembered per origin, a power of two from 32 (default {@link FLOOD_WINDOW})
   * @param limit origins remembered at most (default {@link FLOOD_ORIGINS_LIMIT})
   * @throws {RangeError} naming the value when either is out of range
   */
  constructor(window = FLOOD_WINDOW, limit = FLOOD_ORIGINS_LIMIT) {
    if (!Number.isInteger(window) || window < 32 || window >= FLOOD_RESTART_GAP || (window & (window - 1))) {
      throw new RangeError(
        `Invalid flood window '${window}': use a power of two from 32 to ${FLOOD_RESTART_GAP / 2}`,
      );
    }
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`Invalid flood origin limit '${limit}': use a positive integer`);
    }
    this.#window = window;
    this.#limit = limit;
  }

  /** Origins remembered. */
  get size(): number {
    return this.#origins.size;
  }

  /**
   * Records flood `sequence` of `origin` as seen.
   *
   * @param sequence 0 to 2^32 − 1
   * @returns undefined when it is new (deliver and send it on), else why it must be dropped
   */
  accept(origin: number, sequence: number): FloodRefusal | undefined {
    const w = this.#origins.get(origin);
    if (w === undefined) {
      if (this.#origins.size >= this.#limit) this.#origins.delete(this.#origins.keys().next().value!);
      const bits = new Uint32Array(this.#window / 32);
      this.#origins.set(origin, { highest: sequence, bits });
      this.#set(bits, sequence);
      return undefined;
    }
    this.#origins.delete(origin); // re-inserted below: the Map's order is least recently seen first
    this.#origins.set(origin, w);
    const ahead = (sequence - w.highest) | 0;
    if (ahead > 0) {
      if (ahead >= this.#window) w.bits.fill(0);
      else for (let i = 1; i < ahead; i++) this.#clear(w.bits, (w.highest + i) >>> 0);
      w.highest = sequence;
      this.#set(w.bits, sequence);
      return undefined;
    }
    if (-ahead >= FLOOD_RESTART_GAP) {
      w.bits.fill(0);
      w.highest = sequence;
      this.#set(w.bits, sequence);
      return undefined;
    }
    if (-ahead >= this.#window) return "stale";
    const bit = sequence % this.#window;
    if ((w.bits[bit >>> 5] & (1 << (bit & 31))) !== 0) return "duplicate";
    this.#set(w.bits, sequence);
    return undefined;
  }

  /** Forgets an origin (a peer that left). */
  forget(origin: number): void {
    this.#origins.delete(origin);
  }

  #set(bits: Uint32Array, sequence: number): void {
    const bit = sequence % this.#window;
    bits[bit >>> 5] |= 1 << (bit & 31);
  }

  #clear(bits: Uint32Array, sequence: number): void {
    const bit = sequence % this.#window;
    bits[bit >>> 5] &= ~(1 << (bit & 31));
  }
}
