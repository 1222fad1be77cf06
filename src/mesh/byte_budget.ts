/**
 * A count of bytes shared by many holders against one limit: the memory all not-yet-authenticated
 * connections may hold together. Holders reserve before they allocate and release when done; a reservation
 * that does not fit is refused, never queued.
 *
 * @module
 */

/**
 * Bytes reserved out of a fixed limit.
 *
 * @example
 * ```ts
 * import { ByteBudget } from "./byte_budget.ts";
 * const budget = new ByteBudget(10);
 * budget.tryReserve(8); // true
 * budget.tryReserve(8); // false: 16 > 10
 * budget.release(8);
 * budget.held; // 0
 * ```
 */
export class ByteBudget {
  /** The most bytes that may be reserved at once. */
  readonly limit: number;
  #held = 0;

  /**
   * @param limit the most bytes that may be reserved at once
   * @throws {RangeError} when `limit` is negative or not an integer
   */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 0) {
      throw new RangeError(`Cannot make a byte budget of ${limit}: give a whole number of bytes, 0 or more`);
    }
    this.limit = limit;
  }

  /** Bytes reserved now. */
  get held(): number {
    return this.#held;
  }

  /** Reserves `bytes` if they fit under the limit; false (and nothing reserved) if they do not. */
  tryReserve(bytes: number): boolean {
    if (this.#held + bytes > this.limit) return false;
    this.#held += bytes;
    return true;
  }

  /**
   * Returns `bytes` reserved earlier.
   *
   * @throws {RangeError} when more is released than is held (a bookkeeping bug)
   */
  release(bytes: number): void {
    if (bytes > this.#held) {
      throw new RangeError(`Cannot release ${bytes} bytes from a budget holding ${this.#held}`);
    }
    this.#held -= bytes;
  }
}
