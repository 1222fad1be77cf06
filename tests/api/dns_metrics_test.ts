import assert from "node:assert/strict";
import { dnsMetrics } from "../../src/api/dns_metrics.ts";
import { render } from "../../src/api/metrics.ts";
import { DnsMetrics } from "../../src/dns/metrics.ts";

Deno.test("dnsMetrics() renders queries, replies by rcode, forwards, cache hits, errors and cache size", () => {
  assert.deepEqual(dnsMetrics(undefined), [], "nothing with --no-dns");
  const metrics = new DnsMetrics();
  metrics.udpQueries = 7;
  metrics.tcpQueries = 2;
  metrics.reply(new Uint8Array([0, 1, 0x81, 0x83]));
  metrics.reply(new Uint8Array([0, 1, 0x81, 0x80]));
  metrics.reply(new Uint8Array([0, 1, 0x81, 0x80]));
  metrics.reply(new Uint8Array([0, 1, 0x81, 0x89]));
  metrics.forwarded = 3;
  metrics.cacheHits = 4;
  metrics.errors = 1;
  const text = render(dnsMetrics({ metrics, cacheUsage: { entries: 5, bytes: 600 } }));
  for (
    const line of [
      'meshnet_dns_queries_total{transport="udp"} 7',
      'meshnet_dns_queries_total{transport="tcp"} 2',
      'meshnet_dns_replies_total{rcode="NOERROR"} 2',
      'meshnet_dns_replies_total{rcode="NXDOMAIN"} 1',
      'meshnet_dns_replies_total{rcode="SERVFAIL"} 0',
      'meshnet_dns_replies_total{rcode="9"} 1',
      "meshnet_dns_forwarded_total 3",
      "meshnet_dns_cache_hits_total 4",
      "meshnet_dns_errors_total 1",
      "meshnet_dns_cache_entries 5",
      "meshnet_dns_cache_bytes 600",
    ]
  ) assert.ok(text.split("\n").includes(line), `missing: ${line}\n${text}`);
  assert.ok(!text.includes('rcode="10"'), "unused codes beyond the named ones are left out");
});
