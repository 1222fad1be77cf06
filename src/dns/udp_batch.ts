/**
 * The DNS server's UDP datagram path, batched: many queries read with one recvmmsg(2) and their replies sent
 * with one sendmmsg(2), on an FFI socket (ffi/udp.ts).
 *
 * Flow: wait once for readability (one poll(2) on Deno's thread pool) → drain: recvmmsg up to
 * {@link DNS_BATCH} queries into slot buffers → the handler answers each synchronously (or takes a copy to
 * forward and returns nothing) → each reply is copied into its slot's send buffer → one sendmmsg for the
 * batch; a full socket buffer drops the rest (the clients retry) → drain again until nothing is queued.
 * Replies produced later (forwards) go out one by one with {@link BatchUdp.send}. Single-threaded on the
 * caller's event loop: the name table and the cache the handler reads live there too.
 *
 * Every buffer handed to the kernel lives in one ArrayBuffer allocated here (see ffi/udp.ts on why small
 * typed arrays must not be).
 *
 * @module
 */

import { openUdp, type UdpConn } from "../../ffi/udp.ts";
import type { Endpoint } from "../../ffi/packet_conn.ts";
import { DNS_BATCH, UDP_READ_BUFFER } from "./constants.ts";
import type { DatagramServer } from "./sockets.ts";

/** Answers one query: reply bytes, or undefined for none (dropped, or forwarded later). */
export type DatagramHandler = (query: Uint8Array, from: Endpoint) => Uint8Array | undefined;

/** A UDP socket serving DNS in batches; see the module comment. */
export class BatchUdp implements DatagramServer<Endpoint> {
  readonly #conn: UdpConn;
  readonly #in: Uint8Array[];
  readonly #out: Uint8Array[];
  readonly #replies: Uint8Array[];
  readonly #sizes: number[];
  readonly #sources: Endpoint[];
  readonly #tos: Endpoint[];
  #closed = false;

  private constructor(conn: UdpConn) {
    this.#conn = conn;
    const memory = new ArrayBuffer(2 * DNS_BATCH * UDP_READ_BUFFER);
    const slot = (i: number) => new Uint8Array(memory, i * UDP_READ_BUFFER, UDP_READ_BUFFER);
    this.#in = Array.from({ length: DNS_BATCH }, (_, i) => slot(i));
    this.#out = Array.from({ length: DNS_BATCH }, (_, i) => slot(DNS_BATCH + i));
    this.#replies = new Array(DNS_BATCH);
    this.#sizes = new Array(DNS_BATCH).fill(0);
    this.#sources = new Array(DNS_BATCH);
    this.#tos = new Array(DNS_BATCH);
  }

  /**
   * Binds `hostname:port` (0 picks a free port).
   *
   * @throws {SyscallError} when the port is in use or the address is not local
   */
  static open(hostname: string, port: number): BatchUdp {
    return new BatchUdp(openUdp(hostname, port, { batchSize: DNS_BATCH }));
  }

  /** The bound address and port. */
  get local(): Endpoint {
    return this.#conn.local;
  }

  /**
   * Serves until {@link close}: every query goes through `handle`, replies are sent in batches.
   *
   * @param onError called with each failure of a receive or a batch send (the loop goes on)
   */
  async serve(handle: DatagramHandler, onError: (e: Error) => void): Promise<void> {
    const conn = this.#conn, ins = this.#in, sizes = this.#sizes, sources = this.#sources;
    while (!this.#closed) {
      if (!await conn.readable()) continue;
      for (;;) {
        let n: number;
        try {
          n = conn.receiveBatch(ins, sizes, sources);
        } catch (e) {
          if (this.#closed) return;
          onError(e as Error);
          break;
        }
        if (n === 0) break;
        let m = 0;
        for (let i = 0; i < n; i++) {
          const reply = handle(ins[i].subarray(0, sizes[i]), sources[i]);
          if (!reply || reply.length > UDP_READ_BUFFER) continue;
          this.#out[m].set(reply);
          this.#replies[m] = this.#out[m].subarray(0, reply.length);
          this.#tos[m++] = sources[i];
        }
        try {
          conn.sendEach(this.#replies, this.#tos, m);
        } catch (e) {
          if (this.#closed) return;
          onError(e as Error);
        }
        if (n < ins.length) break;
      }
    }
  }

  /** Sends one reply now (sendto); false when the socket buffer is full or the socket closed. */
  send(reply: Uint8Array, to: Endpoint): boolean {
    if (this.#closed) return false;
    return this.#conn.send([reply], to) === 1;
  }

  /** Closes the socket, ending {@link serve}. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }
}
