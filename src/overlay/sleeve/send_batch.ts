/**
 * The datagrams of one link gathered during a wakeup for one UDP GSO send: back to back in one buffer, all the
 * same size but the last, which may be shorter — the shape UDP_SEGMENT wants. Each is built in place (the link's
 * DatagramBuilder writes at the offset {@link SendBatch.reserve} gives) and then committed. Pure state; the
 * engine (sleeve.ts) sends it and clears it.
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
  #reservedAt = 0;

  /** How many datagrams it holds. */
  get count(): number {
    return this.#count;
  }

  /**
   * Their length in bytes, back to back from offset 0 of {@link buffer}: a send takes the buffer and this
   * length, not a view (the socket reuses the buffer's address while it is the same array).
   */
  get length(): number {
    return this.#length;
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
   * Where the next datagram of at most `maxSize` bytes may be built: an offset in {@link buffer} (which may be a
   * new array: read it after this call), or −1 when the batch takes no more (it holds
   * {@link GSO_MAX_SEGMENTS}, or a datagram shorter than the first ended it): send it first. Build the datagram
   * there, then {@link commit} it.
   */
  reserve(maxSize: number): number {
    if (this.#count >= GSO_MAX_SEGMENTS || this.#ended) return -1;
    this.#grow(this.#length + maxSize);
    return this.#reservedAt = this.#length;
  }

  /** The buffer datagrams are built in (see {@link reserve}). */
  get buffer(): Uint8Array {
    return this.#buffer!;
  }

  /**
   * Takes the `n`-byte datagram built at the last {@link reserve}d offset.
   *
   * @returns false, taking nothing, when it cannot join the others: it is larger than the first, or the batch
   *   would exceed {@link MAX_DATAGRAM} bytes. Send the batch, then {@link restart} with it.
   */
  commit(n: number): boolean {
    if (this.#count > 0 && (n > this.#segmentSize || this.#length + n > MAX_DATAGRAM)) return false;
    if (this.#count === 0) this.#segmentSize = n;
    else if (n < this.#segmentSize) this.#ended = true;
    this.#length += n;
    this.#count++;
    return true;
  }

  /** Makes the `n`-byte datagram a refused {@link commit} left behind the first of this (sent, cleared) batch. */
  restart(n: number): void {
    this.#buffer!.copyWithin(0, this.#reservedAt, this.#reservedAt + n);
    this.clear();
    this.#reservedAt = 0;
    this.commit(n);
  }

  /**
   * Makes the buffer hold at least `bytes`, doubling it: a link that only ever carries heartbeats keeps a small
   * buffer, one that batches grows to the largest once (a full batch and one datagram being built) and keeps it.
   */
  #grow(bytes: number): void {
    const have = this.#buffer?.length ?? 0;
    if (have >= bytes) return;
    const grown = new Uint8Array(Math.max(bytes, Math.min(2 * have, 2 * MAX_DATAGRAM), MIN_BUFFER));
    if (this.#buffer) grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }

  /** Empties it. */
  clear(): void {
    this.#length = this.#count = this.#segmentSize = 0;
    this.#ended = false;
  }
}
