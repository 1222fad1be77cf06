/**
 * Prometheus metrics of the DNS server: queries by transport, replies by rcode, forwarded queries, cache hits,
 * errors, and the forwarding cache's size.
 *
 * @module
 */
import type { DnsStats } from "../router/dns_service.ts";
import type { Family } from "./metrics.ts";

/** Rcode names for the `rcode` label (others are given as numbers). */
const RCODE_NAMES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/** The DNS metric families of `dns` ({@link DnsService.stats}); none with --no-dns (undefined). */
export function dnsMetrics(dns: Pick<DnsStats, "metrics" | "cacheUsage"> | undefined): Family[] {
  if (!dns) return [];
  const m = dns.metrics, cache = dns.cacheUsage;
  const counter = (name: string, help: string, value: number): Family => ({
    name,
    help,
    type: "counter",
    samples: [{ value }],
  });
  return [
    {
      name: "meshnet_dns_queries_total",
      help: "DNS queries received, by transport",
      type: "counter",
      samples: [{ labels: { transport: "udp" }, value: m.udpQueries }, {
        labels: { transport: "tcp" },
        value: m.tcpQueries,
      }],
    },
    {
      name: "meshnet_dns_replies_total",
      help: "DNS replies sent, by rcode",
      type: "counter",
      samples: m.replies.flatMap((value, rcode) =>
        value > 0 || rcode < RCODE_NAMES.length
          ? [{ labels: { rcode: RCODE_NAMES[rcode] ?? String(rcode) }, value }]
          : []
      ),
    },
    counter("meshnet_dns_forwarded_total", "DNS queries forwarded upstream (cache misses)", m.forwarded),
    counter("meshnet_dns_cache_hits_total", "Forwarded DNS names answered from the cache", m.cacheHits),
    counter(
      "meshnet_dns_errors_total",
      "DNS failures: receive/send errors, forwards dropped or answered SERVFAIL",
      m.errors,
    ),
    {
      name: "meshnet_dns_cache_entries",
      help: "Answers in the DNS forwarding cache",
      type: "gauge",
      samples: [{ value: cache.entries }],
    },
    {
      name: "meshnet_dns_cache_bytes",
      help: "Bytes held by the DNS forwarding cache",
      type: "gauge",
      samples: [{ value: cache.bytes }],
    },
  ];
}
