/**
 * The receive queue shared by the in-memory doubles (memory_frame_device.ts, memory_packet_conn.ts): a bounded
 * FIFO with one pending readiness wait, resolved true by a delivery and false by a timeout or close.
 *
 * @module
 */

/** A bounded FIFO of received items that a reader can wait on; closed once, for good. */
export class MemoryQueue<T> {
  readonly #what: string;
  readonly #capacity: number;
  readonly #items: T[] = [];
  #closed = false;
  #resolve: ((ready: boolean) => void) | undefined;

  /**
   * @param what the owner's description for errors, e.g. `Memory conn 10.0.0.1:6783`
   * @param capacity the most items held; {@link push} refuses more
   */
  constructor(what: string, capacity: number) {
    this.#what = what;
    this.#capacity = capacity;
  }

  /** Items queued and not taken yet. */
  get length(): number {
    return this.#items.length;
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Queues `item` and wakes the reader; false (nothing queued) when full or closed. */
  push(item: T): boolean {
    if (this.#closed || this.#items.length >= this.#capacity) return false;
    this.#items.push(item);
    this.#wake(true);
    return true;
  }

  /** The oldest item, removed; undefined when empty. */
  take(): T | undefined {
    return this.#items.shift();
  }

  /**
   * Resolves true when an item is queued (at once if one is), false after `timeoutMs` or at {@link close}.
   *
   * @param timeoutMs milliseconds to wait at most; negative waits without limit
   * @throws {Deno.errors.BadResource} when closed
   * @throws {Deno.errors.Busy} when another wait is pending
   */
  wait(timeoutMs: number): Promise<boolean> {
    this.assertOpen();
    if (this.#resolve) throw new Deno.errors.Busy(`${this.#what} already has a pending wait`);
    if (this.#items.length > 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = timeoutMs >= 0 ? setTimeout(() => this.#wake(false), timeoutMs) : undefined;
      this.#resolve = (ready) => {
        clearTimeout(timer);
        resolve(ready);
      };
    });
  }

  /**
   * Throws when closed; the owners call it at the top of every method.
   *
   * @throws {Deno.errors.BadResource} `<what> is closed`
   */
  assertOpen(): void {
    if (this.#closed) throw new Deno.errors.BadResource(`${this.#what} is closed`);
  }

  /** Drops the queued items and resolves a pending wait false; returns false when already closed. */
  close(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    this.#items.length = 0;
    this.#wake(false);
    return true;
  }

  #wake(ready: boolean): void {
    const r = this.#resolve;
    this.#resolve = undefined;
    r?.(ready);
  }
}
