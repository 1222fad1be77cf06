/**
 * DNS server counters: queries by transport, replies by rcode, forwarded queries, cache hits and errors.
 * Plain numbers bumped on the hot path; the API turns them into Prometheus families on scrape.
 *
 * @module
 */

/** Counters of one DNS server; every field only grows. */
export class DnsMetrics {
  /** Queries received over UDP. */
  udpQueries = 0;
  /** Queries received over TCP. */
  tcpQueries = 0;
  /** Replies sent, by rcode (index 0–15, header rcode). */
  readonly replies: number[] = new Array(16).fill(0);
  /** Queries sent on to an upstream (cache misses). */
  forwarded = 0;
  /** Forwarded names answered from the cache. */
  cacheHits = 0;
  /** Failures: receive and send errors, forwards dropped at the in-flight limit, forwards that got SERVFAIL. */
  errors = 0;

  /** Counts one reply about to be sent by its rcode. */
  reply(bytes: Uint8Array): void {
    if (bytes.length > 3) this.replies[bytes[3] & 0xf]++;
  }
}
