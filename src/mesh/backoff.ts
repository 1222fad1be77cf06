/**
 * Reconnect backoff for one target address, as in the reference: the interval starts at 2 s and grows
 * ×1.5 after every failed attempt up to a 6 min cap; each actual delay is random in
 * [interval/2, 3·interval/2) so peers that lost each other do not redial in lockstep. A connection that
 * lasted longer than 1 min resets the interval.
 *
 * @module
 */

import { BACKOFF_FACTOR, BACKOFF_INITIAL_MS, BACKOFF_MAX_MS, BACKOFF_RESET_AFTER_MS } from "./constants.ts";

/** Options of {@link Backoff}; every field defaults to the tuning constant of the same name. */
export interface BackoffOptions {
  /** Random number in [0, 1) (default `Math.random`); inject a seeded one in tests. */
  random?: () => number;
  /** First interval in milliseconds. */
  initialMs?: number;
  /** Growth factor per attempt (> 1). */
  factor?: number;
  /** Cap on the interval in milliseconds. */
  maxMs?: number;
  /** A connection that lasted longer than this (milliseconds) resets the interval. */
  resetAfterMs?: number;
}

/**
 * The retry schedule of one target.
 *
 * @example
 * ```ts
 * import { Backoff } from "./backoff.ts";
 * const backoff = new Backoff({ random: () => 0.5 });
 * backoff.next(); // 2000
 * backoff.next(); // 3000
 * backoff.connectionEnded(90_000); // lasted over 1 min: back to 2 s
 * ```
 */
export class Backoff {
  #random: () => number;
  #initial: number;
  #factor: number;
  #max: number;
  #resetAfter: number;
  #interval: number;

  /**
   * Makes a schedule at its initial interval.
   *
   * @param options random source and schedule; see {@link BackoffOptions}
   */
  constructor(options: BackoffOptions = {}) {
    this.#random = options.random ?? Math.random;
    this.#initial = options.initialMs ?? BACKOFF_INITIAL_MS;
    this.#factor = options.factor ?? BACKOFF_FACTOR;
    this.#max = options.maxMs ?? BACKOFF_MAX_MS;
    this.#resetAfter = options.resetAfterMs ?? BACKOFF_RESET_AFTER_MS;
    this.#interval = this.#initial;
  }

  /** The current interval in milliseconds (the centre of the next delay's range). */
  get interval(): number {
    return this.#interval;
  }

  /**
   * The delay before the next attempt in milliseconds, random in [interval/2, 3·interval/2); grows the
   * interval for the attempt after.
   */
  next(): number {
    const delay = this.#interval / 2 + this.#random() * this.#interval;
    this.#interval = Math.min(this.#interval * this.#factor, this.#max);
    return delay;
  }

  /** Reports that a connection to the target ended after `lastedMs`; resets if it lasted long enough. */
  connectionEnded(lastedMs: number): void {
    if (lastedMs > this.#resetAfter) this.reset();
  }

  /** Back to the initial interval (e.g. the user asked to connect now). */
  reset(): void {
    this.#interval = this.#initial;
  }
}
