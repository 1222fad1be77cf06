/**
 * Whether one peer pair may use fastdp, from its heartbeats: a pure state machine driven by the caller's
 * clock (no timers inside), so it is tested with a fake one.
 *
 *   probing ──ACKS_TO_USE acks in a row──▶ up ──FALLBACK_MISSED probes unanswered──▶ down ──acks in a row──▶ up
 *
 * Probes go every {@link HEARTBEAT_MS} until the pair is up, then at the slow interval ({@link slowInterval}:
 * {@link HEARTBEAT_SLOW_MS}, longer when many pairs are up), and fast again as soon as one went unanswered for
 * {@link ACK_WAIT_MS}, so a broken path is confirmed in {@link FALLBACK_MISSED} − 1 fast probes rather than
 * slow ones (a transfer on a dead VXLAN path loses every frame meanwhile, and TCP's retransmission backoff
 * doubles with the outage). Only the ack of the latest probe counts toward coming up; a probe left unanswered
 * when the next one goes out breaks the streak and counts as missed, and a late ack of one of the last
 * {@link FALLBACK_MISSED} probes clears the misses (the path works; the peer was busy). Missed probes are
 * counted, not wall time: while our own event loop is stalled no probe goes out, so a busy host does not drop
 * its pairs, and acks a busy peer sends late keep the pair too.
 *
 * @module
 */
import {
  ACK_WAIT_MS,
  ACKS_TO_USE,
  FALLBACK_MISSED,
  HEARTBEAT_MS,
  HEARTBEAT_SLOW_MAX_MS,
  HEARTBEAT_SLOW_MS,
  HEARTBEAT_SLOW_PER_S,
} from "./constants.ts";

/**
 * The interval between heartbeats to a pair on fastdp, in ms, when `pairsUp` pairs are: {@link HEARTBEAT_SLOW_MS},
 * or with more pairs than that many seconds' budget allows ({@link HEARTBEAT_SLOW_PER_S}), as long as it
 * takes to send each one heartbeat within the budget, up to {@link HEARTBEAT_SLOW_MAX_MS}. A multiple of
 * {@link HEARTBEAT_MS}, the period of the rounds that send them.
 */
export function slowInterval(pairsUp: number): number {
  const budget = Math.ceil(pairsUp * 1000 / HEARTBEAT_SLOW_PER_S / HEARTBEAT_MS) * HEARTBEAT_MS;
  return Math.min(HEARTBEAT_SLOW_MAX_MS, Math.max(HEARTBEAT_SLOW_MS, budget));
}

/** `probing` until the first success, `up` on fastdp, `down` after heartbeats stopped. */
export type PairState = "probing" | "up" | "down";

/** The heartbeat state of one pair. */
export class PairHealth {
  #state: PairState = "probing";
  #sequence = 0;
  #answered = true;
  #streak = 0;
  #missed = 0;
  #lastProbe = -Infinity;

  /** The interval while the pair is up and answering, in ms; the caller sets it from {@link slowInterval}. */
  slowMs = HEARTBEAT_SLOW_MS;

  /** The current state. */
  get state(): PairState {
    return this.#state;
  }

  /**
   * The interval between probes now, in ms: {@link slowMs} while the pair is up and answering, {@link ACK_WAIT_MS}
   * while such a probe waits for its ack, fast otherwise.
   */
  get interval(): number {
    if (this.#state !== "up" || this.#missed > 0) return HEARTBEAT_MS;
    return this.#answered ? this.slowMs : ACK_WAIT_MS;
  }

  /**
   * True when a probe is due at `now` (ms). Called once per heartbeat round ({@link HEARTBEAT_MS}); half a
   * round of slack keeps a round that fires a little early from skipping a whole interval.
   */
  due(now: number): boolean {
    return now - this.#lastProbe >= this.interval - HEARTBEAT_MS / 2;
  }

  /**
   * Records a probe sent at `now` (ms).
   *
   * @returns its sequence number, to put in the frame
   */
  probe(now: number): number {
    if (!this.#answered) {
      this.#streak = 0;
      this.#missed++;
    }
    this.#answered = false;
    this.#lastProbe = now;
    this.#sequence = (this.#sequence + 1) >>> 0;
    return this.#sequence;
  }

  /**
   * Records an ack of probe `sequence`.
   *
   * @returns true when this ack put the pair on fastdp
   */
  acked(sequence: number): boolean {
    if (sequence !== this.#sequence) {
      // A late ack of one of the last probes: the path works and the peer was slow (a busy host), so the
      // pair does not fall back for it; only the latest probe's ack counts toward coming up.
      if (((this.#sequence - sequence) >>> 0) < FALLBACK_MISSED) this.#missed = 0;
      return false;
    }
    if (this.#answered) return false;
    this.#answered = true;
    this.#streak++;
    this.#missed = 0;
    if (this.#state === "up" || this.#streak < ACKS_TO_USE) return false;
    this.#state = "up";
    return true;
  }

  /**
   * Checks the missed probes.
   *
   * @returns true when the pair just fell back ({@link FALLBACK_MISSED} probes in a row unanswered)
   */
  expired(): boolean {
    if (this.#state !== "up" || this.#missed < FALLBACK_MISSED) return false;
    this.#state = "down";
    this.#streak = 0;
    return true;
  }
}
