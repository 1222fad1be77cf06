/**
 * The HTTP API's contract: where it listens, the JSON shapes `GET /report`, `GET /ps`, `POST /attach` and
 * `/detach` answer with, the status views, and the container id of names for outside addresses. The
 * daemon's handlers, the CLI and the CNI plugin all read these; this module imports nothing of theirs, only
 * (as types) the shapes of the cores whose state the report carries.
 *
 * @module
 */
import type { Target } from "../mesh/connection_maker.ts";
import type { PeerName } from "../mesh/gossip.ts";
import type { RingStatus } from "../ipam/ipam.ts";
import type { NameEntry } from "../dns/name_table.ts";
import type { SleeveStats } from "../overlay/sleeve/sleeve.ts";

/** Control API: loopback only, never reachable from other hosts. */
export const API_ADDRESS = "127.0.0.1";
/** Control API port. */
export const API_PORT = 6784;

/** The container id DNS records names of addresses outside any container under (`dns-add -h`). */
export const EXTERN_ID = "weave:extern";

/** The views `GET /status/<view>` serves, each a text rendering of the report. */
export const STATUS_VIEW_NAMES = ["connections", "peers", "ipam", "targets", "dns"] as const;

/** One of {@link STATUS_VIEW_NAMES}. */
export type StatusView = typeof STATUS_VIEW_NAMES[number];

/** One attached container as `meshnet ps` shows it. */
export interface Attachment {
  /** Stable container id. */
  id: string;
  /** Label for people, e.g. "c1" or "pid 1234". */
  label: string;
  /** Its network namespace file. */
  netnsPath: string;
  /** The host end of its veth. */
  hostIfname: string;
  /** MAC of its interface. */
  mac: string;
  /** Its addresses, CIDR. */
  addresses: string[];
  /** Its interface inside the container, when not the default `ethwe` (CNI picks it). */
  ifname?: string;
  /** The engine that runs it ("docker"), when one does. */
  runtime?: string;
  /** The gateway its default route goes through, when attach added that route. */
  gateway?: string;
  /** The gateway its IPv6 default route goes through, when attach added that route. */
  gateway6?: string;
}

/** The host's routing of containers to the world, in `GET /report` and `meshnet status`. */
export interface RoutingReport {
  /** The gateway and DNS address on the bridge, the same on every host. */
  gateway: string;
  /** The IPv6 gateway on the bridge, once a container has an IPv6 address. */
  gateway6?: string;
  /** The bridge it is on. */
  bridge: string;
  /** Whether traffic from the bridge leaving by another interface is masqueraded. */
  masquerade: boolean;
  /** meshnet's nftables table, "inet meshnet", when it is in place. */
  table?: string;
  /**
   * The forwarding sysctls (the IPv6 ones once a container has an IPv6 address): their value now, and the value
   * before meshnet changed it (when it did).
   */
  sysctls: { key: string; value: string; before?: string }[];
  /** What could not be set up, each saying what to do. */
  problems: string[];
}

/** One live connection, for status and metrics. */
export interface ConnectionStatus {
  /** Peer name of the neighbour. */
  name: PeerName;
  /** Its nickname. */
  nickname: string;
  /** Its TCP address, "host:port". */
  address: string;
  /** True when we dialled it. */
  outbound: boolean;
  /** True when its messages are sealed with the session key. */
  encrypted: boolean;
  /** `established` once the data plane works both ways, `pending` until then. */
  state: "pending" | "established";
  /** Since when, ISO 8601. */
  since: string;
}

/** A peer as `status peers` and `report` show it. */
export interface PeerReport {
  /** Peer name. */
  name: PeerName;
  /** Nickname. */
  nickname: string;
  /** This run's UID (decimal). */
  uid: string;
  /** Topology version. */
  version: number;
  /** The connections it reports. */
  connections: { name: PeerName; address: string; outbound: boolean; established: boolean }[];
}

/** DNS in `GET /report`. */
export interface DnsReport {
  /** Served domain with trailing dot. */
  domain: string;
  /** TTL of answers in seconds. */
  ttl: number;
  /** Where the server listens (the gateway address); undefined until it is up. */
  address?: string;
  /** Its port. */
  port: number;
  /** Live entries, sorted by name then address. */
  entries: NameEntry[];
  /** Upstream resolvers names outside the domain are forwarded to (filled in by the router). */
  upstream?: string[];
}

/** The full state of the router as served by `GET /report`. */
export interface Report {
  /** meshnet version. */
  version: string;
  /** Our peer name. */
  name: PeerName;
  /** Our nickname. */
  nickname: string;
  /** This run's UID (decimal). */
  uid: string;
  /** Process id of the daemon. */
  pid: number;
  /** Start time, ISO 8601. */
  startedAt: string;
  /** The mesh control plane. */
  router: {
    /** Protocol name and version range, e.g. "meshnet 1..1". */
    protocol: string;
    /** Whether control messages are encrypted. */
    encryption: boolean;
    /** Whether peers learned from others are dialled. */
    peerDiscovery: boolean;
    /** Maximum connections, 0 for none. */
    connLimit: number;
    /** Mesh port. */
    port: number;
    /** Explicit and discovered targets with state. */
    targets: (Omit<Target, "nextTry"> & { nextTry?: string })[];
    /** Live connections, with the overlay carrying their data and its MTU once verified. */
    connections: (ConnectionStatus & { overlay: string; mtu?: number })[];
    /** Handshakes in progress. */
    handshaking: number;
    /** Every known peer. */
    peers: PeerReport[];
    /** Next hop per reachable destination (data plane). */
    routes: Record<PeerName, PeerName>;
    /** Connections closed since start. */
    terminations: number;
  };
  /** Address management: per range the ring's state and who owns what; the host's exposed addresses. */
  ipam: {
    rings:
      (Omit<RingStatus, "owned" | "free" | "reserve"> & { owned: string; free: string; reserve: string })[];
    exposed: string[];
  };
  /** The sleeve's counters, drops by reason and links, and its crypto implementation. */
  sleeve?: SleeveStats & { crypto: string };
  /** DNS: domain, the server's address once up, and the live names; absent with --no-dns. */
  dns?: DnsReport;
  /** The gateway, forwarding and masquerading of this host. */
  routing?: RoutingReport;
}
