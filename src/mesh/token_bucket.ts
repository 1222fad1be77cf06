/**
 * Accept throttling: a token bucket that limits how fast inbound control connections are accepted,
 * which bounds online password guessing and the entropy drained by handshakes.
 *
 * Model (as in the reference): instead of counting tokens, remember the time the earliest unspent token
 * becomes available. Taking a token moves that time one interval later; the bucket never holds more
 * than `capacity` tokens, so that time never lags more than `capacity - 1` intervals behind now.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";
import { ACCEPT_BUCKET_CAPACITY, ACCEPT_TOKEN_INTERVAL_MS } from "./constants.ts";

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Most tokens held, i.e. the largest burst (default {@link ACCEPT_BUCKET_CAPACITY}). */
  capacity?: number;
  /** One token is added every this many milliseconds (default {@link ACCEPT_TOKEN_INTERVAL_MS}). */
  intervalMs?: number;
  /** Clock (default the system clock). */
  clock?: Clock;
}

/**
 * A token bucket that starts full.
 *
 * @example
 * ```ts ignore
 * const bucket = new TokenBucket();
 * for (;;) {
 *   await bucket.wait();
 *   const conn = await listener.accept();
 *   // …
 * }
 * ```
 */
export class TokenBucket {
  #capacity: number;
  #interval: number;
  #clock: Clock;
  #earliestUnspent: number;

  /**
   * Makes a full bucket.
   *
   * @param options capacity, refill interval and clock
   * @throws {RangeError} when capacity is not a positive integer or the interval is not positive
   */
  constructor(options: TokenBucketOptions = {}) {
    this.#capacity = options.capacity ?? ACCEPT_BUCKET_CAPACITY;
    this.#interval = options.intervalMs ?? ACCEPT_TOKEN_INTERVAL_MS;
    this.#clock = options.clock ?? systemClock;
    if (!Number.isInteger(this.#capacity) || this.#capacity < 1) {
      throw new RangeError(
        `Cannot make token bucket: capacity '${this.#capacity}' is not a positive integer`,
      );
    }
    if (!(this.#interval > 0)) {
      throw new RangeError(`Cannot make token bucket: interval '${this.#interval}' ms is not positive`);
    }
    this.#earliestUnspent = this.#fullSince(this.#clock.now());
  }

  /**
   * Takes a token, which may not exist yet.
   *
   * @returns how many milliseconds to wait before using it (0 when the bucket had one)
   */
  take(): number {
    const now = this.#clock.now();
    const wait = Math.max(0, this.#earliestUnspent - now);
    this.#earliestUnspent = Math.max(this.#earliestUnspent, this.#fullSince(now)) + this.#interval;
    return wait;
  }

  /** The earliest-unspent time of a full bucket at `now`: `capacity` tokens due at or before `now`. */
  #fullSince(now: number): number {
    return now - (this.#capacity - 1) * this.#interval;
  }

  /** Takes a token, waiting until it exists. */
  wait(): Promise<void> {
    const ms = this.take();
    if (ms === 0) return Promise.resolve();
    return new Promise((resolve) => this.#clock.setTimeout(resolve, ms));
  }
}
