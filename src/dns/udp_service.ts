/**
 * DNS over UDP on one {@link DatagramServer}: queries answered from the name table, forwarded names from the
 * forwarder's cache or, in the background, from upstream. The DNS Worker runs one on its batched socket; the
 * in-process {@link DnsServer} runs one beside its TCP listener.
 *
 * Flow and concurrency: one serve loop of the DatagramServer (on the real network it reads queries many per
 * system call and sends the replies of a batch in one); each is answered synchronously by {@link answer}; a
 * query to forward is answered synchronously from the forwarder's cache when it has one, else copied and
 * handed to the forwarder in the background (at most {@link FORWARD_MAX_INFLIGHT} at once; beyond that it
 * is dropped and the client retries), and its reply is sent on its own when it comes. Single-threaded: the
 * table, the cache and the counters live on the loop's thread.
 *
 * @module
 */
import { FORWARD_MAX_INFLIGHT } from "./constants.ts";
import { answer, type AnswerOptions, FORWARD, type NameLookup } from "./answer.ts";
import { cachedCounted, forwardCounted, type QueryForwarder } from "./caching_forwarder.ts";
import type { DnsMetrics } from "./metrics.ts";
import type { DatagramServer } from "./sockets.ts";
import { logger } from "../log.ts";

const log = logger("dns");

/** What a {@link UdpService} answers with. */
export interface UdpServiceOptions {
  /** Where names come from. */
  table: NameLookup;
  /** How to answer (transport `udp`). */
  answer: AnswerOptions;
  /** Where names outside the domain go; without one they get SERVFAIL. */
  forwarder?: QueryForwarder;
  /** Where queries, replies, forwards, hits and errors are counted. */
  metrics: DnsMetrics;
}

/** Serves DNS on a datagram socket until it is closed; see the module comment. */
export class UdpService {
  /** Resolves when the socket is closed and the loop ended (forwards in flight may still finish). */
  readonly done: Promise<void>;
  readonly #udp: DatagramServer;
  readonly #o: UdpServiceOptions;
  #forwards = 0;

  /** Starts serving on `udp`. */
  constructor(udp: DatagramServer, options: UdpServiceOptions) {
    this.#udp = udp;
    this.#o = options;
    this.done = this.#loop();
  }

  /** Forwards in flight. */
  get forwarding(): number {
    return this.#forwards;
  }

  #loop(): Promise<void> {
    const { table, answer: options, forwarder, metrics } = this.#o;
    return this.#udp.serve((data, from) => {
      metrics.udpQueries++;
      let reply = answer(data, table, options);
      if (reply === FORWARD) {
        reply = cachedCounted(forwarder, data, "udp", metrics);
        if (!reply) this.#forward(data.slice(), from);
      }
      if (reply) metrics.reply(reply);
      return reply;
    }, (e) => {
      metrics.errors++;
      log.warn("UDP receive or send failed", { error: e.message });
    });
  }

  #forward(query: Uint8Array, client: unknown): void {
    const metrics = this.#o.metrics;
    if (this.#forwards >= FORWARD_MAX_INFLIGHT) {
      metrics.errors++;
      log.debug("Forward dropped: too many in flight", { limit: FORWARD_MAX_INFLIGHT });
      return;
    }
    this.#forwards++;
    forwardCounted(this.#o.forwarder, query, "udp", metrics)
      .then((reply) => {
        metrics.reply(reply);
        if (!this.#udp.send(reply, client)) metrics.errors++;
      })
      .catch(() => metrics.errors++)
      .finally(() => this.#forwards--);
  }
}
