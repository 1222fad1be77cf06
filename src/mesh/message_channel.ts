/**
 * Framed, optionally sealed control messages over a {@link Duplex}.
 *
 * Wire form of a frame: a 4-byte big-endian length, then that many bytes of body; the body is sealed
 * with the session key once one is set. A message is a frame whose body is 1 tag byte + payload.
 *
 * Concurrency: any number of callers may `send` at once. Each frame is sealed when `send` is called
 * (so nonces follow call order) and written after the previous frame's write finished, so frames never
 * interleave and each `send` resolves only when its bytes were handed to the stream (backpressure).
 * After one write fails every later `send` fails with the same error. Receiving is for one reader at a
 * time (the handshake, then the connection's receive loop).
 *
 * @module
 */

import { LENGTH_PREFIX_SIZE, MAX_MESSAGE_SIZE } from "./constants.ts";
import { MESSAGE_SEAL_OVERHEAD, MessageOpener, MessageSealer } from "./protocol_crypto.ts";
import { type Duplex, StreamReader, writeAll } from "./stream.ts";

/** A received control message. */
export interface Message {
  /** The tag byte (see `Tag` in constants.ts). */
  tag: number;
  /** The bytes after the tag. */
  payload: Uint8Array;
}

/** Options of {@link MessageChannel}. */
export interface MessageChannelOptions {
  /** Largest frame body in bytes, sent or received (default {@link MAX_MESSAGE_SIZE}). */
  maxMessageSize?: number;
}

/**
 * Sends and receives length-prefixed control messages, sealed once {@link MessageChannel.setSessionKey}
 * was called.
 *
 * @example
 * ```ts ignore
 * const channel = new MessageChannel(conn);
 * await channel.send(Tag.gossip, bytes);
 * const msg = await channel.receive(); // null at end of stream
 * ```
 */
export class MessageChannel {
  #duplex: Duplex;
  #reader: StreamReader;
  #maxMessageSize: number;
  #sessionKey: Uint8Array | null = null;
  #sealer: MessageSealer | null = null;
  #opener: MessageOpener | null = null;
  #writeChain: Promise<void> = Promise.resolve();
  #writeError: Error | null = null;

  /**
   * Wraps a stream; frames are plain until {@link MessageChannel.setSessionKey}.
   *
   * @param duplex the stream; the channel closes it in {@link MessageChannel.close}
   * @param reader the reader already used on `duplex` (the handshake's), so buffered bytes are kept
   * @param options limits
   */
  constructor(
    duplex: Duplex,
    reader: StreamReader = new StreamReader(duplex),
    options: MessageChannelOptions = {},
  ) {
    this.#duplex = duplex;
    this.#reader = reader;
    this.#maxMessageSize = options.maxMessageSize ?? MAX_MESSAGE_SIZE;
  }

  /** Largest frame body in bytes, sent or received. */
  get maxMessageSize(): number {
    return this.#maxMessageSize;
  }

  /**
   * Changes the largest frame body; the handshake raises it from the pre-authentication cap once the peer is
   * authenticated.
   */
  set maxMessageSize(size: number) {
    this.#maxMessageSize = size;
  }

  /** The 32-byte session key, or null on an unencrypted connection; the sleeve derives its nonces from it. */
  get sessionKey(): Uint8Array | null {
    return this.#sessionKey;
  }

  /**
   * Seals every later frame with `sessionKey` and expects every later received frame sealed.
   *
   * @param sessionKey the 32-byte session key from the handshake
   * @param outbound true if we dialled the connection
   * @throws {Error} if a session key was already set
   */
  setSessionKey(sessionKey: Uint8Array, outbound: boolean): void {
    if (this.#sessionKey !== null) throw new Error("Cannot set session key: the channel already has one");
    this.#sessionKey = sessionKey;
    this.#sealer = new MessageSealer(sessionKey, outbound);
    this.#opener = new MessageOpener(sessionKey, outbound);
  }

  /**
   * Sends one message: `tag` then `payload`.
   *
   * @param tag 0..255
   * @throws {RangeError} when `tag` is not a byte or the message is larger than the maximum
   * @throws {Error} `Cannot send message: …` when the stream is closed or broken
   */
  send(tag: number, payload: Uint8Array = new Uint8Array(0)): Promise<void> {
    if (!Number.isInteger(tag) || tag < 0 || tag > 255) {
      return Promise.reject(new RangeError(`Cannot send message: tag '${tag}' is not a byte (0..255)`));
    }
    const body = new Uint8Array(1 + payload.length);
    body[0] = tag;
    body.set(payload, 1);
    return this.sendFrame(body);
  }

  /**
   * Sends one frame with `body` (sealed when a session key is set).
   *
   * @throws {RangeError} when the frame would exceed the maximum message size
   * @throws {Error} `Cannot send message: …` when the stream is closed or broken
   */
  sendFrame(body: Uint8Array): Promise<void> {
    if (this.#writeError) return Promise.reject(this.#writeError);
    const size = body.length + (this.#sealer ? MESSAGE_SEAL_OVERHEAD : 0);
    if (size > this.#maxMessageSize) {
      return Promise.reject(
        new RangeError(
          `Cannot send message: ${size} bytes exceeds the maximum ${this.#maxMessageSize}; split it into smaller messages`,
        ),
      );
    }
    const sealed = this.#sealer ? this.#sealer.seal(body) : body;
    const frame = new Uint8Array(LENGTH_PREFIX_SIZE + sealed.length);
    new DataView(frame.buffer).setUint32(0, sealed.length);
    frame.set(sealed, LENGTH_PREFIX_SIZE);
    const written = this.#writeChain.then(async () => {
      if (this.#writeError) throw this.#writeError;
      try {
        await writeAll(this.#duplex, frame);
      } catch (e) {
        this.#writeError ??= new Error(`Cannot send message: ${errorMessage(e)}`, { cause: e });
        throw this.#writeError;
      }
    });
    this.#writeChain = written.catch(() => {});
    return written;
  }

  /**
   * Receives one message.
   *
   * @returns the message, or `null` when the peer closed the stream between frames
   * @throws {Error} when the frame is oversized, truncated, does not open, or has no tag byte
   */
  async receive(): Promise<Message | null> {
    const body = await this.receiveFrame();
    if (body === null) return null;
    if (body.length === 0) {
      throw new Error("Cannot receive message: the message is empty and has no tag byte");
    }
    return { tag: body[0], payload: body.subarray(1) };
  }

  /**
   * Receives one frame body (opened when a session key is set).
   *
   * @returns the body, or `null` when the peer closed the stream between frames
   * @throws {Error} `Cannot receive message: length N exceeds the maximum M …` for an oversized frame,
   *   `Cannot read message body: connection closed after k of n bytes` for a truncated one, and
   *   `AuthenticationError` (protocol_crypto.ts) when a sealed frame does not authenticate
   */
  async receiveFrame(): Promise<Uint8Array | null> {
    const prefix = await this.#reader.readExactOrEnd(LENGTH_PREFIX_SIZE, "message length");
    if (prefix === null) return null;
    const length = new DataView(prefix.buffer).getUint32(0);
    if (length > this.#maxMessageSize) {
      throw new Error(
        `Cannot receive message: length ${length} exceeds the maximum ${this.#maxMessageSize}; ` +
          "the peer is not speaking the meshnet protocol",
      );
    }
    const body = await this.#reader.readExact(length, "message body");
    return this.#opener === null ? body : this.#opener.open(body);
  }

  /** Closes the stream; pending receives end with an error or end of stream, later sends fail. */
  close(): void {
    this.#writeError ??= new Error("Cannot send message: the channel is closed");
    this.#duplex.close();
  }
}

/** The message of an unknown thrown value. */
function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
