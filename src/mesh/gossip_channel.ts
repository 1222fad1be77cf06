/**
 * One gossip channel (topology, IPAM, DNS): the {@link Gossip} a subsystem sends with, and delivery of
 * received messages to its {@link Gossiper}.
 *
 * Flow: sends go to direct neighbours only (the next hop of a unicast, our children in the source's
 * broadcast tree, or a weighted random neighbour subset). A neighbour that is congested gets nothing
 * immediately: its pending neighbour gossip is merged into one datum, pending broadcasts into one datum
 * per source, and unicasts are queued in order; {@link GossipChannel.flush} sends them as few messages.
 * Everything is synchronous and single-threaded.
 *
 * A new connection gets the full state of a plain {@link Gossiper}; a {@link DigestGossiper} sends a digest
 * instead (name and version per entry), and each side answers the other's digest with only what the other
 * lacks or holds older, so a peer that joins a mesh of N does not receive N whole tables.
 *
 * Data handed to the channel (updates, deltas, full state) belongs to it afterwards: pending data may be
 * merged into, and one datum may be shared by several neighbours' queues, so a congested neighbour may
 * receive a superset of what was meant for it, which a CRDT accepts.
 *
 * @module
 */

import type { DigestGossiper, Gossip, GossipData, Gossiper, PeerName } from "./gossip.ts";
import type { Routes } from "./routes.ts";
import { Tag } from "./constants.ts";
import { encodeGossipMessage, type GossipMessage, type GossipTag } from "./gossip_message.ts";

/** What a channel needs from the mesh it belongs to. */
export interface ChannelHost {
  /** Our peer name. */
  readonly us: PeerName;
  /** Current routes. */
  readonly routes: Routes;
  /** Uniform in [0, 1). */
  random(): number;
  /** Whether `neighbour` is connected but cannot take more data now. */
  congested(neighbour: PeerName): boolean;
  /** The directly connected neighbours now (routes may not know a brand-new one yet). */
  neighbours(): Iterable<PeerName>;
  /** Sends one encoded gossip message to a direct neighbour, counted against `channel`. */
  transmit(neighbour: PeerName, tag: GossipTag, bytes: Uint8Array, channel: string): void;
}

/**
 * A {@link Gossiper} that answers neighbour gossip: with what it holds newer than the sender sent, so a
 * neighbour that missed a delta (lost, or relayed along a path that broke) is repaired when it next gossips
 * (push-pull anti-entropy) rather than when we happen to send it our full state.
 */
export interface AnsweringGossiper extends Gossiper {
  /**
   * Applies neighbour gossip like {@link Gossiper.onGossip}: `delta` is what was new here (to gossip on),
   * `answer` what to send back to the sender; each undefined when empty.
   * @throws {Error} when `msg` cannot be decoded; the caller drops it and logs.
   */
  onGossipAnswering(
    src: PeerName,
    msg: Uint8Array,
  ): { delta?: GossipData; answer?: GossipData; request?: Uint8Array };
  /**
   * Answers a digest from `src` instead of {@link DigestGossiper.answerDigest} when present: `answer` goes to
   * `src` as neighbour gossip, `request` (a digest asking for what we lack) as a digest.
   * @throws {Error} when `digest` cannot be decoded; the caller drops it and logs.
   */
  onDigestAnswering?(src: PeerName, digest: Uint8Array): { answer?: GossipData; request?: Uint8Array };
}

function answers(g: Gossiper): g is AnsweringGossiper {
  return "onGossipAnswering" in g;
}

function digests(g: Gossiper): g is DigestGossiper {
  return "answerDigest" in g;
}

interface Pending {
  gossip?: GossipData;
  readonly broadcasts: Map<PeerName, GossipData>;
  /** Encoded unicasts and digests, in order. */
  readonly raw: { tag: GossipTag; bytes: Uint8Array }[];
}

/** Grouping of our own broadcasts: the first after a quiet spell goes at once, later ones are merged. */
export interface BroadcastThrottle {
  /** How long after a broadcast the next is held and merged (ms). */
  ms: number;
  /** The clock (ms). */
  now(): number;
  /** Called when a broadcast starts being held: {@link GossipChannel.heldDueAt} is set now. */
  held?(): void;
}

/** One named channel bound to its {@link Gossiper}. */
export class GossipChannel implements Gossip {
  /** The channel name. */
  readonly name: string;
  /** The receiving subsystem. */
  readonly gossiper: Gossiper;
  readonly #host: ChannelHost;
  readonly #fullStateOnly: boolean;
  readonly #pending = new Map<PeerName, Pending>();
  readonly #throttle?: BroadcastThrottle;
  #lastBroadcast = -Infinity;
  /** Our own broadcasts held by the throttle, merged. */
  #held?: GossipData;

  /**
   * @param fullStateOnly send the gossiper's full state wherever a delta would go (a baseline for benchmarks)
   * @param throttle group our own broadcasts (see {@link GossipChannel.sendHeld}); none: each goes at once
   */
  constructor(
    name: string,
    gossiper: Gossiper,
    host: ChannelHost,
    fullStateOnly = false,
    throttle?: BroadcastThrottle,
  ) {
    this.name = name;
    this.gossiper = gossiper;
    this.#host = host;
    this.#fullStateOnly = fullStateOnly;
    this.#throttle = throttle;
  }

  /** Sends `msg` to `dst` along the unicast route over all connections; dropped when there is none. */
  gossipUnicast(dst: PeerName, msg: Uint8Array): void {
    const hop = this.#host.routes.unicastAll(dst);
    if (hop === undefined) return;
    const bytes = encodeGossipMessage(Tag.gossipUnicast, {
      channel: this.name,
      src: this.#host.us,
      dst,
      payload: msg,
    });
    this.#sendRaw(hop, Tag.gossipUnicast, bytes);
  }

  /**
   * Sends `update` to our children in our own broadcast tree; with a throttle, one within its time of the last
   * is held and merged with those that follow until {@link GossipChannel.sendHeld}.
   */
  gossipBroadcast(update: GossipData): void {
    const t = this.#throttle;
    if (t === undefined) return this.relayBroadcast(this.#host.us, update);
    if (this.#held !== undefined) {
      this.#held = this.#held.merge(update);
      return;
    }
    if (t.now() - this.#lastBroadcast < t.ms) {
      this.#held = update;
      t.held?.();
      return;
    }
    this.#lastBroadcast = t.now();
    this.relayBroadcast(this.#host.us, update);
  }

  /** When held broadcasts are due (see {@link GossipChannel.sendHeld}); undefined when none are held. */
  heldDueAt(): number | undefined {
    return this.#held === undefined ? undefined : this.#lastBroadcast + this.#throttle!.ms;
  }

  /** Sends the held broadcasts, merged into one, once they are due at `now`. */
  sendHeld(now: number): void {
    const due = this.heldDueAt();
    if (due === undefined || now < due) return;
    const held = this.#held!;
    this.#held = undefined;
    this.#lastBroadcast = now;
    this.relayBroadcast(this.#host.us, held);
  }

  /** Sends `update` to a random neighbour subset (see {@link Routes.randomNeighbours}). */
  gossipNeighbourSubset(update: GossipData): void {
    this.#gossipSubset(undefined, update);
  }

  /** Sends `update` to every direct neighbour. */
  gossipNeighbours(update: GossipData): void {
    const d = this.#outgoing(update);
    for (const n of this.#host.neighbours()) this.#gossipTo(n, d);
  }

  /** Sends `update` as neighbour gossip straight to direct neighbour `neighbour`. */
  gossipTo(neighbour: PeerName, update: GossipData): void {
    this.#gossipTo(neighbour, this.#outgoing(update));
  }

  /** Relays `data` from `src` to our children in `src`'s broadcast tree over all connections. */
  relayBroadcast(src: PeerName, data: GossipData): void {
    const d = this.#outgoing(data);
    for (const hop of this.#host.routes.broadcastAll(src)) {
      if (!this.#host.congested(hop)) {
        this.#send(hop, Tag.gossipBroadcast, src, d);
        continue;
      }
      const q = this.#queue(hop);
      const cur = q.broadcasts.get(src);
      q.broadcasts.set(src, cur === undefined ? d : cur.merge(d));
    }
  }

  /**
   * Introduces our state to `neighbour` (a new connection): the digest of a {@link DigestGossiper}, else the
   * full state (nothing when it is empty).
   */
  sendFullState(neighbour: PeerName): void {
    const g = this.gossiper;
    if (digests(g) && !this.#fullStateOnly) return this.#sendDigest(neighbour, g.digest());
    const full = g.gossip();
    if (full !== undefined) this.#gossipTo(neighbour, full);
  }

  /**
   * Handles a digest from neighbour `from`: answers it with what `from` lacks; a plain gossiper answers with
   * its full state.
   * @throws {Error} when the gossiper cannot decode the digest
   */
  deliverDigest(from: PeerName, m: GossipMessage): void {
    const g = this.gossiper;
    if (answers(g) && g.onDigestAnswering !== undefined) {
      const { answer, request } = g.onDigestAnswering(from, m.payload);
      if (answer !== undefined) this.#gossipTo(from, answer);
      if (request !== undefined) this.#sendDigest(from, request);
      return;
    }
    const answer = digests(g) ? g.answerDigest(from, m.payload) : g.gossip();
    if (answer !== undefined) this.#gossipTo(from, answer);
  }

  /**
   * Anti-entropy: the gossiper's full state (or its anti-entropy digest, when it has one) to a uniformly
   * random neighbour subset (see {@link Routes.randomNeighbours}); nothing when it is empty.
   */
  gossipFullState(): void {
    const g = this.gossiper;
    if (digests(g) && g.antiEntropyDigest !== undefined && !this.#fullStateOnly) {
      const digest = g.antiEntropyDigest();
      const random = () => this.#host.random();
      const hops = this.#host.routes.randomNeighbours(undefined, random, this.#host.neighbours(), false);
      for (const hop of hops) this.#sendDigest(hop, digest);
      return;
    }
    const full = g.gossip();
    if (full !== undefined) this.#gossipSubset(undefined, full, false);
  }

  /**
   * Handles a neighbour gossip message from `from`; what was new goes on to other random neighbours, and an
   * {@link AnsweringGossiper}'s answer back to `from`.
   * @throws {Error} when the gossiper cannot decode the payload
   */
  deliverGossip(from: PeerName, m: GossipMessage): void {
    const g = this.gossiper;
    const { delta, answer, request } = answers(g)
      ? g.onGossipAnswering(from, m.payload)
      : { delta: g.onGossip(m.payload) };
    if (answer !== undefined) this.#gossipTo(from, answer);
    if (request !== undefined) this.#sendDigest(from, request);
    if (delta !== undefined) this.#gossipSubset(from, delta);
  }

  /**
   * Handles a broadcast; what was new is relayed along the source's tree.
   * @throws {Error} when the gossiper cannot decode the payload
   */
  deliverBroadcast(m: GossipMessage): void {
    const delta = this.gossiper.onGossipBroadcast(m.src, m.payload);
    if (delta !== undefined) this.relayBroadcast(m.src, delta);
  }

  /** Sends everything pending for `neighbour`: unicasts and digests in order, then one message per merged datum. */
  flush(neighbour: PeerName): void {
    const q = this.#pending.get(neighbour);
    if (q === undefined) return;
    this.#pending.delete(neighbour);
    for (const { tag, bytes } of q.raw) this.#host.transmit(neighbour, tag, bytes, this.name);
    for (const [src, d] of q.broadcasts) this.#send(neighbour, Tag.gossipBroadcast, src, d);
    if (q.gossip !== undefined) this.#send(neighbour, Tag.gossip, this.#host.us, q.gossip);
  }

  /** Forgets what is pending for `neighbour` (its connection is gone). */
  drop(neighbour: PeerName): void {
    this.#pending.delete(neighbour);
  }

  #outgoing(data: GossipData): GossipData {
    return this.#fullStateOnly ? this.gossiper.gossip() ?? data : data;
  }

  #gossipSubset(except: PeerName | undefined, data: GossipData, weighted = true): void {
    const d = this.#outgoing(data);
    const direct = this.#host.neighbours();
    const random = () => this.#host.random();
    for (const hop of this.#host.routes.randomNeighbours(except, random, direct, weighted)) {
      this.#gossipTo(hop, d);
    }
  }

  #gossipTo(neighbour: PeerName, data: GossipData): void {
    if (!this.#host.congested(neighbour)) return this.#send(neighbour, Tag.gossip, this.#host.us, data);
    const q = this.#queue(neighbour);
    q.gossip = q.gossip === undefined ? data : q.gossip.merge(data);
  }

  #queue(neighbour: PeerName): Pending {
    let q = this.#pending.get(neighbour);
    if (q === undefined) {
      q = { broadcasts: new Map(), raw: [] };
      this.#pending.set(neighbour, q);
    }
    return q;
  }

  #sendDigest(neighbour: PeerName, payload: Uint8Array): void {
    const bytes = encodeGossipMessage(Tag.gossipDigest, { channel: this.name, src: this.#host.us, payload });
    this.#sendRaw(neighbour, Tag.gossipDigest, bytes);
  }

  #sendRaw(neighbour: PeerName, tag: GossipTag, bytes: Uint8Array): void {
    if (this.#host.congested(neighbour)) this.#queue(neighbour).raw.push({ tag, bytes });
    else this.#host.transmit(neighbour, tag, bytes, this.name);
  }

  #send(neighbour: PeerName, tag: GossipTag, src: PeerName, data: GossipData): void {
    for (const payload of data.encode()) {
      this.#host.transmit(
        neighbour,
        tag,
        encodeGossipMessage(tag, { channel: this.name, src, payload }),
        this.name,
      );
    }
  }
}
