/**
 * Prometheus metrics of the data plane, IPAM and DNS, read off the router's report at scrape time: sleeve
 * frames and bytes in and out and drops by reason; addresses used and owned, the range size, pending
 * allocations and the share of the range owned by unreachable peers; live DNS entries. Weave's names are
 * kept beside conforming `meshnet_` names.
 *
 * @module
 */
import type { Report } from "../client/wire.ts";
import { counter, type Family, gauge, type Sample } from "./metrics.ts";
import { ipToBigInt, parseCIDR, parseIP, sizeOf } from "../../base/ip.ts";

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

/** Per address family ("ipv4", "ipv6"): the IPAM figures of its ranges. */
interface FamilyFigures {
  used: number;
  pending: number;
  owned: bigint;
  size: bigint;
  unreachable: bigint;
}

/**
 * IPAM families, one sample per address family (label `family`): an IPv6 range has 2^64 addresses or more,
 * so a sum over both families would hide the IPv4 figures (it read `weave_max_ips 1.8e19`).
 */
function ipamMetrics(r: Report): Family[] {
  const reachable = new Set([r.name, ...Object.keys(r.router.routes)]);
  const byFamily = new Map<string, FamilyFigures>();
  const unreachablePeers = new Set<string>();
  for (const g of r.ipam.rings) {
    const family = g.range.includes(":") ? "ipv6" : "ipv4";
    const f = byFamily.get(family) ?? { used: 0, pending: 0, owned: 0n, size: 0n, unreachable: 0n };
    byFamily.set(family, f);
    f.used += g.inUse;
    f.pending += g.pending;
    f.owned += BigInt(g.owned);
    f.size += sizeOf(parseCIDR(g.range));
    for (const t of g.tokens) {
      if (reachable.has(t.owner)) continue;
      f.unreachable += ipToBigInt(parseIP(t.end)) - ipToBigInt(parseIP(t.start)) + 1n;
      unreachablePeers.add(t.owner);
    }
  }
  const families = [...byFamily.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  const each = (value: (f: FamilyFigures) => number, labels: Record<string, string> = {}): Sample[] =>
    families.map(([family, f]) => ({ labels: { ...labels, family }, value: value(f) }));
  const ratio = (f: FamilyFigures) =>
    f.size === 0n ? 0 : Number((f.unreachable * 1_000_000n) / f.size) / 1_000_000;
  return [
    gauge("weave_ips", "Addresses by state and address family", each((f) => f.used, { state: "local-used" })),
    gauge(
      "meshnet_ipam_used_addresses",
      "Addresses in use by containers on this peer, by address family",
      each((f) => f.used),
    ),
    gauge(
      "meshnet_ipam_owned_addresses",
      "Addresses this peer owns in the ring, by address family",
      each((f) => Number(f.owned)),
    ),
    gauge("weave_max_ips", "Size of the address ranges, by address family", each((f) => Number(f.size))),
    gauge("weave_ipam_pending_allocates", "Allocations waiting for space or a majority", [{
      value: families.reduce((n, [, f]) => n + f.pending, 0),
    }]),
    gauge(
      "meshnet_ipam_pending_allocations",
      "Allocations waiting for space or a majority, by address family",
      each((f) => f.pending),
    ),
    gauge("weave_ipam_unreachable_count", "Peers owning space that are unreachable", [{
      value: unreachablePeers.size,
    }]),
    gauge("meshnet_ipam_unreachable_peers", "Peers owning space that are unreachable", [{
      value: unreachablePeers.size,
    }]),
    gauge(
      "weave_ipam_unreachable_percentage",
      "Share of the ranges owned by unreachable peers, in percent, by address family",
      each((f) => ratio(f) * 100),
    ),
    gauge(
      "meshnet_ipam_unreachable_ratio",
      "Share of the ranges owned by unreachable peers (0-1), by address family",
      each(ratio),
    ),
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
