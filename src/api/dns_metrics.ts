/**
 * Prometheus metrics of the DNS server: queries by transport, replies by rcode, forwarded queries, cache hits,
 * errors, and the forwarding cache's size.
 *
 * @module
 */
import type { DnsStats } from "../router/dns_service.ts";
import { counter, type Family, gauge } from "./metrics.ts";

/** Rcode names for the `rcode` label (others are given as numbers). */
const RCODE_NAMES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/** The DNS metric families of `dns` ({@link DnsService.stats}); none with --no-dns (undefined). */
export function dnsMetrics(dns: Pick<DnsStats, "metrics" | "cacheUsage"> | undefined): Family[] {
  if (!dns) return [];
  const m = dns.metrics, cache = dns.cacheUsage;
  return [
    counter("meshnet_dns_queries_total", "DNS queries received, by transport", [
      { labels: { transport: "udp" }, value: m.udpQueries },
      { labels: { transport: "tcp" }, value: m.tcpQueries },
    ]),
    counter(
      "meshnet_dns_replies_total",
      "DNS replies sent, by rcode",
      m.replies.flatMap((value, rcode) =>
        value > 0 || rcode < RCODE_NAMES.length
          ? [{ labels: { rcode: RCODE_NAMES[rcode] ?? String(rcode) }, value }]
          : []
      ),
    ),
    counter("meshnet_dns_forwarded_total", "DNS queries forwarded upstream (cache misses)", m.forwarded),
    counter("meshnet_dns_cache_hits_total", "Forwarded DNS names answered from the cache", m.cacheHits),
    counter(
      "meshnet_dns_errors_total",
      "DNS failures: receive/send errors, forwards dropped or answered SERVFAIL",
      m.errors,
    ),
    gauge("meshnet_dns_cache_entries", "Answers in the DNS forwarding cache", cache.entries),
    gauge("meshnet_dns_cache_bytes", "Bytes held by the DNS forwarding cache", cache.bytes),
  ];
}
