/**
 * The sealed datagrams of one link gathered during a wakeup for one UDP GSO send: back to back in one buffer,
 * all the same size but the last, which may be shorter — the shape UDP_SEGMENT wants. Pure state; the engine
 * (sleeve.ts) sends it and clears it.
 *
 * @module
 */
import { GSO_MAX_SEGMENTS } from "../../../ffi/udp.ts";
import { MAX_DATAGRAM } from "./constants.ts";

/** The first buffer of a batch, in bytes: a few heartbeats or one full-size datagram on a 1500-byte path. */
const MIN_BUFFER = 2048;

/** Datagrams for one UDP GSO send. */
export class SendBatch {
  #buffer: Uint8Array | undefined;
  #length = 0;
  #segmentSize = 0;
  #count = 0;
  #ended = false;

  /** How many datagrams it holds. */
  get count(): number {
    return this.#count;
  }

  /** Their bytes, back to back. */
  get bytes(): Uint8Array {
    return this.#buffer ? this.#buffer.subarray(0, this.#length) : new Uint8Array(0);
  }

  /** The size of every datagram but the last. */
  get segmentSize(): number {
    return this.#segmentSize;
  }

  /** Datagram `i` (a view, valid until {@link clear}). */
  datagram(i: number): Uint8Array {
    const start = i * this.#segmentSize;
    return this.#buffer!.subarray(start, Math.min(start + this.#segmentSize, this.#length));
  }

  /**
   * Copies `datagram` in after the others.
   *
   * @returns false, taking nothing, when it cannot join: it is larger than the first, one shorter than the
   *   first came already (that ends a batch), or the batch would exceed {@link GSO_MAX_SEGMENTS} datagrams or
   *   {@link MAX_DATAGRAM} bytes; an empty batch takes any datagram up to {@link MAX_DATAGRAM} bytes
   */
  add(datagram: Uint8Array): boolean {
    const n = datagram.length;
    if (this.#count > 0) {
      if (this.#ended || n > this.#segmentSize || this.#count >= GSO_MAX_SEGMENTS) return false;
      if (this.#length + n > MAX_DATAGRAM) return false;
    }
    this.#reserve(this.#length + n);
    this.#buffer!.set(datagram, this.#length);
    if (this.#count === 0) this.#segmentSize = n;
    else if (n < this.#segmentSize) this.#ended = true;
    this.#length += n;
    this.#count++;
    return true;
  }

  /**
   * Makes the buffer hold at least `bytes`, doubling it (up to {@link MAX_DATAGRAM}): a link that only ever
   * carries heartbeats keeps a small buffer, one that batches grows to the largest once and keeps it.
   */
  #reserve(bytes: number): void {
    const have = this.#buffer?.length ?? 0;
    if (have >= bytes) return;
    const grown = new Uint8Array(Math.min(MAX_DATAGRAM, Math.max(bytes, 2 * have, MIN_BUFFER)));
    if (this.#buffer) grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }

  /** Empties it. */
  clear(): void {
    this.#length = this.#count = this.#segmentSize = 0;
    this.#ended = false;
  }
}
