/**
 * The router: one per host, wiring the subsystems (the mesh now; sleeve, IPAM and DNS as they land) and
 * answering what the API asks of them.
 *
 * @module
 */
import { PROTOCOL_MAGIC, PROTOCOL_MAX_VERSION, PROTOCOL_MIN_VERSION } from "../mesh/constants.ts";
import type { PeerName } from "../mesh/gossip.ts";
import { VERSION } from "../version.ts";
import type { RouterConfig } from "./config.ts";
import type { DataDir } from "./data_dir.ts";
import { Attachments } from "./attachments.ts";
import { IpamService } from "./ipam_service.ts";
import { DnsService } from "./dns_service.ts";
import { expose, exposed, hide } from "./expose.ts";
import { logger } from "../log.ts";
import { DataPlane, overlayMtu } from "./data_plane.ts";
import { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { releaseMemory } from "../heap.ts";
import { trimHeap } from "../../ffi/libc.ts";
import { assertNoHostRouteOverlap, ensureBridge } from "../netdev/bridge.ts";
import { MeshTransport } from "./mesh_transport.ts";
import type { Report } from "../client/wire.ts";
import { loadPeerName, randomUid } from "./peer_name.ts";
import { HostRouting } from "./host_routing.ts";
import { GATEWAY_ADDRESS } from "../netdev/constants.ts";

/**
 * How often malloc's free memory goes back to the kernel, in ms, and, once the topology has not changed for as
 * long, the JS heap is collected and shrunk first, once per quiet spell: after a mesh formed (connections,
 * gossip and their buffers at their peak) a router would otherwise keep that peak resident (see heap.ts). The
 * collection waits for the quiet because while a mesh forms it costs tens of milliseconds and the heap grows
 * again, and it is not repeated while nothing changes, as an idle router's heap does not grow.
 */
const HEAP_TRIM_MS = 30_000;

const log = logger("router");

/** The router of one host. */
export class Router {
  /** Validated configuration. */
  readonly config: RouterConfig;
  /** The data directory. */
  readonly dir: DataDir;
  /** Our peer name (persisted). */
  readonly name: PeerName;
  /** This run's UID. */
  readonly uid: bigint;
  /** When this run started. */
  readonly startedAt = new Date();
  /** The mesh: connections, topology, routes and gossip. */
  readonly mesh: MeshTransport;
  /** Addresses: the ring CRDT, allocations and claims. */
  readonly ipam: IpamService;
  /** DNS: the name table, its server and containers' resolvers; undefined with --no-dns. */
  readonly dns?: DnsService;
  /** Attached containers (set by {@link Router.start}). */
  attachments!: Attachments;
  /** The sleeve data plane (set by {@link Router.start}). */
  dataPlane?: DataPlane;
  /** The gateway, forwarding and masquerading of this host (set by {@link Router.start}). */
  routing?: HostRouting;
  #nl?: NetlinkSocket;
  #reclaiming?: Promise<void>;
  #trimmer?: ReturnType<typeof setInterval>;

  /** Loads identity from the data directory; starts nothing yet. */
  constructor(config: RouterConfig, dir: DataDir) {
    this.config = config;
    this.dir = dir;
    this.name = loadPeerName(dir, config.name);
    this.uid = randomUid();
    this.mesh = new MeshTransport(config, { name: this.name, nickname: config.nickname, uid: this.uid });
    this.ipam = new IpamService(config, this.name, dir, this.mesh.core);
    if (config.dns) {
      const { dnsDomain: domain, dnsTtl: ttl, dnsPort: port, resolvConf } = config;
      this.dns = new DnsService({ domain, ttl, port, resolvConf, mesh: this.mesh.core, dir });
    }
  }

  /**
   * Starts the subsystems: the bridge (after checking the overlay range against host routes) with the
   * gateway, forwarding and NAT, the sleeve, DNS, then the mesh.
   *
   * @throws {Error} when the range overlaps a host route, the bridge cannot be made, or the mesh port is taken
   */
  async start(): Promise<void> {
    const c = this.config;
    this.#nl = NetlinkSocket.open();
    c.mtu = overlayMtu(this.#nl, c);
    for (const r of c.ipallocRanges) assertNoHostRouteOverlap(this.#nl, r, c.bridge);
    ensureBridge(this.#nl, { name: c.bridge, mtu: c.mtu });
    this.routing = new HostRouting(this.dir, this.#nl, { bridge: c.bridge, masquerade: c.masquerade });
    await this.routing.start(c.ipallocRanges);
    this.attachments = new Attachments(this.dir, this.#nl, this.ipam, {
      bridge: c.bridge,
      mtu: c.mtu,
      peerName: this.name,
      hooks: this.dns,
      gateway: this.routing,
    });
    this.attachments.watchProcesses();
    try {
      // Containers attached before a restart: their subnets' routes (and IPv6) are kept up as new ones' are.
      this.routing.routeAttached(this.attachments.recorded().flatMap((a) => a.addresses));
    } catch (err) {
      log.warn("Cannot route attached containers' subnets into the bridge", {
        error: (err as Error).message,
      });
    }
    this.dataPlane = await DataPlane.start(c, this.name, this.#nl, this.mesh);
    this.ipam.start();
    this.dns?.start({
      address: GATEWAY_ADDRESS,
      forgetDead: () => this.attachments.forgetDead(),
      list: () => this.attachments.list(),
    });
    if (this.dns && exposed(this.#nl, c.bridge).length > 0) this.dns.serve(); // exposed before a restart
    this.mesh.start();
    let changedAt = performance.now(), collected = false;
    this.mesh.core.onTopologyChange(() => (changedAt = performance.now(), collected = false));
    this.#trimmer = setInterval(() => {
      if (collected || performance.now() - changedAt < HEAP_TRIM_MS) return trimHeap();
      releaseMemory();
      collected = true;
    }, HEAP_TRIM_MS);
    this.#reclaiming = this.attachments.reclaim().then((failed) => {
      for (const f of failed) log.warn("Cannot re-claim an attached container's address", f);
    });
  }

  /** Stops the subsystems, closing every connection; the bridge and attached containers stay. */
  async stop(): Promise<void> {
    clearInterval(this.#trimmer);
    this.routing?.stop();
    await this.attachments?.close();
    await this.dns?.stop();
    this.mesh.stop();
    await this.#reclaiming;
    this.ipam.stop();
    await this.dataPlane?.stop();
    this.#nl?.close();
  }

  /** `meshnet expose`: gives the host addresses on the bridge; returns every exposed address. */
  async expose(cidrs: string[]): Promise<string[]> {
    const addresses = await expose(this.#nl!, this.ipam, this.config.bridge, cidrs);
    this.dns?.serve(); // the host itself may now ask for names
    return addresses;
  }

  /** `meshnet hide`: removes the host's addresses from the bridge; returns those removed. */
  hide(cidrs: string[]): string[] {
    return hide(this.#nl!, this.ipam, this.config.bridge, cidrs);
  }

  /** The full state as JSON-ready data. */
  async report(): Promise<Report> {
    const c = this.config;
    const stats = await this.dataPlane?.stats();
    const links = new Map(stats?.links.map((l) => [l.peer, l]));
    return {
      version: VERSION,
      name: this.name,
      nickname: c.nickname,
      uid: this.uid.toString(),
      pid: Deno.pid,
      startedAt: this.startedAt.toISOString(),
      router: {
        protocol: `${PROTOCOL_MAGIC} ${PROTOCOL_MIN_VERSION}..${PROTOCOL_MAX_VERSION}`,
        encryption: c.password !== undefined,
        peerDiscovery: c.discovery,
        connLimit: c.connLimit,
        port: c.port,
        targets: this.mesh.targets().map((t) => ({
          ...t,
          nextTry: t.state === "failed" || t.state === "waiting"
            ? new Date(t.nextTry).toISOString()
            : undefined,
        })),
        connections: this.mesh.connections().map((x) => ({
          ...x,
          overlay: this.dataPlane?.overlay(x.name) ?? "sleeve",
          mtu: links.get(x.name)?.mtu,
        })),
        handshaking: this.mesh.handshaking,
        peers: this.mesh.core.peers().map((p) => ({
          name: p.name,
          nickname: p.nickname,
          uid: p.uid.toString(),
          version: p.version,
          connections: p.connections.map((x) => ({ ...x })),
        })),
        routes: this.mesh.core.routes().unicast,
        terminations: this.mesh.terminations,
      },
      ipam: {
        rings: this.ipam.status().map((r) => ({
          ...r,
          owned: r.owned.toString(),
          free: r.free.toString(),
          reserve: r.reserve.toString(),
        })),
        exposed: exposed(this.#nl!, c.bridge),
      },
      dns: this.dns && { ...this.dns.report(), upstream: await this.dns.upstream() },
      routing: this.routing?.report(),
      sleeve: stats && {
        crypto: this.dataPlane!.crypto,
        ...stats,
      },
    };
  }
}
