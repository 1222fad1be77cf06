/**
 * Prometheus metrics of the data plane, IPAM and DNS, read off the router's report at scrape time: sleeve
 * frames and bytes in and out and drops by reason; addresses used and owned, the range size, pending
 * allocations and the share of the range owned by unreachable peers; live DNS entries. Weave's names are
 * kept beside conforming `meshnet_` names.
 *
 * @module
 */
import type { Report } from "../client/wire.ts";
import type { Family, Sample } from "./metrics.ts";
import { ipToBigInt, parseCIDR, parseIP, sizeOf } from "../net/ip.ts";

function gauge(name: string, help: string, samples: Sample[]): Family {
  return { name, help, type: "gauge", samples };
}

function counter(name: string, help: string, samples: Sample[]): Family {
  return { name, help, type: "counter", samples };
}

/** Sleeve families; none when the data plane is not running. */
function sleeveMetrics(r: Report): Family[] {
  const s = r.sleeve;
  if (!s) return [];
  return [
    counter("meshnet_sleeve_frames_total", "Ethernet frames through the sleeve, by direction", [
      { labels: { direction: "in" }, value: s.framesToDevice },
      { labels: { direction: "out" }, value: s.framesFromDevice },
      { labels: { direction: "relayed" }, value: s.framesRelayed },
    ]),
    counter("meshnet_sleeve_bytes_total", "Frame bytes through the sleeve, by direction", [
      { labels: { direction: "in" }, value: s.bytesToDevice },
      { labels: { direction: "out" }, value: s.bytesFromDevice },
    ]),
    counter(
      "meshnet_sleeve_offload_total",
      "Sleeve offload work: super-frames cut, coalesced, UDP GSO sends",
      [
        { labels: { op: "cut" }, value: s.superFramesCut },
        { labels: { op: "coalesced" }, value: s.superFramesCoalesced },
        { labels: { op: "gso" }, value: s.gsoSends },
      ],
    ),
    counter("meshnet_sleeve_datagrams_total", "UDP datagrams of the sleeve, by direction", [
      { labels: { direction: "in" }, value: s.datagramsReceived },
      { labels: { direction: "out" }, value: s.datagramsSent },
    ]),
    counter(
      "meshnet_sleeve_drops_total",
      "Frames and datagrams the sleeve dropped, by reason",
      Object.entries(s.drops).map(([reason, value]) => ({ labels: { reason }, value })),
    ),
  ];
}

/** IPAM families, summed over the ranges. */
function ipamMetrics(r: Report): Family[] {
  const reachable = new Set([r.name, ...Object.keys(r.router.routes)]);
  let used = 0, pending = 0, owned = 0n, size = 0n, unreachable = 0n;
  const unreachablePeers = new Set<string>();
  for (const g of r.ipam.rings) {
    used += g.inUse;
    pending += g.pending;
    owned += BigInt(g.owned);
    size += sizeOf(parseCIDR(g.range));
    for (const t of g.tokens) {
      if (reachable.has(t.owner)) continue;
      unreachable += ipToBigInt(parseIP(t.end)) - ipToBigInt(parseIP(t.start)) + 1n;
      unreachablePeers.add(t.owner);
    }
  }
  const ratio = size === 0n ? 0 : Number((unreachable * 1_000_000n) / size) / 1_000_000;
  return [
    gauge("weave_ips", "Addresses by state", [{ labels: { state: "local-used" }, value: used }]),
    gauge("meshnet_ipam_used_addresses", "Addresses in use by containers on this peer", [{ value: used }]),
    gauge("meshnet_ipam_owned_addresses", "Addresses this peer owns in the ring", [{ value: Number(owned) }]),
    gauge("weave_max_ips", "Size of the address ranges", [{ value: Number(size) }]),
    gauge("weave_ipam_pending_allocates", "Allocations waiting for space or a majority", [{
      value: pending,
    }]),
    gauge("meshnet_ipam_pending_allocations", "Allocations waiting for space or a majority", [{
      value: pending,
    }]),
    gauge("weave_ipam_unreachable_count", "Peers owning space that are unreachable", [{
      value: unreachablePeers.size,
    }]),
    gauge("weave_ipam_unreachable_percentage", "Share of the ranges owned by unreachable peers, in percent", [
      {
        value: ratio * 100,
      },
    ]),
    gauge("meshnet_ipam_unreachable_ratio", "Share of the ranges owned by unreachable peers (0–1)", [{
      value: ratio,
    }]),
  ];
}

/** DNS families; none when DNS is off. */
function dnsMetrics(r: Report): Family[] {
  if (!r.dns) return [];
  const local = r.dns.entries.filter((e) => e.origin === r.name).length;
  return [
    gauge("weave_dns_entries", "Live DNS entries registered on this peer", [{ value: local }]),
    gauge("meshnet_dns_entries", "Live DNS entries known here, by origin", [
      { labels: { origin: "local" }, value: local },
      { labels: { origin: "remote" }, value: r.dns.entries.length - local },
    ]),
  ];
}

/** Every report-derived family. */
export function reportMetrics(r: Report): Family[] {
  return [...sleeveMetrics(r), ...ipamMetrics(r), ...dnsMetrics(r)];
}
