/**
 * The readiness wait shared by the in-memory doubles (memory_frame_device.ts, memory_packet_conn.ts): one pending
 * wait, resolved true by a delivery, false by a timeout or close.
 *
 * @module
 */

/** One pending "something to read" wait with an optional timeout. */
export class MemoryWaiter {
  readonly #what: string;
  #resolve: ((ready: boolean) => void) | undefined;

  /** @param what the owner's description for errors, e.g. `Memory conn 10.0.0.1:6783` */
  constructor(what: string) {
    this.#what = what;
  }

  /**
   * Resolves true at the next {@link wake}(true), false at wake(false) or after `timeoutMs`.
   *
   * @param queued true when data is already queued: resolves true at once
   * @param timeoutMs milliseconds to wait at most; negative waits without limit
   * @throws {Deno.errors.Busy} when another wait is pending
   */
  wait(queued: boolean, timeoutMs: number): Promise<boolean> {
    if (this.#resolve) throw new Deno.errors.Busy(`${this.#what} already has a pending wait`);
    if (queued) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = timeoutMs >= 0 ? setTimeout(() => this.wake(false), timeoutMs) : undefined;
      this.#resolve = (ready) => {
        clearTimeout(timer);
        resolve(ready);
      };
    });
  }

  /** Resolves the pending wait, if any, with `ready`. */
  wake(ready: boolean): void {
    const r = this.#resolve;
    this.#resolve = undefined;
    r?.(ready);
  }
}
