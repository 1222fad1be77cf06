/**
 * The byte stream a control connection runs over, and exact-length reads and writes on it.
 *
 * {@link Duplex} is the small slice of `Deno.Conn` the protocol needs, so the handshake, framing and
 * connection are pure TypeScript that tests drive through the in-memory pair in `testing/memory_duplex.ts`.
 * {@link StreamReader} buffers reads so the handshake and the message channel can ask for exactly N bytes;
 * it is used by one reader at a time (the handshake, then the channel's receive loop). The handshake reads
 * through a small buffer and grows it once the peer is authenticated, so an unauthenticated peer holds little.
 *
 * @module
 */

import { READ_BUFFER_SIZE } from "./constants.ts";

/**
 * A reliable, ordered byte stream; `Deno.Conn` satisfies it.
 *
 * Contract: `read` resolves with the number of bytes placed at the start of `p` (at least 1), or `null` at
 * end of stream; it may reject once the stream is closed or broken. `write` writes a prefix of `p` and
 * resolves with its length (at least 1); it rejects once the stream is closed or broken. `close` is
 * idempotent from the caller's view and makes pending and later reads and writes end.
 */
export interface Duplex {
  /** Reads up to `p.length` bytes into `p`; `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes a prefix of `p`; resolves with how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions. */
  close(): void;
}

/**
 * Writes all of `bytes` to `duplex`, looping over short writes.
 *
 * @throws {Error} whatever `duplex.write` throws (closed or broken stream)
 */
export async function writeAll(duplex: Duplex, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await duplex.write(bytes.subarray(offset));
  }
}

/**
 * Buffered exact-length reads over a {@link Duplex}.
 *
 * @example Reading a 4-byte header
 * ```ts ignore
 * const reader = new StreamReader(conn);
 * const header = await reader.readExact(4, "message length");
 * ```
 */
export class StreamReader {
  #duplex: Duplex;
  #buffer: Uint8Array;
  #start = 0;
  #end = 0;

  /**
   * Wraps a stream.
   *
   * @param duplex the stream to read from; nobody else may read it while this reader is in use
   * @param bufferSize the read buffer's size in bytes
   */
  constructor(duplex: Duplex, bufferSize: number = READ_BUFFER_SIZE) {
    this.#duplex = duplex;
    this.#buffer = new Uint8Array(bufferSize);
  }

  /** The read buffer's size in bytes. */
  get bufferSize(): number {
    return this.#buffer.length;
  }

  /**
   * Replaces the read buffer by one of `size` bytes, keeping the bytes read ahead.
   *
   * @throws {RangeError} when more bytes than `size` are buffered
   */
  resize(size: number): void {
    const pending = this.#buffer.subarray(this.#start, this.#end);
    if (pending.length > size) {
      throw new RangeError(`Cannot resize the read buffer to ${size} bytes: ${pending.length} are buffered`);
    }
    const buffer = new Uint8Array(size);
    buffer.set(pending);
    this.#buffer = buffer;
    this.#start = 0;
    this.#end = pending.length;
  }

  /**
   * Reads exactly `n` bytes, or `null` if the stream ends before the first of them.
   *
   * @param n how many bytes to read (0 returns an empty array at once)
   * @param what what the bytes are, for the error message (e.g. "protocol header")
   * @throws {Error} `Cannot read <what>: connection closed after k of n bytes` when the stream ends
   *   part-way, or whatever the stream's `read` throws
   */
  async readExactOrEnd(n: number, what: string): Promise<Uint8Array | null> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#start === this.#end && !(await this.#fill())) {
        if (filled === 0) return null;
        throw new Error(`Cannot read ${what}: connection closed after ${filled} of ${n} bytes`);
      }
      const take = Math.min(n - filled, this.#end - this.#start);
      out.set(this.#buffer.subarray(this.#start, this.#start + take), filled);
      this.#start += take;
      filled += take;
    }
    return out;
  }

  /**
   * Reads exactly `n` bytes.
   *
   * @param n how many bytes to read
   * @param what what the bytes are, for the error message
   * @throws {Error} `Cannot read <what>: connection closed …` when the stream ends before `n` bytes
   */
  async readExact(n: number, what: string): Promise<Uint8Array> {
    const bytes = await this.readExactOrEnd(n, what);
    if (bytes === null) throw new Error(`Cannot read ${what}: connection closed by peer`);
    return bytes;
  }

  /** Refills the empty buffer; false at end of stream. */
  async #fill(): Promise<boolean> {
    const n = await this.#duplex.read(this.#buffer);
    if (n === null) return false;
    this.#start = 0;
    this.#end = n;
    return true;
  }
}
