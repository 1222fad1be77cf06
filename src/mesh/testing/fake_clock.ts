/**
 * A manual {@link Clock} for tests: time stands still until the test advances it, and `advance` runs the
 * due timers in time order, letting pending promise callbacks run after each one.
 *
 * @module
 */

import type { Clock, TimerId } from "../clock.ts";

interface Timer {
  id: TimerId;
  at: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./fake_clock.ts";
 * const clock = new FakeClock();
 * let fired = false;
 * clock.setTimeout(() => (fired = true), 1000);
 * await clock.advance(999); // fired === false
 * await clock.advance(1); // fired === true
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers: Timer[] = [];

  /**
   * Makes a clock stopped at `start`.
   *
   * @param start the initial time in milliseconds
   */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current fake time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at now + `ms` (negative delays count as 0). */
  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#nextId++;
    this.#timers.push({ id, at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  /** Cancels a timer. */
  clearTimeout(id: TimerId): void {
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** Number of timers still scheduled. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order (timers they schedule that fall due within
   * the step fire too) and settling pending promise callbacks after each timer and at the end.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await settle();
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at); // after a stall, overdue timers fire late
      due.fn();
    }
    this.#now = end;
  }

  /**
   * Moves time forward by `ms` without firing anything, as when the event loop is busy: timers that fall
   * due meanwhile fire late, at the next {@link FakeClock.advance}.
   */
  stall(ms: number): void {
    this.#now += ms;
  }
}

/** Lets every queued promise callback run (one real macrotask turn). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
