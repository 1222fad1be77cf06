/**
 * Whether one peer pair may use fastdp, from its heartbeats: a pure state machine driven by the caller's
 * clock (no timers inside), so it is tested with a fake one.
 *
 *   probing ──ACKS_TO_USE acks in a row──▶ up ──no ack for FALLBACK_AFTER_MS──▶ down ──acks in a row──▶ up
 *
 * Only the ack of the latest probe counts; a probe left unanswered when the next one goes out breaks the
 * streak.
 *
 * @module
 */
import { ACKS_TO_USE, FALLBACK_AFTER_MS } from "./constants.ts";

/** `probing` until the first success, `up` on fastdp, `down` after heartbeats stopped. */
export type PairState = "probing" | "up" | "down";

/** The heartbeat state of one pair. */
export class PairHealth {
  #state: PairState = "probing";
  #sequence = 0;
  #answered = true;
  #streak = 0;
  #lastAck = 0;

  /** The current state. */
  get state(): PairState {
    return this.#state;
  }

  /**
   * Records a probe sent now.
   *
   * @returns its sequence number, to put in the frame
   */
  probe(): number {
    if (!this.#answered) this.#streak = 0;
    this.#answered = false;
    this.#sequence = (this.#sequence + 1) >>> 0;
    return this.#sequence;
  }

  /**
   * Records an ack received at `now` (ms).
   *
   * @returns true when this ack put the pair on fastdp
   */
  acked(sequence: number, now: number): boolean {
    if (sequence !== this.#sequence || this.#answered) return false;
    this.#answered = true;
    this.#streak++;
    this.#lastAck = now;
    if (this.#state === "up" || this.#streak < ACKS_TO_USE) return false;
    this.#state = "up";
    return true;
  }

  /**
   * Checks the deadline at `now` (ms).
   *
   * @returns true when the pair just fell back (no ack for {@link FALLBACK_AFTER_MS})
   */
  expired(now: number): boolean {
    if (this.#state !== "up" || now - this.#lastAck <= FALLBACK_AFTER_MS) return false;
    this.#state = "down";
    this.#streak = 0;
    return true;
  }
}
