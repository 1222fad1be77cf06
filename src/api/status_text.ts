/**
 * The text pages of `meshnet status` (served as `GET /status` and `/status/<view>`), laid out like the
 * reference's so its users find each line where they expect it.
 *
 * @module
 */
import type { Report, RoutingReport } from "../client/wire.ts";
import { FORWARDING_SYSCTLS, IPV6_FORWARDING_SYSCTLS } from "../netdev/constants.ts";
import { ringShares } from "./ring_shares.ts";

type TargetReport = Report["router"]["targets"][number];

const [FORWARD_KEY, BRIDGE_NF_KEY] = FORWARDING_SYSCTLS.map((s) => s.key);
const [FORWARD6_KEY, BRIDGE_NF6_KEY] = IPV6_FORWARDING_SYSCTLS.map((s) => s.key);

function line(label: string, value: string | number): string {
  return `${label.padStart(20)}: ${value}`;
}

function counts(items: string[]): string {
  const by = new Map<string, number>();
  for (const i of items) by.set(i, (by.get(i) ?? 0) + 1);
  return [...by].map(([k, n]) => `${n} ${k}`).join(", ");
}

/** The summary status page. */
export function statusText(r: Report): string {
  const m = r.router;
  const notConnected = m.targets.filter((t) => t.state !== "connected").map((t) => t.state);
  const states = [
    ...m.connections.map((c) => c.state),
    ...notConnected,
    ...Array(m.handshaking).fill("connecting"),
  ];
  const established = m.peers.reduce((n, p) => n + p.connections.filter((c) => c.established).length, 0);
  return [
    "",
    line("Version", r.version),
    "",
    line("Service", "router"),
    line("Protocol", m.protocol),
    line("Name", `${r.name}(${r.nickname})`),
    line("Encryption", encryption(r)),
    line("PeerDiscovery", m.peerDiscovery ? "enabled" : "disabled"),
    line("Targets", m.targets.filter((t) => t.explicit).length),
    line("Connections", `${states.length}${states.length ? ` (${counts(states)})` : ""}`),
    ...failedTargets(r),
    line("Peers", `${m.peers.length} (with ${established} established connections)`),
    line("ConnLimit", m.connLimit === 0 ? "none" : m.connLimit),
    "",
    line("Service", "ipam"),
    ...r.ipam.rings.flatMap((g) => [line("Status", g.state), line("Range", g.range)]),
    line("Exposed", r.ipam.exposed.join(" ") || "none"),
    ...(r.dns
      ? [
        "",
        line("Service", "dns"),
        line("Domain", r.dns.domain),
        line("Upstream", r.dns.upstream?.join(", ") || "none"),
        line("TTL", r.dns.ttl),
        line("Entries", r.dns.entries.length),
      ]
      : []),
    ...(r.routing ? ["", ...routingLines(r.routing)] : []),
    "",
  ].join("\n");
}

/**
 * Whether the mesh is encrypted and, when it is, which libraries seal the sleeve's datagrams (each link uses
 * AES-256-GCM where both peers have AES-NI, else XSalsa20-Poly1305); the slow fallback says what to install.
 */
function encryption(r: Report): string {
  const s = r.sleeve;
  if (!r.router.encryption) return "disabled";
  if (s === undefined) return "enabled";
  const ciphers = [...(s.gcm ? [`AES-256-GCM by ${s.gcm}`] : []), `XSalsa20-Poly1305 by ${s.crypto}`];
  const slow = s.crypto === "tweetnacl"
    ? "; tweetnacl is about 13× slower than libsodium: install libsodium23"
    : "";
  return `enabled (sleeve: ${ciphers.join(" or ")}, per link${slow})`;
}

/** The routing section of the summary: gateway, masquerade and forwarding in plain words. */
function routingLines(g: RoutingReport): string[] {
  const sysctl = (key: string) => g.sysctls.find((s) => s.key === key);
  const said = (key: string, on: string, off: string) => {
    const s = sysctl(key);
    if (!s) return "unknown";
    const by = s.before === undefined ? "" : ` (meshnet set it; reset puts back ${s.before})`;
    return s.value === "1"
      ? `${on}${by}`
      : s.value === "missing"
      ? `${off}: the setting does not exist`
      : off;
  };
  return [
    line("Service", "routing"),
    line("Gateway", `${g.gateway} on ${g.bridge}: containers' default route and DNS address`),
    ...(g.gateway6 ? [line("Gateway6", `${g.gateway6} on ${g.bridge}: IPv6 containers' default route`)] : []),
    line(
      "Masquerade",
      g.masquerade
        ? `on: traffic from ${g.bridge} leaving by another interface takes this host's address`
        : "off: containers' traffic leaves with their own addresses",
    ),
    line("Forwarding", said(FORWARD_KEY, "on: this host routes containers' traffic", "off")),
    line("BridgeNetfilter", said(BRIDGE_NF_KEY, "on: bridged traffic passes netfilter (Services)", "off")),
    ...(g.sysctls.some((s) => s.key === FORWARD6_KEY)
      ? [
        line("Forwarding6", said(FORWARD6_KEY, "on: this host routes containers' IPv6 traffic", "off")),
        line("BridgeNetfilter6", said(BRIDGE_NF6_KEY, "on: bridged IPv6 passes netfilter (Services)", "off")),
      ]
      : []),
    line(
      "Isolation",
      g.table ? `the host routes no traffic between subnets on ${g.bridge} (nft ${g.table})` : "none",
    ),
    ...g.problems.map((p) => line("Problem", p)),
  ];
}

/** A target whose last attempt failed: retried later (`failed`) or being dialled again (`connecting`). */
function lastAttemptFailed(t: TargetReport): boolean {
  return t.state === "failed" || (t.state === "connecting" && t.lastError !== undefined);
}

/** When a failed target is tried next: its time, or that the new attempt is under way. */
function nextAttempt(t: TargetReport, retryAt: string): string {
  return t.state === "connecting" ? "dialling again now" : `${retryAt}${t.nextTry}`;
}

/**
 * One line per target whose last attempt failed, under the connection count, with its error (also while it is
 * dialled again, so the reason does not vanish at each retry); for an address learned by discovery (a peer's
 * address as another peer sees it, often on a network this host is not on), what that means and how to stop
 * the attempts.
 */
function failedTargets(r: Report): string[] {
  return r.router.targets.filter(lastAttemptFailed).map((t) => {
    const why = t.explicit
      ? `${t.lastError ?? "failed"}; ${nextAttempt(t, "retrying at ")}`
      : `${t.lastError ?? "failed"}; this address was learned by discovery from another peer and cannot be ` +
        "reached from here (harmless when that peer is connected another way; launch with --no-discovery " +
        "to dial only the peers given)";
    return `${"".padStart(22)}failed ${t.address}: ${why}`;
  });
}

/** `status connections`: live connections, then targets that are not connected with their last error. */
export function connectionsText(r: Report): string {
  const rows: string[] = [];
  for (const c of r.router.connections) {
    const mtu = c.mtu === undefined ? "" : ` mtu=${c.mtu}`;
    const info = `${c.encrypted ? "encrypted" : "unencrypted"} ${c.overlay} ${c.name}(${c.nickname})${mtu}`;
    rows.push(`${c.outbound ? "->" : "<-"} ${c.address.padEnd(22)} ${c.state.padEnd(12)} ${info}`);
  }
  for (const t of r.router.targets) {
    if (t.state === "connected") continue;
    const info = lastAttemptFailed(t)
      ? `${t.lastError}, ${nextAttempt(t, "retry: ")}`
      : t.state === "self"
      ? "this host's own address: not dialled"
      : "";
    rows.push(`-> ${t.address.padEnd(22)} ${t.state.padEnd(12)} ${info}`.trimEnd());
  }
  return rows.map((x) => x + "\n").join("");
}

/** `status peers`: every peer with the connections it reports. */
export function peersText(r: Report): string {
  const nick = new Map(r.router.peers.map((p) => [p.name, p.nickname]));
  return r.router.peers.map((p) =>
    `${p.name}(${p.nickname})\n` +
    p.connections.map((c) =>
      `   ${c.outbound ? "->" : "<-"} ${c.address.padEnd(22)} ${c.name}(${nick.get(c.name) ?? "?"})`.padEnd(
        60,
      ) +
      ` ${c.established ? "established" : "pending"}\n`
    ).join("")
  ).join("");
}

/** `status targets`: the explicit targets, one per line. */
export function targetsText(r: Report): string {
  return r.router.targets.filter((t) => t.explicit).map((t) => t.address + "\n").join("");
}

/**
 * `status ipam`: per range, each owner's share of the range, with our active count and unreachable peers, and
 * whether our reserve is acknowledged.
 */
export function ipamText(r: Report): string {
  const nick = new Map(r.router.peers.map((p) => [p.name, p.nickname]));
  const reachable = new Set([r.name, ...Object.keys(r.router.routes)]);
  let out = "";
  for (const g of r.ipam.rings) {
    out += `${g.range}: ${g.state}\n`;
    for (const { owner, size, percent } of ringShares(g)) {
      const tail = owner === r.name ? ` (${g.inUse} active)` : reachable.has(owner) ? "" : " - unreachable!";
      out += `  ${owner}(${nick.get(owner) ?? "?"})`.padEnd(30) +
        ` ${size} IPs (${percent.toFixed(1)}% of total)${tail}\n`;
    }
    if (g.state === "ready" && g.owned !== "0") {
      out += g.reserveReady
        ? `  reserve: ${g.reserve} IPs, acknowledged (allocation goes on when cut off from a majority)\n`
        : `  reserve: not yet acknowledged by a majority (cut off now, this peer could not allocate)\n`;
    }
  }
  return out;
}
