/**
 * An in-memory {@link FrameDevice} pair: what one end writes, the other reads, in order. Tests of the sleeve
 * core hold one end as "the bridge" and give the other to the code under test (wireguard-go's `tuntest`).
 *
 * @module
 */
import { MemoryQueue } from "./memory_queue.ts";
import type { FrameDevice } from "../frame_device.ts";

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
  readonly #mtu: number;
  /** Frames queued for this end's {@link read}. */
  readonly #queue: MemoryQueue<Uint8Array>;
  #peer: MemoryFrameDevice | undefined;

  /**
   * @param name the device name reported by {@link name}
   * @param options MTU, batch size, queue capacity
   */
  constructor(name: string, options: MemoryFrameOptions = {}) {
    this.name = name;
    this.#mtu = options.mtu ?? 1500;
    this.batchSize = options.batchSize ?? 32;
    this.#queue = new MemoryQueue(`Memory frame device '${name}'`, options.capacity ?? 1024);
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

  /** The MTU given at construction; see {@link FrameDevice.mtu}. */
  mtu(): number {
    this.#queue.assertOpen();
    return this.#mtu;
  }

  /** Takes queued frames; see {@link FrameDevice.read}. */
  read(bufs: Uint8Array[], sizes: number[]): number {
    this.#queue.assertOpen();
    let n = 0;
    for (let frame; n < bufs.length && (frame = this.#queue.take()); n++) {
      const len = Math.min(frame.length, bufs[n].length);
      bufs[n].set(frame.subarray(0, len));
      sizes[n] = len;
    }
    return n;
  }

  /** Queues copies on the other end until its queue is full; frames to a closed or missing peer vanish, as on a TAP. */
  write(frames: Uint8Array[]): number {
    this.#queue.assertOpen();
    const peer = this.#peer;
    if (!peer || peer.#queue.closed) return frames.length;
    let n = 0;
    while (n < frames.length && peer.#queue.push(frames[n].slice())) n++;
    return n;
  }

  /** Resolves at the next write from the peer; see {@link FrameDevice.readable}. */
  readable(timeoutMs = -1): Promise<boolean> {
    return this.#queue.wait(timeoutMs);
  }

  /** Drops queued frames and wakes a pending wait. */
  close(): void {
    this.#queue.close();
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
