/**
 * An in-memory {@link FrameDevice} pair: what one end writes, the other reads, in order. Tests of the sleeve
 * core hold one end as "the bridge" and give the other to the code under test (wireguard-go's `tuntest`).
 *
 * @module
 */
import { MemoryWaiter } from "./memory_waiter.ts";
import type { FrameDevice } from "./frame_device.ts";

/** Options for {@link memoryFramePair}. */
export interface MemoryFrameOptions {
  /** MTU both ends report, in bytes. Default 1500. */
  mtu?: number;
  /** The batch size both ends report. Default 32. */
  batchSize?: number;
  /** Frames each end's receive queue holds; further writes are refused (write returns fewer). Default 1024. */
  capacity?: number;
}

/** One end of an in-memory frame device pair. */
export class MemoryFrameDevice implements FrameDevice {
  readonly name: string;
  readonly batchSize: number;
  /** Frames queued for this end's {@link read}. */
  readonly #queue: Uint8Array[] = [];
  readonly #mtu: number;
  readonly #capacity: number;
  #peer: MemoryFrameDevice | undefined;
  #closed = false;
  readonly #waiter: MemoryWaiter;

  /**
   * @param name the device name reported by {@link name}
   * @param options MTU, batch size, queue capacity
   */
  constructor(name: string, options: MemoryFrameOptions = {}) {
    this.name = name;
    this.#mtu = options.mtu ?? 1500;
    this.batchSize = options.batchSize ?? 32;
    this.#capacity = options.capacity ?? 1024;
    this.#waiter = new MemoryWaiter(`Memory frame device '${name}'`);
  }

  /** Connects two ends so that each one's writes reach the other. */
  static connect(a: MemoryFrameDevice, b: MemoryFrameDevice): void {
    a.#peer = b;
    b.#peer = a;
  }

  /** Frames queued for this end and not read yet. */
  get queued(): number {
    return this.#queue.length;
  }

  mtu(): number {
    this.#assertOpen();
    return this.#mtu;
  }

  read(bufs: Uint8Array[], sizes: number[]): number {
    this.#assertOpen();
    let n = 0;
    while (n < bufs.length && this.#queue.length > 0) {
      const frame = this.#queue.shift()!;
      const len = Math.min(frame.length, bufs[n].length);
      bufs[n].set(frame.subarray(0, len));
      sizes[n++] = len;
    }
    return n;
  }

  write(frames: Uint8Array[]): number {
    this.#assertOpen();
    const peer = this.#peer;
    if (!peer || peer.#closed) return frames.length; // like a TAP with nobody listening: frames vanish
    let n = 0;
    for (; n < frames.length && peer.#queue.length < peer.#capacity; n++) peer.#queue.push(frames[n].slice());
    if (n > 0) peer.#waiter.wake(true);
    return n;
  }

  readable(timeoutMs = -1): Promise<boolean> {
    this.#assertOpen();
    return this.#waiter.wait(this.#queue.length > 0, timeoutMs);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#waiter.wake(false);
  }

  #assertOpen(): void {
    if (this.#closed) throw new Deno.errors.BadResource(`Memory frame device '${this.name}' is closed`);
  }
}

/**
 * Makes two connected in-memory frame devices.
 *
 * @example
 * ```ts
 * const [bridge, dev] = memoryFramePair();
 * bridge.write([frame]);
 * await dev.readable(); // true
 * dev.read([buf], sizes); // 1
 * ```
 */
export function memoryFramePair(
  options: MemoryFrameOptions = {},
): [MemoryFrameDevice, MemoryFrameDevice] {
  const a = new MemoryFrameDevice("mem0", options), b = new MemoryFrameDevice("mem1", options);
  MemoryFrameDevice.connect(a, b);
  return [a, b];
}
