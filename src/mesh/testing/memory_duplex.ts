/**
 * In-memory {@link Duplex} pairs for tests: what one end writes, the other reads, with no sockets.
 *
 * Each direction is an unbounded queue of copied chunks; `write` never blocks. `maxChunk` cuts reads into
 * small pieces so tests exercise reassembly of messages split across reads, as TCP may split them.
 * Closing either end ends the stream: the peer reads the bytes already queued, then end of stream, and its
 * writes fail; the closing end's pending and later reads and writes fail, as `Deno.Conn` does.
 *
 * @module
 */

import type { Duplex } from "../stream.ts";

/** Options of {@link memoryDuplexPair}. */
export interface MemoryDuplexOptions {
  /** Largest number of bytes one `read` returns (default: unlimited). */
  maxChunk?: number;
}

/** One direction of a pair: a queue of chunks and at most one waiting reader. */
class Pipe {
  chunks: Uint8Array[] = [];
  ended = false;
  waiter: (() => void) | null = null;

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}

/**
 * One end of an in-memory pair; see {@link memoryDuplexPair}.
 */
export class MemoryDuplex implements Duplex {
  #in: Pipe;
  #out: Pipe;
  #maxChunk: number;
  #closed = false;

  /** @internal use {@link memoryDuplexPair} */
  constructor(incoming: Pipe, outgoing: Pipe, maxChunk: number) {
    this.#in = incoming;
    this.#out = outgoing;
    this.#maxChunk = maxChunk;
  }

  /** True once `close` was called on this end. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads queued bytes, waiting for some if none are queued; `null` once the peer closed and all its
   * bytes were read.
   *
   * @throws {Error} `Cannot read: connection closed` if this end is (or becomes) closed
   */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#in.chunks.length === 0 && !this.#in.ended && !this.#closed) {
      await new Promise<void>((resolve) => (this.#in.waiter = resolve));
    }
    if (this.#closed) throw new Error("Cannot read: connection closed");
    const chunk = this.#in.chunks[0];
    if (chunk === undefined) return null;
    const n = Math.min(p.length, chunk.length, this.#maxChunk);
    p.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#in.chunks.shift();
    else this.#in.chunks[0] = chunk.subarray(n);
    return n;
  }

  /**
   * Queues a copy of `p` for the peer.
   *
   * @throws {Error} `Cannot write: connection closed` if this end is closed, `… closed by peer` if the
   *   other end is
   */
  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new Error("Cannot write: connection closed"));
    if (this.#out.ended) return Promise.reject(new Error("Cannot write: connection closed by peer"));
    this.#out.push(p);
    return Promise.resolve(p.length);
  }

  /** Closes this end: the peer sees end of stream after the queued bytes; pending reads here fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out.end();
    this.#in.end();
  }
}

/**
 * Makes two connected in-memory ends.
 *
 * @example
 * ```ts
 * import { memoryDuplexPair } from "./memory_duplex.ts";
 * const [a, b] = memoryDuplexPair();
 * await a.write(new Uint8Array([1, 2, 3]));
 * const buf = new Uint8Array(8);
 * console.log(await b.read(buf)); // 3
 * ```
 */
export function memoryDuplexPair(options: MemoryDuplexOptions = {}): [MemoryDuplex, MemoryDuplex] {
  const maxChunk = options.maxChunk ?? Infinity;
  const aToB = new Pipe();
  const bToA = new Pipe();
  return [new MemoryDuplex(bToA, aToB, maxChunk), new MemoryDuplex(aToB, bToA, maxChunk)];
}
