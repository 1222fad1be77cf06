/**
 * A sliding replay window over 64-bit sequence numbers (RFC 6479 style): it accepts each number once, in any
 * order, as long as it is no more than `width − 1` below the highest accepted so far.
 *
 * @module
 */

/** Sequence numbers seen on one sealed link, newest `width` of them. */
export class ReplayWindow {
  /** How many numbers below the highest are still accepted once (plus the highest). */
  readonly width: number;
  readonly #bits: Uint32Array;
  #highest = -1;

  /**
   * @param width the window in sequence numbers, a multiple of 32 from 32 to 2^20
   * @throws {RangeError} naming the width when it is not
   */
  constructor(width: number) {
    if (!Number.isInteger(width) || width < 32 || width > 1 << 20 || width % 32 !== 0) {
      throw new RangeError(`Invalid replay window width '${width}': use a multiple of 32 from 32 to 1048576`);
    }
    this.width = width;
    this.#bits = new Uint32Array(width / 32);
  }

  /** The highest sequence number accepted, or −1 before the first. */
  get highest(): number {
    return this.#highest;
  }

  /** True when {@link accept} would take `seq` (new and not too old); changes nothing. */
  check(seq: number): boolean {
    if (seq > this.#highest) return true;
    if (this.#highest - seq >= this.width) return false;
    const bit = seq % this.width;
    return (this.#bits[bit >>> 5] & (1 << (bit & 31))) === 0;
  }

  /**
   * Records `seq` as seen.
   *
   * @param seq a sequence number from 0 to 2^53 − 1
   * @returns false, changing nothing, when it was seen already or is older than the window
   */
  accept(seq: number): boolean {
    if (!this.check(seq)) return false;
    if (seq > this.#highest) {
      if (seq - this.#highest >= this.width) this.#bits.fill(0);
      else for (let s = this.#highest + 1; s < seq; s++) this.#clear(s % this.width);
      this.#highest = seq;
    }
    const bit = seq % this.width;
    this.#bits[bit >>> 5] |= 1 << (bit & 31);
    return true;
  }

  /** Forgets everything (a new session key starts sequence numbers again at 0). */
  reset(): void {
    this.#bits.fill(0);
    this.#highest = -1;
  }

  #clear(bit: number): void {
    this.#bits[bit >>> 5] &= ~(1 << (bit & 31));
  }
}
