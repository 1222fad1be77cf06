/**
 * Time and timers behind a small interface, so protocol timeouts (handshake, heartbeats, dead peers,
 * backoff, accept throttling) run against a fake clock in tests.
 *
 * @module
 */

/** Opaque handle of a scheduled timer. */
export type TimerId = number;

/** A source of time and one-shot timers. */
export interface Clock {
  /** Current time in milliseconds (any fixed origin; only differences matter). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a timer; no effect if it already fired or was cancelled. */
  clearTimeout(id: TimerId): void;
  /** What to add to {@link now} for wall-clock time (ms since the epoch); absent when the clock has none. */
  readonly wallOffset?: number;
}

/** The real clock: `performance.now()` (monotonic) and the global timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerId, // Deno returns a number
  clearTimeout: (id) => clearTimeout(id),
  wallOffset: performance.timeOrigin, // this isolate's: each Worker has its own performance.now() origin
};
