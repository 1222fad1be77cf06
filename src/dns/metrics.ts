/**
 * DNS server counters: queries by transport, replies by rcode, forwarded queries, cache hits and errors.
 * Plain numbers bumped on the hot path; the API turns them into Prometheus families on scrape. The DNS
 * Worker counts its part in its own {@link DnsMetrics} and sends them as plain {@link DnsCounters}.
 *
 * @module
 */

/** The counters as data (what a Worker sends); every field only grows. */
export interface DnsCounters {
  /** Queries received over UDP. */
  udpQueries: number;
  /** Queries received over TCP. */
  tcpQueries: number;
  /** Replies sent, by rcode (index 0–15, header rcode). */
  replies: number[];
  /** Queries sent on to an upstream (cache misses). */
  forwarded: number;
  /** Forwarded names answered from the cache. */
  cacheHits: number;
  /** Failures: receive and send errors, forwards dropped at the in-flight limit, forwards that got SERVFAIL. */
  errors: number;
}

/** Counters of one DNS server; every field only grows. */
export class DnsMetrics implements DnsCounters {
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

  /** Adds every counter of `other` to these (e.g. a Worker's, or those of a Worker that ended). */
  add(other: DnsCounters): this {
    this.udpQueries += other.udpQueries;
    this.tcpQueries += other.tcpQueries;
    other.replies.forEach((n, rcode) => this.replies[rcode] += n);
    this.forwarded += other.forwarded;
    this.cacheHits += other.cacheHits;
    this.errors += other.errors;
    return this;
  }

  /** The counters as plain data (a copy). */
  counters(): DnsCounters {
    const { udpQueries, tcpQueries, forwarded, cacheHits, errors } = this;
    return { udpQueries, tcpQueries, replies: [...this.replies], forwarded, cacheHits, errors };
  }
}
