/**
 * Requests the main thread sent to a Worker (the sleeve's, the DNS server's) and awaits answers to, each with a
 * deadline, so no caller waits forever on a Worker that is stuck, overloaded or gone (the API's /report and
 * /metrics ask for stats on every call).
 *
 * @module
 */
import type { Clock, TimerId } from "../mesh/clock.ts";

/** The global timers (mesh/clock.ts's systemClock, without importing a folder above this one). */
const globalTimers: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerId,
  clearTimeout: (id) => clearTimeout(id),
};

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
  timer: TimerId;
}

/** Outstanding requests by id. */
export class PendingReplies<T> {
  readonly #pending = new Map<number, Pending<T>>();
  readonly #clock: Clock;
  #nextId = 1;

  /** @param clock the timers of the deadlines (default the global timers) */
  constructor(clock: Clock = globalTimers) {
    this.#clock = clock;
  }

  /** Requests still waiting. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Opens a request.
   *
   * @param timeoutMs how long to wait for {@link settle}
   * @param onTimeout called at the deadline: the request resolves with what it returns, or rejects with what
   *   it throws
   * @returns the id to send, and the reply
   */
  open(timeoutMs: number, onTimeout: () => T): { id: number; reply: Promise<T> } {
    const id = this.#nextId++;
    const reply = new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#pending.delete(id);
        try {
          resolve(onTimeout());
        } catch (e) {
          reject(e);
        }
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    return { id, reply };
  }

  /** Answers request `id`; an unknown id (answered after its deadline) is ignored. */
  settle(id: number, value: T): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    this.#clock.clearTimeout(p.timer);
    p.resolve(value);
  }

  /** Rejects every open request with `error` (the Worker stopped). */
  failAll(error: Error): void {
    for (const p of this.#pending.values()) {
      this.#clock.clearTimeout(p.timer);
      p.reject(error);
    }
    this.#pending.clear();
  }
}
