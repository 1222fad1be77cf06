/**
 * A control connection after its handshake: receive loop, heartbeats, dead-peer detection and close.
 *
 * Flow: `start()` begins one receive loop that reads messages in order and awaits the handler for each
 * (so a slow handler slows the peer down through TCP, never queues without bound), a repeating timer
 * that sends a heartbeat every interval, and a deadline that closes the connection when nothing at all
 * arrived for 2 × interval of our own running time (stall_tolerant_deadline.ts: a CPU-starved host whose
 * event loop stalled does not blame the peer for the messages waiting unread in its own buffers). Sends from any caller are serialised by the {@link MessageChannel}. The first
 * failure of any of these (or a local `close`) closes the connection once: timers stop, the stream
 * closes, `closed` resolves and `onClose` is called with the reason.
 *
 * @module
 */

import { type Clock, systemClock, type TimerId } from "./clock.ts";
import { HEARTBEAT_INTERVAL_MS, Tag } from "./constants.ts";
import { onGrid, StallTolerantDeadline } from "./stall_tolerant_deadline.ts";
import type { Features } from "./features.ts";
import type { HandshakeResult } from "./handshake.ts";
import type { MessageChannel } from "./message_channel.ts";

/** Options of {@link ProtocolConnection}. */
export interface ConnectionOptions {
  /**
   * Called for every message except heartbeats, one at a time in arrival order; the next message is
   * read only after the returned promise settles. A throw or rejection closes the connection.
   */
  onMessage(tag: number, payload: Uint8Array): void | Promise<void>;
  /** Called once when the connection closes, with the reason; must not throw. */
  onClose?(error: Error): void;
  /** Clock for heartbeats and the dead-peer deadline (default the system clock). */
  clock?: Clock;
  /** Heartbeat interval in milliseconds (default {@link HEARTBEAT_INTERVAL_MS}); dead after twice this. */
  heartbeatIntervalMs?: number;
  /**
   * Heartbeats and dead-peer checks fall on multiples of this many ms of the clock (default 0: none), so the
   * connections of a router share timer wakeups; each then comes up to this much later.
   */
  timerGridMs?: number;
}

/**
 * An established control connection to one peer.
 *
 * @example
 * ```ts ignore
 * const result = await handshake(conn, { features, outbound: true, password });
 * const connection = new ProtocolConnection(result, {
 *   onMessage: (tag, payload) => router.handle(result.remote.name, tag, payload),
 *   onClose: (error) => log.info("Connection closed", { peer: result.remote.name, error: error.message }),
 * });
 * connection.start();
 * await connection.send(Tag.gossip, bytes);
 * ```
 */
export class ProtocolConnection {
  /** The agreed protocol version. */
  readonly version: number;
  /** Our features as sent on this connection. */
  readonly local: Features;
  /** The peer's features. */
  readonly remote: Features;
  /** Resolves with the reason once the connection has closed. */
  readonly closed: Promise<Error>;

  #channel: MessageChannel;
  #onMessage: ConnectionOptions["onMessage"];
  #onClose: ConnectionOptions["onClose"];
  #clock: Clock;
  #interval: number;
  readonly #grid: number;
  #heartbeatTimer: TimerId | null = null;
  #deadline: StallTolerantDeadline;
  #started = false;
  #error: Error | null = null;
  #resolveClosed!: (error: Error) => void;

  /**
   * Wraps a handshaken channel; nothing runs until {@link ProtocolConnection.start}.
   *
   * @param handshake the result of a successful {@link handshake} on the stream
   * @param options message and close handlers, clock and heartbeat interval
   */
  constructor(handshake: HandshakeResult, options: ConnectionOptions) {
    this.version = handshake.version;
    this.local = handshake.local;
    this.remote = handshake.remote;
    this.#channel = handshake.channel;
    this.#onMessage = options.onMessage;
    this.#onClose = options.onClose;
    this.#clock = options.clock ?? systemClock;
    this.#interval = options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.#grid = options.timerGridMs ?? 0;
    this.#deadline = new StallTolerantDeadline({
      clock: this.#clock,
      gridMs: this.#grid,
      timeoutMs: 2 * this.#interval,
      onExpire: (silent, stalled) =>
        this.close(
          new Error(
            `Connection to '${this.remote.name}' timed out: nothing received for ${Math.round(silent)} ms${
              stalled > 0 ? ` (our event loop stalled for ${Math.round(stalled)} ms of it, not counted)` : ""
            }; the peer or the path to it is down`,
          ),
        ),
    });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** The connection uid, the same on both ends: our connection id XOR the peer's. */
  get uid(): bigint {
    return connectionUid(this.local.connId, this.remote.connId);
  }

  /** The 32-byte session key, or null on an unencrypted connection. */
  get sessionKey(): Uint8Array | null {
    return this.#channel.sessionKey;
  }

  /** The reason the connection closed, or null while it is open. */
  get error(): Error | null {
    return this.#error;
  }

  /**
   * Starts the receive loop, the heartbeats and the dead-peer deadline.
   *
   * @throws {Error} when called twice
   */
  start(): void {
    if (this.#started) {
      throw new Error(`Cannot start connection to '${this.remote.name}': it is already started`);
    }
    this.#started = true;
    if (this.#error) return;
    this.#scheduleHeartbeat();
    this.#deadline.start();
    this.#receiveLoop();
  }

  /**
   * Sends one message; resolves once it was handed to the stream.
   *
   * @throws {Error} the close reason when the connection is closed, or the stream's write error (which
   *   also closes the connection)
   */
  async send(tag: number, payload?: Uint8Array): Promise<void> {
    if (this.#error) throw this.#error;
    try {
      await this.#channel.send(tag, payload);
    } catch (e) {
      if (!(e instanceof RangeError)) this.close(e as Error);
      throw e;
    }
  }

  /**
   * Closes the connection (idempotent: only the first reason counts).
   *
   * @param reason an Error, or text that becomes `Connection to '<peer>' closed: <text>`
   */
  close(reason: Error | string = "closed locally"): void {
    if (this.#error) return;
    const error = typeof reason === "string"
      ? new Error(`Connection to '${this.remote.name}' closed: ${reason}`)
      : reason;
    this.#error = error;
    if (this.#heartbeatTimer !== null) this.#clock.clearTimeout(this.#heartbeatTimer);
    this.#deadline.stop();
    this.#channel.close();
    this.#resolveClosed(error);
    this.#onClose?.(error);
  }

  #scheduleHeartbeat(): void {
    const ms = this.#grid > 0 ? onGrid(this.#clock.now(), this.#interval, this.#grid) : this.#interval;
    this.#heartbeatTimer = this.#clock.setTimeout(() => {
      this.#heartbeatTimer = null;
      this.send(Tag.heartbeat).catch(() => {}); // a failed send has closed the connection
      if (!this.#error) this.#scheduleHeartbeat();
    }, ms);
  }

  async #receiveLoop(): Promise<void> {
    try {
      for (;;) {
        const message = await this.#channel.receive();
        if (this.#error) return;
        if (message === null) {
          return this.close(new Error(`Connection to '${this.remote.name}' closed by peer`));
        }
        this.#deadline.alive();
        if (message.tag === Tag.heartbeat) continue;
        try {
          await this.#onMessage(message.tag, message.payload);
        } catch (e) {
          throw new Error(
            `Cannot handle message with tag ${message.tag} from '${this.remote.name}': ${
              (e as Error).message
            }`,
            { cause: e },
          );
        }
      }
    } catch (e) {
      this.close(e as Error);
    }
  }
}

/**
 * The connection uid both ends compute alike: the XOR of the two connection ids.
 *
 * @example
 * ```ts
 * import { connectionUid } from "./connection.ts";
 * connectionUid(0b1100n, 0b1010n); // 0b0110n
 * ```
 */
export function connectionUid(ourConnId: bigint, theirConnId: bigint): bigint {
  return ourConnId ^ theirConnId;
}

/** What to do with two connections between the same pair of peers. */
export type DuplicateResolution = "keepExisting" | "keepNew" | "dropBoth";

/**
 * Whether a connection runs in the pair's preferred direction: dialled by the peer with the lower name. Both
 * ends compute the same answer for the same connection (each knows who dialled it), so when two peers dial
 * each other at once they agree on which of the two connections to keep without a message.
 *
 * @param us our peer name
 * @param peer the other end's peer name
 * @param outbound whether we dialled the connection
 * @example
 * ```ts
 * import { preferredDirection } from "./connection.ts";
 * preferredDirection("0a:00:00:00:00:01", "0a:00:00:00:00:02", true); // true: the lower name dialled
 * ```
 */
export function preferredDirection(us: string, peer: string, outbound: boolean): boolean {
  return outbound ? us < peer : peer < us;
}

/** One of two connections to the same peer, as {@link resolveDuplicate} compares them. */
export interface DuplicateCandidate {
  /** The connection's {@link ProtocolConnection.uid} (both ends compute the same). */
  uid: bigint;
  /** Whether it runs in the pair's {@link preferredDirection}. */
  preferred: boolean;
}

/**
 * Decides between an existing connection and a new one to the same peer, as both ends decide alike: the one
 * in the pair's preferred direction wins; between two of the same direction (a redial) the lower connection
 * uid wins; on a tie both are dropped (and redialled).
 *
 * @example
 * ```ts
 * import { resolveDuplicate } from "./connection.ts";
 * resolveDuplicate({ uid: 5n, preferred: true }, { uid: 9n, preferred: true }); // "keepExisting"
 * resolveDuplicate({ uid: 5n, preferred: false }, { uid: 9n, preferred: true }); // "keepNew"
 * ```
 */
export function resolveDuplicate(
  existing: DuplicateCandidate,
  added: DuplicateCandidate,
): DuplicateResolution {
  if (existing.preferred !== added.preferred) return existing.preferred ? "keepExisting" : "keepNew";
  if (existing.uid < added.uid) return "keepExisting";
  if (existing.uid > added.uid) return "keepNew";
  return "dropBoth";
}
