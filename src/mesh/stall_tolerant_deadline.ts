/**
 * A "nothing heard for too long" deadline that a busy host does not trip: it counts only time during which
 * our own event loop ran.
 *
 * Flow: a timer checks every `timeoutMs / checks`; each check charges the time since the previous one, but
 * never more than the delay it was scheduled for. A check that fires late means our loop was stalled (a
 * CPU-starved host, a long synchronous task), and during a stall the peer's messages sit unread in our own
 * buffers, so the stall is not the peer's fault and is not charged. The deadline expires when the charged
 * time since the last sign of life reaches `timeoutMs`: in effect, after `checks` missed intervals of our own
 * loop rather than after a span of wall time. {@link StallTolerantDeadline.alive} (progress) starts the count
 * again; it costs no timer operation, so it may be called for every message.
 *
 * Concurrency: one timer on the given clock; all calls on the caller's event loop.
 *
 * @module
 */
import { type Clock, systemClock, type TimerId } from "./clock.ts";

/** Checks per timeout by default: a stall costs the peer at most one eighth of its allowance. */
export const DEADLINE_CHECKS = 8;

/** Options of a {@link StallTolerantDeadline}. */
export interface DeadlineOptions {
  /** Charged time without a sign of life after which the deadline expires, in ms (> 0). */
  timeoutMs: number;
  /** Checks per timeout (default {@link DEADLINE_CHECKS}); at most one check interval of a stall is charged. */
  checks?: number;
  /** Time and timers (default the system clock). */
  clock?: Clock;
  /**
   * Checks fall on multiples of this many ms of the clock (default 0: no grid), so many deadlines with one
   * grid share each timer wakeup instead of waking the loop one by one; the deadline then expires up to
   * this much after its timeout.
   */
  gridMs?: number;
  /**
   * Called once when the deadline expires.
   *
   * @param silentMs wall time since the last sign of life (or the start)
   * @param stalledMs how much of it our own event loop was stalled (not charged)
   */
  onExpire(silentMs: number, stalledMs: number): void;
}

/**
 * A deadline that tolerates a stalled event loop.
 *
 * @example
 * ```ts
 * import { StallTolerantDeadline } from "./stall_tolerant_deadline.ts";
 * const d = new StallTolerantDeadline({ timeoutMs: 10_000, onExpire: (ms) => console.log(`silent ${ms} ms`) });
 * d.start();
 * d.alive(); // on every message from the peer
 * d.stop();
 * ```
 */
export class StallTolerantDeadline {
  readonly #clock: Clock;
  readonly #timeout: number;
  readonly #step: number;
  readonly #onExpire: DeadlineOptions["onExpire"];
  readonly #grid: number;
  #timer: TimerId | null = null;
  #delay = 0;
  #charged = 0;
  #lastCheck = 0;
  #since = 0;

  /**
   * @throws {RangeError} naming the value when `timeoutMs` or `checks` is not positive
   */
  constructor(options: DeadlineOptions) {
    const checks = options.checks ?? DEADLINE_CHECKS;
    if (!(options.timeoutMs > 0) || !Number.isInteger(checks) || checks < 1) {
      throw new RangeError(
        `Invalid deadline: timeout ${options.timeoutMs} ms with ${checks} checks; use a positive timeout and ` +
          "a positive whole number of checks",
      );
    }
    this.#clock = options.clock ?? systemClock;
    this.#timeout = options.timeoutMs;
    this.#step = options.timeoutMs / checks;
    this.#onExpire = options.onExpire;
    this.#grid = options.gridMs ?? 0;
  }

  /** True while the deadline runs (started, not stopped, not expired). */
  get running(): boolean {
    return this.#timer !== null;
  }

  /** Starts (or restarts) the count from now. */
  start(): void {
    this.stop();
    this.alive();
    this.#schedule();
  }

  /** A sign of life: the count starts again from now. */
  alive(): void {
    this.#charged = 0;
    this.#since = this.#lastCheck = this.#clock.now();
  }

  /** Stops the deadline; it never expires then. Idempotent. */
  stop(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    this.#delay = Math.min(this.#step, this.#timeout - this.#charged);
    if (this.#grid > 0) this.#delay = onGrid(this.#clock.now(), this.#delay, this.#grid);
    this.#timer = this.#clock.setTimeout(() => this.#check(), this.#delay);
  }

  #check(): void {
    const now = this.#clock.now();
    this.#charged += Math.min(now - this.#lastCheck, this.#delay);
    this.#lastCheck = now;
    if (this.#charged < this.#timeout - 1e-6) return this.#schedule();
    this.#timer = null;
    const silent = now - this.#since;
    this.#onExpire(silent, Math.max(0, silent - this.#charged));
  }
}

/** The delay from `now` to the first multiple of `grid` at least `ms` away (all in ms). */
export function onGrid(now: number, ms: number, grid: number): number {
  return Math.ceil((now + ms) / grid) * grid - now;
}
