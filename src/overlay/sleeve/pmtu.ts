/**
 * Path MTU discovery for one peer: a binary search over datagram sizes with DF set. The first probe tries the
 * ceiling (usually the answer is "the whole path MTU works"); an acked probe raises the floor, a probe that
 * times out {@link PMTU_PROBE_TRIES} times, or that the kernel refuses with EMSGSIZE, lowers the ceiling.
 * The result is the largest datagram the peer acknowledged; it becomes the hop's batch limit.
 *
 * Pure: the engine calls {@link PmtuSearch.next} on its timer and sends what it returns.
 *
 * @module
 */
import {
  MIN_DATAGRAM,
  PMTU_PRECISION,
  PMTU_PROBE_TIMEOUT_MS,
  PMTU_PROBE_TRIES,
  PMTU_RECHECK_MS,
} from "./constants.ts";

/** The path MTU search state of one peer. */
export class PmtuSearch {
  readonly #ceiling: number;
  #result: number;
  #verified = false;
  /** Largest size acked in this search, or MIN_DATAGRAM − 1. */
  #low = MIN_DATAGRAM - 1;
  /** Smallest size known too big, or ceiling + 1. */
  #high: number;
  #probe: { size: number; sentAt: number; tries: number } | undefined;
  #doneAt: number | undefined;
  #started = false;

  /**
   * @param ceiling the largest datagram to try, in bytes
   * @param assumed the datagram size to use before the first search ends, in bytes
   */
  constructor(ceiling: number, assumed: number) {
    this.#ceiling = ceiling;
    this.#high = ceiling + 1;
    this.#result = Math.min(assumed, ceiling);
  }

  /** The largest datagram to send to the peer now, in bytes: the last result, or the assumed size before one. */
  get maxDatagram(): number {
    return this.#result;
  }

  /** True once a search has finished with an acknowledged size. */
  get verified(): boolean {
    return this.#verified;
  }

  /**
   * When {@link next} has something to do (ms on the caller's clock): the pending probe's timeout, the
   * recheck of a finished search, or now (-Infinity) when the next probe can go at once.
   */
  get dueAt(): number {
    if (this.#doneAt !== undefined) return this.#doneAt + PMTU_RECHECK_MS;
    return this.#probe ? this.#probe.sentAt + PMTU_PROBE_TIMEOUT_MS : -Infinity;
  }

  /**
   * The datagram size to probe at `now` (ms), or undefined when nothing is due. Call it again after sending
   * until it returns undefined.
   */
  next(now: number): number | undefined {
    if (this.#doneAt !== undefined) {
      if (now - this.#doneAt < PMTU_RECHECK_MS) return undefined;
      this.#restart();
    }
    const p = this.#probe;
    if (p) {
      if (now - p.sentAt < PMTU_PROBE_TIMEOUT_MS) return undefined;
      if (++p.tries < PMTU_PROBE_TRIES) {
        p.sentAt = now;
        return p.size;
      }
      this.#high = Math.min(this.#high, p.size);
      this.#probe = undefined;
    }
    if (this.#high - Math.max(this.#low, MIN_DATAGRAM - 1) <= PMTU_PRECISION || this.#high <= MIN_DATAGRAM) {
      this.#finish(now);
      return undefined;
    }
    const size = this.#started ? Math.ceil((this.#low + this.#high) / 2) : this.#high - 1;
    this.#started = true;
    this.#probe = { size, sentAt: now, tries: 0 };
    return size;
  }

  /** The peer acknowledged a probe of `size` bytes. */
  acked(size: number): void {
    if (size > this.#low) this.#low = size;
    if (size >= this.#high) this.#high = size + 1;
    if (this.#probe?.size === size) this.#probe = undefined;
  }

  /**
   * A datagram of `size` bytes was refused as too big (EMSGSIZE: the path shrank, or a probe was too big):
   * search again below it, meanwhile using the largest size acked so far, or `size − 1` when none was.
   */
  tooBig(size: number): void {
    if (this.#doneAt !== undefined) this.#restart();
    this.#high = Math.min(this.#high, size);
    if (this.#low >= size) this.#low = MIN_DATAGRAM - 1;
    if (this.#probe !== undefined && this.#probe.size >= size) this.#probe = undefined;
    if (this.#result >= size) {
      this.#result = Math.max(MIN_DATAGRAM, this.#low >= MIN_DATAGRAM ? this.#low : size - 1);
    }
  }

  #finish(now: number): void {
    this.#result = Math.max(this.#low, MIN_DATAGRAM);
    this.#verified = this.#low >= MIN_DATAGRAM;
    this.#doneAt = now;
  }

  #restart(): void {
    this.#doneAt = undefined;
    this.#low = MIN_DATAGRAM - 1;
    this.#high = this.#ceiling + 1;
    this.#probe = undefined;
    this.#started = false;
  }
}
