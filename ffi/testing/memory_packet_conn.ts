/**
 * An in-memory UDP network for tests of pure cores (wireguard-go's `bindtest`): conns bind address:port pairs on
 * a {@link MemoryNetwork}; a send is delivered at once to the conn bound at the destination, or dropped when none
 * is, its queue is full, or the network's seeded loss says so.
 *
 * @module
 */
import { SeededRandom } from "../../testing/seeded_random.ts";
import { MemoryQueue } from "./memory_queue.ts";
import { checkPort, type Endpoint, endpoint, type PacketConn } from "../packet_conn.ts";

/** Options for a {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** The probability (0–1) that a datagram is dropped. Default 0. */
  loss?: number;
  /** Seed of the loss PRNG, so runs repeat. Default 1. */
  seed?: number;
  /** Datagrams each conn's receive queue holds before dropping. Default 1024. */
  capacity?: number;
  /** The batch size conns report. Default 32. */
  batchSize?: number;
}

/** A set of in-memory UDP conns that reach each other by endpoint key. */
export class MemoryNetwork {
  /** Datagrams dropped by loss, a missing receiver or a full queue. */
  dropped = 0;
  /** Datagrams delivered. */
  delivered = 0;
  readonly #conns = new Map<string, MemoryPacketConn>();
  readonly #loss: number;
  readonly #capacity: number;
  readonly #batchSize: number;
  readonly #random: SeededRandom;
  #nextPort = 32768;

  /** @throws {RangeError} when `loss` is outside 0–1 */
  constructor(options: MemoryNetworkOptions = {}) {
    this.#loss = options.loss ?? 0;
    if (!(this.#loss >= 0 && this.#loss <= 1)) {
      throw new RangeError(`Invalid loss '${options.loss}': use a probability from 0 to 1`);
    }
    this.#random = new SeededRandom(options.seed ?? 1);
    this.#capacity = options.capacity ?? 1024;
    this.#batchSize = options.batchSize ?? 32;
  }

  /**
   * Binds a conn at `address:port`; port 0 picks a free port from 32768 up.
   *
   * @throws {Error} `Cannot bind 198.18.0.1:6783: address in use; close the other conn or pick another port`
   * @throws {Error} `Invalid IP address …` or {@link RangeError} for a bad port, naming the value
   */
  listen(address: string, port = 0): MemoryPacketConn {
    checkPort(port, address);
    if (port === 0) { while (this.#conns.has(endpoint(address, this.#nextPort).key)) this.#nextPort++; }
    const local = endpoint(address, port || this.#nextPort++);
    if (this.#conns.has(local.key)) {
      throw new Error(`Cannot bind ${local.key}: address in use; close the other conn or pick another port`);
    }
    const conn = new MemoryPacketConn(this, local, this.#batchSize, this.#capacity);
    this.#conns.set(local.key, conn);
    return conn;
  }

  /** Delivers one datagram (called by {@link MemoryPacketConn.send}). */
  deliver(from: Endpoint, to: Endpoint, packet: Uint8Array): void {
    const dst = this.#conns.get(to.key);
    if (!dst || this.#random.next() < this.#loss || !dst.enqueue(packet, from)) {
      this.dropped++;
      return;
    }
    this.delivered++;
  }

  /** Forgets a closed conn (called by {@link MemoryPacketConn.close}). */
  unbind(conn: MemoryPacketConn): void {
    if (this.#conns.get(conn.local.key) === conn) this.#conns.delete(conn.local.key);
  }
}

/** A conn on a {@link MemoryNetwork}. */
export class MemoryPacketConn implements PacketConn {
  readonly local: Endpoint;
  readonly batchSize: number;
  readonly #network: MemoryNetwork;
  readonly #queue: MemoryQueue<{ packet: Uint8Array; from: Endpoint }>;

  /** Use {@link MemoryNetwork.listen}. */
  constructor(network: MemoryNetwork, local: Endpoint, batchSize: number, capacity: number) {
    this.#network = network;
    this.local = local;
    this.batchSize = batchSize;
    this.#queue = new MemoryQueue(`Memory conn ${local.key}`, capacity);
  }

  /** Delivers every packet through the network (copies); always reports all as sent, like UDP. */
  send(packets: Uint8Array[], to: Endpoint): number {
    this.#queue.assertOpen();
    if (to.family !== this.local.family) {
      throw new Error(`Cannot send to ${to.key} from ${this.local.key}: address families differ`);
    }
    for (const p of packets) this.#network.deliver(this.local, to, p);
    return packets.length;
  }

  /** Takes queued datagrams; see {@link PacketConn.receive}. */
  receive(bufs: Uint8Array[], sizes: number[], sources: Endpoint[]): number {
    this.#queue.assertOpen();
    let n = 0;
    for (let d; n < bufs.length && (d = this.#queue.take()); n++) {
      const len = Math.min(d.packet.length, bufs[n].length);
      bufs[n].set(d.packet.subarray(0, len));
      sizes[n] = len;
      sources[n] = d.from;
    }
    return n;
  }

  /** Resolves at the next delivery; see {@link PacketConn.readable}. */
  readable(timeoutMs = -1): Promise<boolean> {
    return this.#queue.wait(timeoutMs);
  }

  /** Unbinds the conn and wakes a pending wait. */
  close(): void {
    if (this.#queue.close()) this.#network.unbind(this);
  }

  /** Queues a copy of `packet` from `from`; false when the queue is full or the conn closed. */
  enqueue(packet: Uint8Array, from: Endpoint): boolean {
    return this.#queue.push({ packet: packet.slice(), from });
  }
}
