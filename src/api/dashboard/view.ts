/**
 * The dashboard's model of the mesh, built from the router's report: every peer known from gossip, every
 * link between two of them with its state, this host's links with their data path, encryption and MTU,
 * failed dial targets with their reasons, partitions, the IPAM ring, DNS names, attached containers and
 * data-plane counters. Pure: the page renders it as it comes.
 *
 * @module
 */
import type { Attachment, Report } from "../../client/wire.ts";
import { ringShares } from "../ring_shares.ts";

/** A link's state on the page. */
export type LinkState = "established" | "pending" | "down" | "failed";

/** One peer as the dashboard shows it. */
export interface ViewPeer {
  /** Peer name (MAC-like). */
  name: string;
  /** Nickname. */
  nickname: string;
  /** True for the peer serving the page. */
  self: boolean;
  /** True when the data plane has a route to it (always true for self). */
  reachable: boolean;
  /** True when the topology no longer has it (every path to it is gone); known from earlier views. */
  lost: boolean;
  /** Index of its partition in {@link DashboardView.partitions}. */
  partition: number;
}

/** One link between two peers (or a peer and an address nobody answers on). */
export interface ViewLink {
  /** One end: a peer name. */
  a: string;
  /** The other end: a peer name, or `host:port` of a target no peer is known at. */
  b: string;
  /** Established, pending (one end or the data plane not there yet), down (data path stopped), failed. */
  state: LinkState;
  /** Why it is not established, when known. */
  reason?: string;
  /** True when this host is an end, so the details below are first-hand. */
  local: boolean;
  /** `fastdp` or `sleeve` (local links). */
  overlay?: "fastdp" | "sleeve";
  /** Why the link is not on fastdp, when it is not (local links). */
  overlayNote?: string;
  /** Whether control and sleeve traffic are sealed (local links). */
  encrypted?: boolean;
  /** The overlay MTU the link carries, once verified (local links). */
  mtu?: number;
  /** The TCP address of the connection or target (local links). */
  address?: string;
}

/** One IPAM range. */
export interface ViewRing {
  /** The range, CIDR. */
  range: string;
  /** "ready", or why not. */
  state: string;
  /** True when this peer reaches a majority of the ring's voters. */
  majority: boolean;
  /** This peer's owned, free and reserve address counts, and how many are in use or pending here. */
  owned: string;
  free: string;
  reserve: string;
  inUse: number;
  pending: number;
  /** Every owner's share. */
  shares: { owner: string; nickname: string; size: string; percent: number; reachable: boolean }[];
}

/** Data-plane counters, totals since start (the page turns successive ones into rates). */
export interface ViewCounters {
  /** The sleeve's UDP and frame counters; absent when it is not running. */
  sleeve?: {
    /** UDP datagrams and payload bytes sent and received, frames relayed for others, datagrams dropped. */
    datagramsSent: number;
    bytesSent: number;
    datagramsReceived: number;
    bytesReceived: number;
    framesRelayed: number;
    drops: number;
  };
  /** The kernel VXLAN device's counters; absent without fastdp. */
  fastdp?: FastdpCounters;
}

/** The VXLAN device's kernel counters. */
export interface FastdpCounters {
  /** Packets received on the device (decapsulated). */
  rxPackets: number;
  /** Bytes of those packets. */
  rxBytes: number;
  /** Packets sent through the device (to be encapsulated). */
  txPackets: number;
  /** Bytes of those packets. */
  txBytes: number;
}

/** Everything the dashboard shows, as sent on each update. */
export interface DashboardView {
  /** When it was taken, Unix ms. */
  at: number;
  /** The serving peer. */
  self: { name: string; nickname: string; version: string; encryption: boolean };
  /** Every peer known from gossip, sorted by nickname then name. */
  peers: ViewPeer[];
  /** Every link, sorted by ends. */
  links: ViewLink[];
  /** Groups of peers that reach each other over established links; more than one means a partition. */
  partitions: string[][];
  /** The IPAM rings. */
  rings: ViewRing[];
  /** DNS: domain, TTL, upstream resolvers and live names; absent with --no-dns. */
  dns?: {
    domain: string;
    ttl: number;
    upstream: string[];
    entries: { name: string; address: string; container: string; origin: string; originNickname: string }[];
  };
  /** Containers attached on this host. */
  containers: { id: string; label: string; addresses: string[]; mac: string; names: string[] }[];
  /** Data-plane counters. */
  counters: ViewCounters;
}

/** What the views of one router remember from earlier ones (see {@link dashboardView}). */
export interface ViewMemory {
  /** The peer last seen at each underlay host. */
  hostPeers: Map<string, string>;
  /** Every peer seen, with its nickname. */
  peers: Map<string, string>;
}

/** An empty {@link ViewMemory}. */
export function newViewMemory(): ViewMemory {
  return { hostPeers: new Map(), peers: new Map() };
}

/** The host of a `host:port` or `[v6]:port` address. */
function hostOf(address: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(address) ?? /^(.*):\d+$/.exec(address);
  return m ? m[1] : address;
}

function key(a: string, b: string): string {
  return a < b ? `${a}\n${b}` : `${b}\n${a}`;
}

/** The `fastdp`/`sleeve` part of a report's overlay text, and the reason in its parentheses. */
function splitOverlay(overlay: string): { overlay: "fastdp" | "sleeve"; note?: string } {
  const m = /^(\w+)(?: \((.*)\))?$/.exec(overlay);
  return { overlay: m?.[1] === "fastdp" ? "fastdp" : "sleeve", note: m?.[2] };
}

/** Connected components of `peers` over `edges`, the component holding `self` first. */
function components(peers: string[], edges: [string, string][], self: string): string[][] {
  const adj = new Map(peers.map((p) => [p, [] as string[]]));
  for (const [a, b] of edges) {
    adj.get(a)?.push(b);
    adj.get(b)?.push(a);
  }
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const start of [self, ...peers]) {
    if (seen.has(start) || !adj.has(start)) continue;
    const group: string[] = [];
    const stack = [start];
    seen.add(start);
    while (stack.length) {
      const p = stack.pop()!;
      group.push(p);
      for (const q of adj.get(p)!) {
        if (seen.has(q)) continue;
        seen.add(q);
        stack.push(q);
      }
    }
    out.push(group.sort());
  }
  return out;
}

/**
 * Builds the dashboard's view.
 *
 * Links come from every peer's gossiped connection list: established when both ends report each other
 * established, pending otherwise. This host's own links are taken first-hand: a connection whose fastdp
 * heartbeats stopped is `down` until the sleeve's heartbeats decide, and a target that failed is `failed`
 * with its last error, joined to the peer last seen at that host or, when none is known, to the address
 * itself.
 *
 * @param report the router's report
 * @param containers the attachments of this host (`GET /ps`)
 * @param fastdp the VXLAN device's counters, when it exists
 * @param now the time of the snapshot, Unix ms
 * @param memory what earlier views saw, updated here and kept by the caller across views: a target whose
 *   connection closed is still drawn to its peer, and a peer the topology dropped (no path to it is left)
 *   still shows, as lost
 */
export function dashboardView(
  report: Report,
  containers: Attachment[],
  fastdp: FastdpCounters | undefined,
  now: number,
  memory: ViewMemory = newViewMemory(),
): DashboardView {
  const { hostPeers, peers: seen } = memory;
  const m = report.router;
  const nick = new Map(m.peers.map((p) => [p.name, p.nickname]));
  nick.set(report.name, report.nickname);
  for (const [name, nickname] of nick) seen.set(name, nickname);
  for (const [name, nickname] of seen) if (!nick.has(name)) nick.set(name, nickname);
  const lost = new Set(
    [...seen.keys()].filter((n) => n !== report.name && !m.peers.some((p) => p.name === n)),
  );
  const reachable = new Set([report.name, ...Object.keys(m.routes)]);

  // Gossip: what each peer says about its connections.
  const claims = new Map<string, { from: string; to: string; established: boolean }[]>();
  for (const p of m.peers) {
    for (const c of p.connections) {
      const k = key(p.name, c.name);
      claims.set(k, [...claims.get(k) ?? [], { from: p.name, to: c.name, established: c.established }]);
      if (c.outbound) hostPeers.set(hostOf(c.address), c.name);
    }
  }
  const links = new Map<string, ViewLink>();
  for (const [k, cs] of claims) {
    const [a, b] = k.split("\n");
    const both = cs.some((c) => c.from === a) && cs.some((c) => c.from === b);
    const established = both && cs.every((c) => c.established);
    const reason = established
      ? undefined
      : both
      ? "the data plane is not verified both ways yet"
      : `only ${nick.get(cs[0].from) ?? cs[0].from} reports it so far`;
    links.set(k, { a, b, state: established ? "established" : "pending", reason, local: false });
  }

  // First-hand: our connections, then targets that are not connected.
  for (const c of m.connections) {
    hostPeers.set(hostOf(c.address), c.name);
    const { overlay, note } = splitOverlay(c.overlay);
    const down = note !== undefined && /heartbeats stopped/.test(note);
    const state: LinkState = c.state === "established" ? (down ? "down" : "established") : "pending";
    links.set(key(report.name, c.name), {
      a: report.name,
      b: c.name,
      state,
      reason: down
        ? note
        : c.state === "pending"
        ? "waiting for UDP heartbeats to be acknowledged"
        : undefined,
      local: true,
      overlay,
      overlayNote: note,
      encrypted: c.encrypted,
      mtu: c.mtu,
      address: c.address,
    });
  }
  const connected = new Set(m.connections.map((c) => c.name));
  for (const t of m.targets) {
    if (t.state === "connected" || t.lastError === undefined) continue;
    const peer = hostPeers.get(hostOf(t.address));
    if (peer !== undefined && (connected.has(peer) || peer === report.name)) continue;
    const b = peer ?? t.address;
    const discovered = t.explicit ? "" : " (address learned by discovery)";
    links.set(key(report.name, b), {
      a: report.name,
      b,
      state: "failed",
      reason: `${t.lastError}${discovered}${t.state === "connecting" ? "; dialling again" : ""}`,
      local: true,
      address: t.address,
    });
  }

  const names = [...new Set([report.name, ...m.peers.map((p) => p.name), ...lost])];
  const partitions = components(
    names,
    [...links.values()].filter((l) => l.state === "established" || l.state === "down")
      .map((l) => [l.a, l.b] as [string, string]),
    report.name,
  );
  const partitionOf = new Map(partitions.flatMap((g, i) => g.map((p) => [p, i] as [string, number])));
  const peers = names.map((name) => ({
    name,
    nickname: nick.get(name) ?? "?",
    self: name === report.name,
    reachable: reachable.has(name),
    lost: lost.has(name),
    partition: partitionOf.get(name) ?? 0,
  })).sort((x, y) => x.nickname.localeCompare(y.nickname) || x.name.localeCompare(y.name));

  const dnsNames = new Map<string, string[]>();
  for (const e of report.dns?.entries ?? []) {
    if (e.origin === report.name) dnsNames.set(e.container, [...dnsNames.get(e.container) ?? [], e.name]);
  }
  const s = report.sleeve;
  return {
    at: now,
    self: { name: report.name, nickname: report.nickname, version: report.version, encryption: m.encryption },
    peers,
    links: [...links.values()].sort((x, y) => key(x.a, x.b).localeCompare(key(y.a, y.b))),
    partitions,
    rings: report.ipam.rings.map((g) => ({
      range: g.range,
      state: g.state,
      majority: g.majority,
      owned: g.owned,
      free: g.free,
      reserve: g.reserve,
      inUse: g.inUse,
      pending: g.pending,
      shares: ringShares(g).map((x) => ({
        owner: x.owner,
        nickname: nick.get(x.owner) ?? "?",
        size: x.size.toString(),
        percent: x.percent,
        reachable: reachable.has(x.owner),
      })),
    })),
    dns: report.dns && {
      domain: report.dns.domain,
      ttl: report.dns.ttl,
      upstream: report.dns.upstream ?? [],
      entries: report.dns.entries.map((e) => ({
        name: e.name,
        address: e.address,
        container: e.container,
        origin: e.origin,
        originNickname: nick.get(e.origin) ?? "?",
      })),
    },
    containers: containers.map((c) => ({
      id: c.id,
      label: c.label,
      addresses: c.addresses,
      mac: c.mac,
      names: dnsNames.get(c.id) ?? [],
    })),
    counters: {
      sleeve: s && {
        datagramsSent: s.datagramsSent,
        bytesSent: s.bytesSent,
        datagramsReceived: s.datagramsReceived,
        bytesReceived: s.bytesReceived,
        framesRelayed: s.framesRelayed,
        drops: Object.values(s.drops).reduce((n, x) => n + x, 0),
      },
      fastdp,
    },
  };
}
