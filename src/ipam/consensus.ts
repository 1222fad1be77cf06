/**
 * Ring initialisation by consensus: single-decree Paxos over gossip, as in the reference. Every participating
 * peer is acceptor and learner, and proposer once it wants the ring. The acceptor states live in the ring
 * (Ring.votes, one per peer, written only by that peer) and travel with it, so messages are just ring gossip.
 *
 * The decided value is the set of participants the winning proposer knew; every peer that sees a quorum of
 * acceptors accept one (round, value) initialises the same ring from it. Observers never vote.
 *
 * @module
 */

import type { PeerName } from "../mesh/gossip.ts";
import { CONSENSUS_RETRY_MS } from "./constants.ts";
import { compareRounds, type Ring, type Round, type Vote } from "./ring.ts";

/** The zero round, below every proposal. */
const ZERO: Round = { n: 0, by: "" };

/**
 * One peer's side of the consensus: its proposer timer, and the steps it takes on each change or tick.
 *
 * The proposer waits until it knows all N participants, so peers launched together all become founders (and
 * voters); when one is missing it proposes with a quorum after {@link CONSENSUS_RETRY_MS}, so a peer that is
 * down at launch cannot block the ring.
 */
export class Consensus {
  /** Acceptors needed: floor(N/2)+1. */
  readonly quorum: number;
  #proposedAt?: number;
  #wantedAt?: number;

  readonly #random: () => number;

  /**
   * A consensus participant.
   * @param self this peer
   * @param count N of --ipalloc-init consensus=N
   * @param random uniform in [0, 1), for retry jitter (injected for determinism)
   */
  constructor(readonly self: PeerName, readonly count: number, random: () => number) {
    this.#random = random;
    this.quorum = Math.floor(count / 2) + 1;
  }

  /** Puts this peer's vote into the ring, so others count it as a participant. */
  join(ring: Ring): boolean {
    if (ring.isInitialised() || ring.votes.has(this.self)) return false;
    ring.setVote(this.self, { promise: ZERO });
    return true;
  }

  /**
   * Takes every step the ring's votes allow: learn a decision, promise, accept, and (when `wanted`) propose.
   * @param now milliseconds, for the proposer's retry timer
   * @returns true when the ring changed
   */
  step(ring: Ring, wanted: boolean, now: number): boolean {
    if (ring.isInitialised()) return false;
    const quorum = this.quorumFor(ring);
    if (learn(ring, quorum)) return true;
    const before = JSON.stringify(ring.votes.get(this.self));
    const me: Vote = structuredClone(ring.votes.get(this.self) ?? { promise: ZERO });
    const votes = [...ring.votes.values()];
    const highest = votes.reduce((m, v) => compareRounds(v.promise, m) > 0 ? v.promise : m, me.promise);
    if (compareRounds(highest, me.promise) > 0) me.promise = highest;
    const leader = ring.votes.get(me.promise.by);
    const mineAccepted = me.accepted && compareRounds(me.accepted.round, me.promise) === 0;
    if (me.promise.by === this.self && !mineAccepted) {
      const promised = votes.filter((v) => compareRounds(v.promise, me.promise) === 0);
      if (promised.length >= quorum) {
        const prior = promised.map((v) => v.accepted).filter((a) => a !== undefined)
          .sort((a, b) => compareRounds(b.round, a.round))[0];
        me.accepted = { round: me.promise, value: prior ? prior.value : [...ring.votes.keys()].sort() };
      }
    } else if (!mineAccepted && leader?.accepted && compareRounds(leader.accepted.round, me.promise) === 0) {
      me.accepted = structuredClone(leader.accepted);
    }
    if (wanted) this.#wantedAt ??= now;
    const due = this.#proposedAt === undefined ||
      now - this.#proposedAt >= CONSENSUS_RETRY_MS * (1 + this.#random());
    const waited = this.#wantedAt !== undefined && now - this.#wantedAt >= CONSENSUS_RETRY_MS;
    if (wanted && due && (ring.votes.size >= this.count || waited) && ring.votes.size >= quorum) {
      me.promise = { n: highest.n + 1, by: this.self };
      this.#proposedAt = now;
    }
    ring.setVote(this.self, me);
    learn(ring, quorum);
    return JSON.stringify(me) !== before || ring.isInitialised();
  }

  /**
   * The quorum in use: from consensus=N, raised to a majority of the participants known when more peers than N
   * take part (quorums of N/2+1 among more than N acceptors need not intersect).
   */
  quorumFor(ring: Ring): number {
    return Math.max(this.quorum, Math.floor(ring.votes.size / 2) + 1);
  }

  /** "awaiting consensus (quorum Q, known K)", for status. */
  describe(ring: Ring): string {
    return `awaiting consensus (quorum ${this.quorumFor(ring)}, known ${ring.votes.size})`;
  }
}

/** Initialises the ring when a quorum of votes accepted one (round, value). */
function learn(ring: Ring, quorum: number): boolean {
  const counts = new Map<string, { n: number; value: PeerName[] }>();
  for (const v of ring.votes.values()) {
    if (!v.accepted) continue;
    const key = JSON.stringify(v.accepted);
    const c = counts.get(key) ?? { n: 0, value: v.accepted.value };
    c.n++;
    counts.set(key, c);
  }
  for (const c of counts.values()) {
    if (c.n >= quorum) {
      ring.initialise(c.value);
      return true;
    }
  }
  return false;
}
