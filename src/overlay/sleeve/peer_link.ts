/**
 * The UDP link to one neighbour peer: where to send, the session key and sequence numbers, the replay window,
 * heartbeats (established / lost), the path MTU search, and the datagram being filled for this wakeup.
 * Pure state; the engine (sleeve.ts) does the I/O.
 *
 * @module
 */
import type { Endpoint } from "../../../ffi/packet_conn.ts";
import {
  ETHERNET_HEADER_SIZE,
  FRAME_HEADER_SIZE,
  HEADER_SIZE,
  HEARTBEAT_FAST_MS,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_QUIET_MS,
  LOST_AFTER_MS,
  LOST_QUIET_MS,
  RECORD_HEADER_SIZE,
  REPLAY_WINDOW,
} from "./constants.ts";
import type { RecordKind } from "./constants.ts";
import {
  DatagramBuilder,
  type FrameRecordHeader,
  frameRecordHeader,
  type LinkKey,
  SEAL_OVERHEAD,
} from "./datagram.ts";
import { PmtuSearch } from "./pmtu.ts";
import type { PieceSink } from "./segment.ts";
import { SendBatch } from "./send_batch.ts";
import { ReplayWindow } from "./replay_window.ts";

/** Sends and clears `link`'s {@link PeerLink.batch} (it takes no more datagrams). */
export type Transmit = (link: PeerLink) => void;

/** The link to one neighbour. */
export class PeerLink {
  /** The peer's 48-bit name. */
  readonly peer: number;
  /** Where its datagrams go. */
  endpoint: Endpoint;
  /** The session key, when the link is sealed. */
  key: LinkKey | undefined;
  /** The sequence number of our next sealed datagram. */
  sendSequence = 0;
  /** Sequence numbers received on the sealed link. */
  readonly replay = new ReplayWindow(REPLAY_WINDOW);
  /** The path MTU search. */
  pmtu: PmtuSearch;
  /** True while our heartbeats are acknowledged. */
  established = false;
  /** The peer takes TCP segments with partial checksums (it offered PARTIAL_CHECKSUMS, constants.ts). */
  partialChecksums = false;
  /** Its finished datagrams of this wakeup, for one UDP GSO send (the engine sends and clears it). */
  readonly batch = new SendBatch();
  /** The overlay MTU last reported in an event, or 0. */
  reportedMtu = 0;
  /** The peer is on fastdp: heartbeats go every {@link HEARTBEAT_QUIET_MS} (see {@link setQuiet}). */
  #quiet = false;
  #lastAckAt = 0;
  #lastHeartbeatAt = -Infinity;
  #heartbeats = 0;
  #builder: DatagramBuilder | undefined;
  #open = false;
  readonly #ceiling: number;
  readonly #assumed: number;
  readonly #us: number;
  readonly #transmit: Transmit;
  readonly #wallOffset: number;
  readonly #sink = new FrameSink(
    (h, length) => this.#reserveFrame(h, length),
    () => this.#builder!.records,
  );

  /**
   * @param us our 48-bit name (the sender of every datagram)
   * @param peer the peer's 48-bit name
   * @param endpoint its UDP address
   * @param ceiling the largest datagram the PMTU search tries, in bytes
   * @param assumed the datagram size used until the search ends, in bytes
   * @param transmit sends and clears the link's batch when it takes no more datagrams
   * @param wallOffset what turns the engine's clock into wall-clock time (ms since the epoch, see
   *   Clock.wallOffset), which places the quiet heartbeats on a grid every peer shares (see {@link heartbeatDue});
   *   without it the grid is the clock's own
   */
  constructor(
    us: number,
    peer: number,
    endpoint: Endpoint,
    ceiling: number,
    assumed: number,
    transmit: Transmit,
    wallOffset?: number,
  ) {
    this.#us = us;
    this.#wallOffset = wallOffset ?? 0;
    this.#transmit = transmit;
    this.peer = peer;
    this.endpoint = endpoint;
    this.#ceiling = ceiling;
    this.#assumed = assumed;
    this.pmtu = new PmtuSearch(ceiling, assumed);
  }

  /** Bytes every datagram on this link spends before its records. */
  get overhead(): number {
    return HEADER_SIZE + (this.key ? SEAL_OVERHEAD : 0);
  }

  /** The longest frame one datagram to this peer carries, in bytes (Ethernet header included). */
  get maxFrame(): number {
    return this.pmtu.maxDatagram - this.overhead - RECORD_HEADER_SIZE - FRAME_HEADER_SIZE;
  }

  /** The overlay MTU this link allows: the longest IP packet in a frame, in bytes. */
  get mtu(): number {
    return this.maxFrame - ETHERNET_HEADER_SIZE;
  }

  /** Starts the path (a new endpoint): the link must prove itself again. */
  resetPath(): void {
    this.established = false;
    this.pmtu = new PmtuSearch(this.#ceiling, this.#assumed);
    this.#lastHeartbeatAt = -Infinity;
  }

  /** Takes a new session key (or none): sequence numbers and the replay window start again. */
  rekey(key: LinkKey | undefined): void {
    this.key = key;
    this.sendSequence = 0;
    this.replay.reset();
    this.#open = false;
  }

  /**
   * Appends a link record (heartbeat, ack) to the datagram being filled, first completing the open one into
   * the batch when the record does not fit.
   */
  add(kind: RecordKind, src: number, dst: number, body: Uint8Array): void {
    if (this.#open && this.#builder!.add(kind, src, dst, body)) return;
    this.flush();
    this.#begin();
    this.#builder!.add(kind, src, dst, body);
  }

  /**
   * Appends a frame record (see {@link DatagramBuilder.addFrame}) like {@link add}. The caller checked that
   * `body` fits an empty datagram ({@link maxFrame}).
   */
  addFrame(
    kind: RecordKind,
    src: number,
    dst: number,
    hops: number,
    sequence: number,
    body: Uint8Array,
  ): void {
    const at = this.#reserveFrame(frameRecordHeader(this.#sink, kind, src, dst, hops, sequence), body.length);
    this.#builder!.records.set(body, at);
  }

  /**
   * A sink for frame records of one kind and addressing (Segmenter.cut writes a super-frame's pieces straight
   * into the datagrams, one record each, completing each datagram when the next piece does not fit). The
   * caller checked that each piece fits an empty datagram ({@link maxFrame}). Valid until the next call.
   */
  frameSink(kind: RecordKind, src: number, dst: number, hops: number, sequence: number): PieceSink {
    return frameRecordHeader(this.#sink, kind, src, dst, hops, sequence);
  }

  /** Reserves a frame record's body in the open datagram, or in a new one; returns its offset in the records. */
  #reserveFrame(h: FrameRecordHeader, length: number): number {
    if (this.#open) {
      const at = this.#builder!.reserveFrame(h, length);
      if (at >= 0) return at;
    }
    this.flush();
    this.#begin();
    return this.#builder!.reserveFrame(h, length);
  }

  /** Completes the open datagram, if any, into the batch (transmitting the batch first when it cannot join). */
  flush(): void {
    if (!this.#open) return;
    this.#open = false;
    const n = this.#builder!.end();
    if (this.batch.commit(n)) return;
    this.#transmit(this);
    this.batch.restart(n);
  }

  /** The heartbeat period now, in ms: fast until established, then slower, slowest while on fastdp. */
  get heartbeatInterval(): number {
    return !this.established ? HEARTBEAT_FAST_MS : this.#quiet ? HEARTBEAT_QUIET_MS : HEARTBEAT_INTERVAL_MS;
  }

  /** How long an established link lasts without an ack, in ms. */
  get lostAfter(): number {
    return this.#quiet ? LOST_QUIET_MS : LOST_AFTER_MS;
  }

  /**
   * The peer went on fastdp (`quiet`) or left it, at `now` (ms). Leaving it, the link heartbeats at once and
   * every {@link HEARTBEAT_INTERVAL_MS} after, and is lost when no ack comes within {@link LOST_AFTER_MS}
   * from now (an ack up to {@link LOST_QUIET_MS} old was fine until now).
   */
  setQuiet(quiet: boolean, now: number): void {
    if (quiet === this.#quiet) return;
    this.#quiet = quiet;
    if (quiet) return;
    this.#lastHeartbeatAt = -Infinity;
    if (this.established) this.#lastAckAt = Math.max(this.#lastAckAt, now);
  }

  /**
   * True when a heartbeat should go at `now` (ms): its period has passed, or will within the last quarter
   * of it. The slack lets one timer wakeup send the heartbeats of every link due about then, so the links'
   * heartbeats fall into step instead of each waking the engine on its own. Quiet heartbeats (an established
   * link to a peer on fastdp) go once per slot of a wall-clock grid of {@link HEARTBEAT_QUIET_MS} instead, the
   * same grid on every peer whose clock is roughly right: then the heartbeats of all our peers arrive about
   * together, and an idle engine with 39 such links wakes a few times per period instead of 39.
   */
  heartbeatDue(now: number): boolean {
    if (this.#onGrid) return this.#slot(now) > this.#slot(this.#lastHeartbeatAt);
    return now - this.#lastHeartbeatAt >= this.heartbeatInterval * 0.75;
  }

  get #onGrid(): boolean {
    return this.#quiet && this.established;
  }

  /** The quiet grid's slot of engine time `t`. */
  #slot(t: number): number {
    return Math.floor((t + this.#wallOffset) / HEARTBEAT_QUIET_MS);
  }

  /**
   * When this link next needs the engine's timer (ms on its clock): its next heartbeat, and while
   * established the moment it would be lost. (The path MTU search has its own, {@link PmtuSearch.dueAt}.)
   */
  get dueAt(): number {
    const heartbeat = this.#onGrid
      ? (this.#slot(this.#lastHeartbeatAt) + 1) * HEARTBEAT_QUIET_MS - this.#wallOffset
      : this.#lastHeartbeatAt + this.heartbeatInterval;
    return this.established ? Math.min(heartbeat, this.#lastAckAt + this.lostAfter) : heartbeat;
  }

  /** Records a heartbeat sent at `now`; writes its token into `body` (8 bytes). */
  heartbeatSent(now: number, body: Uint8Array): void {
    this.#lastHeartbeatAt = now;
    writeToken(body, ++this.#heartbeats);
  }

  /**
   * Takes a heartbeat ack carrying `body`.
   *
   * @returns true when the link just became established
   */
  acked(body: Uint8Array, now: number): boolean {
    const token = readToken(body);
    if (token < 1 || token > this.#heartbeats) return false;
    this.#lastAckAt = now;
    if (this.established) return false;
    this.established = true;
    return true;
  }

  /** @returns true when the established link just timed out at `now` (no ack for {@link lostAfter}) */
  expired(now: number): boolean {
    if (!this.established || now - this.#lastAckAt < this.lostAfter) return false;
    this.established = false;
    return true;
  }

  /** How long no ack came, at `now` (ms). */
  silentFor(now: number): number {
    return now - this.#lastAckAt;
  }

  /** Whether the link heartbeats slowly, its peer on fastdp (see {@link setQuiet}). */
  get quiet(): boolean {
    return this.#quiet;
  }

  /**
   * Our engine did not run for `ms` (its timer fired that late): acks sat unread in our own socket meanwhile,
   * so that time does not count toward {@link lostAfter}, as a busy host must not drop its peers.
   */
  stalled(ms: number): void {
    this.#lastAckAt += ms;
  }

  /** Opens a datagram in the batch (transmitting the batch first when it takes no more). */
  #begin(): void {
    const size = this.pmtu.maxDatagram;
    if (!this.#builder || this.#builder.capacity < size) this.#builder = new DatagramBuilder(size);
    let at = this.batch.reserve(size);
    if (at < 0) {
      this.#transmit(this);
      at = this.batch.reserve(size);
    }
    this.#builder.begin(this.#us, size, this.key, this.key ? this.sendSequence++ : 0, this.batch.buffer, at);
    this.#open = true;
  }
}

/** The sink {@link PeerLink.frameSink} hands out: frame records with one header. */
class FrameSink implements PieceSink, FrameRecordHeader {
  kind: RecordKind = 0 as RecordKind;
  src = 0;
  dst = 0;
  hops = 0;
  sequence = 0;
  readonly #reserve: (header: FrameRecordHeader, length: number) => number;
  readonly #records: () => Uint8Array;

  constructor(reserve: (header: FrameRecordHeader, length: number) => number, records: () => Uint8Array) {
    this.#reserve = reserve;
    this.#records = records;
  }

  reserve(length: number): number {
    return this.#reserve(this, length);
  }

  get bytes(): Uint8Array {
    return this.#records();
  }
}

function writeToken(body: Uint8Array, token: number): void {
  new DataView(body.buffer, body.byteOffset, 8).setBigUint64(0, BigInt(token));
}

function readToken(body: Uint8Array): number {
  return Number(new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0));
}
