/**
 * The router's configuration, from `meshnet launch` flags and environment variables, validated in one place.
 *
 * @module
 */
import { UsageError } from "../../base/errors.ts";
import { MESH_PORT, METRICS_PORT } from "../mesh/constants.ts";
import { formatCIDR, isIP, parseCIDR } from "../../base/ip.ts";
import { DEFAULT_BRIDGE } from "../netdev/constants.ts";
import { DEFAULT_RECLAIM_AFTER_MS } from "../ipam/constants.ts";
import { DEFAULT_DOMAIN, DEFAULT_TTL, DNS_PORT } from "../dns/constants.ts";
import { canonicalName } from "../dns/message.ts";
import type { InitMode } from "../ipam/ipam.ts";
import { DEFAULT_DATA_DIR } from "./data_dir.ts";
import { parsePeerName } from "./peer_name.ts";

/** Default maximum number of connections (the reference's code default). */
export const DEFAULT_CONN_LIMIT = 200;
/** Default overlay MTU: a 1500-byte underlay less the sleeve's encapsulation, as the reference. */
export const DEFAULT_MTU = 1376;
/** Default overlay address range, as the reference. */
export const DEFAULT_IPALLOC_RANGE = "10.32.0.0/12";

/** A peer address as given on the command line: host and port. */
export interface PeerAddress {
  /** Host name or IP address. */
  host: string;
  /** TCP port of its mesh. */
  port: number;
}

/** Everything the router needs to start. */
export interface RouterConfig {
  /** The peer name to use instead of the persisted one (--name). */
  name?: string;
  /** Human-readable name shown beside the peer name (--nickname, default the host name). */
  nickname: string;
  /** Shared secret of the mesh; undefined for an unencrypted mesh. */
  password?: string;
  /** Maximum number of connections, 0 for unlimited. */
  connLimit: number;
  /** Connect to peers learned from other peers' connection lists. */
  discovery: boolean;
  /** TCP (and sleeve UDP) port of the mesh. */
  port: number;
  /** Address to listen on for peers ("0.0.0.0" for all). */
  host: string;
  /** State directory. */
  dataDir: string;
  /** Peers to connect to at start. */
  peers: PeerAddress[];
  /** Name of the bridge containers are plugged into. */
  bridge: string;
  /** MTU of the overlay (bridge, TAP and container interfaces) in bytes. */
  mtu: number;
  /** True when --mtu was not given: with fastdp the router derives {@link mtu} from the underlay at start. */
  mtuFromUnderlay: boolean;
  /** Use the kernel VXLAN fast datapath where a pair allows it (false with --no-fastdp). */
  fastdp: boolean;
  /** Masquerade containers' traffic leaving the host by another interface (false with --no-masquerade). */
  masquerade: boolean;
  /** Let the sleeve's TAP hand over and take TCP super-frames (false with --no-offload). */
  offload: boolean;
  /** The overlay's address ranges (one, or an IPv4 and an IPv6 one for dual-stack); IPAM allocates from them and
   * launch refuses one that overlaps a host route. */
  ipallocRanges: string[];
  /** How the IPAM ring is initialised. */
  ipallocInit: InitMode;
  /** How long a peer must be unreachable before the majority reclaims its free space, in milliseconds. */
  ipallocReclaimAfterMs: number;
  /** Whether the router serves DNS (off with --no-dns). */
  dns: boolean;
  /** The DNS domain, lower case with a trailing dot (--dns-domain). */
  dnsDomain: string;
  /** TTL of DNS answers in seconds (--dns-ttl). */
  dnsTtl: number;
  /** UDP and TCP port of the DNS server (--dns-port). */
  dnsPort: number;
  /** The resolv.conf listing upstream resolvers for names outside the domain (--resolv-conf). */
  resolvConf: string;
  /** Where /metrics alone is served besides the loopback API (--metrics-addr IP:PORT), if anywhere. */
  metricsAddr?: PeerAddress;
}

/**
 * Parses `host[:port]` (IPv6 as `[addr]:port` or a bare address).
 *
 * @throws {UsageError} naming the value when the port is not 1–65535 or the host is empty
 */
export function parsePeerAddress(s: string, defaultPort = MESH_PORT): PeerAddress {
  let host = s, portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (v6) [host, portText] = [v6[1], v6[2]];
  else if ((s.match(/:/g) ?? []).length === 1) [host, portText] = s.split(":");
  if (host === "") throw new UsageError(`Invalid peer '${s}': empty host; use host[:port]`);
  if (host.includes(":") && !isIP(host)) {
    throw new UsageError(`Invalid peer '${s}': '${host}' is not an IPv6 address; write [addr]:port`);
  }
  if (!isIP(host) && !HOST_NAME.test(host)) {
    throw new UsageError(
      `Invalid peer '${s}': '${host}' is neither an IP address nor a host name; use host[:port], e.g. 192.168.1.2`,
    );
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new UsageError(`Invalid peer '${s}': port '${portText}' must be 1 to 65535`);
    }
    port = Number(portText);
  }
  return { host, port };
}

/** A host name: dot-separated labels of letters, digits and '-', not starting or ending with '-'. */
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * True when `peer` is this router itself: its port is ours and its host is the address we listen on, or,
 * when we listen on every address, a loopback, unspecified or own interface address. Host names are not
 * resolved (the handshake recognises ourselves there).
 *
 * @param peer the peer to dial
 * @param self the address we listen on
 * @param ownAddresses this host's interface addresses (default from `Deno.networkInterfaces()`)
 */
export function isSelfPeer(peer: PeerAddress, self: PeerAddress, ownAddresses?: string[]): boolean {
  if (peer.port !== self.port || !isIP(peer.host)) return false;
  const anyAddress = self.host === "0.0.0.0" || self.host === "::";
  const own = () => ownAddresses ?? Deno.networkInterfaces().map((i) => i.address);
  return peer.host === self.host ||
    (anyAddress && (/^127\./.test(peer.host) || ["::1", "0.0.0.0", "::"].includes(peer.host) ||
      own().includes(peer.host)));
}

/**
 * Refuses a peer that is this router itself ({@link isSelfPeer}): `connect` names it as a mistake.
 *
 * @throws {UsageError} naming the peer, saying to leave our own address out
 */
export function checkNotSelf(peer: PeerAddress, self: PeerAddress, ownAddresses?: string[]): void {
  if (isSelfPeer(peer, self, ownAddresses)) {
    throw new UsageError(
      `Invalid peer '${
        formatPeerAddress(peer)
      }': that is this router itself (port ${self.port} on this host); ` +
        "leave our own address out of the peers",
    );
  }
}

/** `host:port`, with brackets around IPv6 hosts. */
export function formatPeerAddress(a: PeerAddress): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Raw launch flags as commander hands them over. */
export interface LaunchFlags {
  password?: string;
  name?: string;
  nickname?: string;
  connLimit?: string;
  discovery?: boolean;
  port?: string;
  host?: string;
  dataDir?: string;
  bridge?: string;
  mtu?: string;
  fastdp?: boolean;
  masquerade?: boolean;
  offload?: boolean;
  ipallocRange?: string;
  ipallocInit?: string;
  ipallocReclaimAfter?: string;
  dns?: boolean;
  dnsDomain?: string;
  dnsTtl?: string;
  dnsPort?: string;
  resolvConf?: string;
  metricsAddr?: string;
}

function checkLinkName(flag: string, name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) {
    throw new UsageError(`Invalid ${flag} '${name}': use 1 to 15 letters, digits, '.', '-' or '_'`);
  }
  return name;
}

function checkRanges(text: string): string[] {
  const ranges = text.split(",").map((r) => r.trim());
  const parsed = ranges.map((r) => {
    try {
      return parseCIDR(r);
    } catch (err) {
      throw new UsageError(`Invalid --ipalloc-range: ${(err as Error).message}`);
    }
  });
  if (parsed.length > 2 || (parsed.length === 2 && parsed[0].family === parsed[1].family)) {
    throw new UsageError(`Invalid --ipalloc-range '${text}': give one range, or one IPv4 and one IPv6 range`);
  }
  return parsed.map(formatCIDR);
}

/**
 * Parses --ipalloc-init: `consensus[=N]`, `seed=NAME,…` or `observer`; consensus without N counts the launch
 * peers and ourselves.
 *
 * @throws {UsageError} naming the value
 */
export function parseInit(text: string | undefined, peerCount: number): InitMode {
  const t = text ?? "consensus";
  const m = /^(consensus|seed|observer)(?:=(.*))?$/.exec(t);
  const bad = () =>
    new UsageError(`Invalid --ipalloc-init '${t}': use consensus[=N], seed=NAME[,NAME…] or observer`);
  if (!m) throw bad();
  if (m[1] === "observer" && m[2] === undefined) return { mode: "observer" };
  if (m[1] === "consensus") {
    if (m[2] === undefined) return { mode: "consensus", count: peerCount + 1 };
    if (!/^[1-9]\d{0,3}$/.test(m[2])) throw bad();
    return { mode: "consensus", count: Number(m[2]) };
  }
  if (m[1] === "seed" && m[2]) {
    try {
      return { mode: "seed", peers: m[2].split(",").map(parsePeerName) };
    } catch (err) {
      throw new UsageError(`Invalid --ipalloc-init '${t}': ${(err as Error).message}`);
    }
  }
  throw bad();
}

/**
 * Parses a duration like `90s`, `10m`, `2h` or a number of seconds.
 *
 * @returns milliseconds
 * @throws {UsageError} naming the flag and the value
 */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d{1,7})(ms|s|m|h)?$/.exec(text);
  if (!m) throw new UsageError(`Invalid ${flag} '${text}': use a duration like 90s, 10m or 2h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"]!;
  return Number(m[1]) * unit;
}

function dnsDomain(text: string): string {
  try {
    const d = canonicalName(text);
    if (d !== ".") return d;
  } catch (err) {
    throw new UsageError(`Invalid --dns-domain '${text}': ${(err as Error).message}`);
  }
  throw new UsageError(`Invalid --dns-domain '${text}': give a domain like weave.local`);
}

function integer(flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`Invalid ${flag} '${value}': expected a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

/** Parses --metrics-addr: an IP address of this host and a port (default {@link METRICS_PORT}). */
function metricsAddress(text: string): PeerAddress {
  let a: PeerAddress;
  try {
    a = parsePeerAddress(text, METRICS_PORT);
  } catch {
    throw new UsageError(`Invalid --metrics-addr '${text}': use IP:PORT, e.g. 10.0.0.5:${METRICS_PORT}`);
  }
  if (!isIP(a.host)) {
    throw new UsageError(`Invalid --metrics-addr '${text}': '${a.host}' is not an IP address of this host`);
  }
  return a;
}

/**
 * Builds a {@link RouterConfig} from flags, the environment (MESHNET_PASSWORD, MESHNET_DATA_DIR) and peers.
 *
 * @throws {UsageError} naming the first bad value
 */
export function buildConfig(
  flags: LaunchFlags,
  peers: string[],
  env: (k: string) => string | undefined,
): RouterConfig {
  if (flags.name !== undefined) {
    try {
      parsePeerName(flags.name);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const password = flags.password ?? env("MESHNET_PASSWORD");
  if (password === "") {
    throw new UsageError("Empty password; give a non-empty --password or unset MESHNET_PASSWORD");
  }
  const host = flags.host ?? "0.0.0.0";
  if (!isIP(host)) {
    throw new UsageError(`Invalid --host '${host}': expected an IP address of this host, e.g. 0.0.0.0`);
  }
  const port = flags.port === undefined ? MESH_PORT : integer("--port", flags.port, 1, 65535);
  return {
    name: flags.name,
    nickname: flags.nickname ?? Deno.hostname(),
    password,
    connLimit: flags.connLimit === undefined
      ? DEFAULT_CONN_LIMIT
      : integer("--conn-limit", flags.connLimit, 0, 100000),
    discovery: flags.discovery ?? true,
    port,
    host,
    dataDir: flags.dataDir ?? env("MESHNET_DATA_DIR") ?? DEFAULT_DATA_DIR,
    // Launch skips our own address rather than refusing it: a DaemonSet hands every node the list of all
    // nodes, itself included (the handshake also recognises ourselves behind a host name).
    peers: peers.map((p) => parsePeerAddress(p, port)).filter((peer) => !isSelfPeer(peer, { host, port })),
    bridge: checkLinkName("--bridge", flags.bridge ?? DEFAULT_BRIDGE),
    mtu: flags.mtu === undefined ? DEFAULT_MTU : integer("--mtu", flags.mtu, 576, 65000),
    mtuFromUnderlay: flags.mtu === undefined,
    fastdp: flags.fastdp ?? true,
    masquerade: flags.masquerade ?? true,
    offload: flags.offload ?? true,
    ipallocRanges: checkRanges(flags.ipallocRange ?? DEFAULT_IPALLOC_RANGE),
    ipallocInit: parseInit(flags.ipallocInit, peers.length),
    ipallocReclaimAfterMs: flags.ipallocReclaimAfter === undefined
      ? DEFAULT_RECLAIM_AFTER_MS
      : parseDuration("--ipalloc-reclaim-after", flags.ipallocReclaimAfter),
    dns: flags.dns ?? true,
    dnsDomain: dnsDomain(flags.dnsDomain ?? DEFAULT_DOMAIN),
    dnsTtl: flags.dnsTtl === undefined ? DEFAULT_TTL : integer("--dns-ttl", flags.dnsTtl, 0, 2147483647),
    dnsPort: flags.dnsPort === undefined ? DNS_PORT : integer("--dns-port", flags.dnsPort, 1, 65535),
    resolvConf: flags.resolvConf ?? "/etc/resolv.conf",
    metricsAddr: flags.metricsAddr === undefined ? undefined : metricsAddress(flags.metricsAddr),
  };
}
