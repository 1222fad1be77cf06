/**
 * DNS in the router: the {@link NameTable} bound to the mesh's "nameserver" gossip channel (dns_gossip.ts),
 * the DNS server on the host's gateway address, the resolv.conf of named containers (resolv_conf.ts),
 * and the watch for dead containers.
 *
 * Flow: a local change (attach with a name, dns-add, dns-remove, detach, a container's death) edits the
 * table, writes our own entries to the data directory, then broadcasts the delta along our broadcast tree;
 * gossip from other peers is merged and only what was new travels on. A peer removed from the mesh takes
 * its entries with it. Every {@link WATCH_MS} a tick (1) brings the server up once this host has somebody to
 * serve (the first container attached, or `expose` giving the host itself an address on the bridge; at launch
 * when containers are still attached from before), independent of IPAM: it binds the host's gateway address
 * on the bridge (the same on every host, reached by containers of any subnet through their /32 route to it;
 * src/netdev/gateway.ts), and every container waiting for it gets its resolv.conf; (2) drops attachments
 * whose namespace is gone and removes their names. While nothing is attached the tick stops, and the next
 * attach starts it again (an idle router does not wake for it, and a host without containers runs no DNS
 * Worker). Tombstones are purged every {@link PURGE_MS}.
 *
 * The server is two halves: the DNS Worker (src/dns/dns_worker.ts) owns UDP, answering names, cached
 * forwards and forwards without this thread; the main thread serves TCP on the same port and forwards TCP
 * clients' queries through the Worker (one cache). Every change of the table is pushed to the Worker
 * (coalesced per microtask, the whole live table). A Worker that ends by itself is logged, its last counters
 * kept, and the next tick starts a new one (the tick, asleep while served with nothing attached, wakes for it).
 *
 * Concurrency: single-threaded; the tick has no await and starts the server at most once at a time
 * (`#starting`), so ticks never overlap. Calls into the Worker have deadlines; {@link DnsService.stats}
 * never waits longer than the Worker's reply timeout.
 *
 * Only named network namespaces get a resolv.conf (/etc/netns/NAME/resolv.conf, which `ip netns exec`
 * bind-mounts over /etc/resolv.conf): a container attached by PID or path has no such file to point at, so
 * attach says so and the container's own resolver must be pointed at {@link DnsService.address}.
 *
 * @module
 */
import { canonicalName } from "../dns/message.ts";
import { qualify, qualifyServed } from "../dns/qualify.ts";
import { type NameEntry, NameTable } from "../dns/name_table.ts";
import { DnsServer } from "../dns/server.ts";
import { ResolvConf } from "../dns/upstream.ts";
import { DnsWorker, type DnsWorkerOptions } from "../dns/dns_worker.ts";
import { type DnsCounters, DnsMetrics } from "../dns/metrics.ts";
import { UsageError } from "../../base/errors.ts";
import { logger } from "../log.ts";
import { Channel } from "../mesh/constants.ts";
import type { Gossip, Gossiper, PeerName } from "../mesh/gossip.ts";
import { formatIP, parseCIDR, parseIP } from "../../base/ip.ts";
import type { AttachmentHooks, AttachNaming } from "./attachments.ts";
import type { Attachment, DnsReport } from "../client/wire.ts";
import type { DataDir } from "./data_dir.ts";
import { NameTableGossiper } from "./dns_gossip.ts";
import { ContainerResolvConf, isNamedNetns } from "./resolv_conf.ts";

const log = logger("dns");

/** The persisted state: our own entries (tombstones included) and the containers that want a resolv.conf. */
const FILE = "dns.json";
/** How often the tick starts the server and looks for dead containers, in milliseconds. */
export const WATCH_MS = 500;
/** How often {@link DnsService.serving} looks whether the server is up, in milliseconds. */
const SERVING_POLL_MS = 50;
/** How often tombstones past their grace period are purged, in milliseconds. */
export const PURGE_MS = 60_000;

/** What the service needs from the mesh. */
export interface DnsMesh {
  /** Our peer name. */
  readonly name: PeerName;
  /** Registers the gossiper of a channel. */
  newGossip(channel: string, g: Gossiper): Gossip;
  /** Calls `listener` with each peer removed from the topology. */
  onPeerRemoved(listener: (name: PeerName) => void): void;
}

/** The launch settings of DNS. */
export interface DnsSettings {
  /** Served domain, any case, trailing dot optional (--dns-domain). */
  domain: string;
  /** TTL of answers in seconds (--dns-ttl). */
  ttl: number;
  /** UDP and TCP port (--dns-port), 53 in production. */
  port: number;
  /** The resolv.conf listing the upstream resolvers (--resolv-conf). */
  resolvConf: string;
}

/** How to build a {@link DnsService}. */
export interface DnsServiceOptions extends DnsSettings {
  /** The mesh, for the gossip channel and peer removals. */
  mesh: DnsMesh;
  /** The data directory our own entries persist in. */
  dir: DataDir;
  /** Wall clock in Unix ms (tombstone stamps and purges); default Date.now. */
  now?: () => number;
  /** Where named namespaces' /etc files live; default /etc/netns. */
  netnsEtcDir?: string;
  /** Tests: the DNS Worker's module (a double) and its stats deadline. */
  worker?: Pick<DnsWorkerOptions, "module" | "replyTimeoutMs">;
}

/** The DNS server's counters for /metrics. */
export interface DnsStats {
  /** Every query, reply, forward, hit and error since launch, UDP (the Worker's) and TCP. */
  metrics: DnsCounters;
  /** Entries and bytes in the forwarding cache (zero while the server is not up). */
  cacheUsage: { entries: number; bytes: number };
  /** When the Worker did not answer in time (or ended): the age of its figures in ms. */
  staleMs?: number;
}

/** What {@link DnsService.start} needs from the rest of the router. */
export interface DnsHost {
  /** The address to serve on: the gateway, already on the bridge. */
  address: string;
  /** Drops the attachments whose namespace is gone, telling the hooks. */
  forgetDead(): void;
  /** The attached containers (for `dns-add CONTAINER` without addresses). */
  list(): Attachment[];
}

/** Canonical text of an address given as IP or CIDR. */
function addressOf(s: string): string {
  try {
    return formatIP(s.includes("/") ? parseCIDR(s).address : parseIP(s));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The DNS of one router; see the module comment. */
export class DnsService implements AttachmentHooks {
  /** The replicated name table. */
  readonly table = new NameTable();
  /** The table on the mesh's gossip channel. */
  readonly gossiper: NameTableGossiper = new NameTableGossiper(this.table);
  /** Served domain with trailing dot. */
  readonly domain: string;
  readonly #o: DnsSettings;
  readonly #mesh: DnsMesh;
  readonly #dir: DataDir;
  readonly #now: () => number;
  readonly #resolvConf: ContainerResolvConf;
  readonly #gossip: Gossip;
  /** Containers wanting a resolv.conf: id → namespace file. */
  readonly #resolvers = new Map<string, string>();
  /** The TCP half of the server (UDP is the Worker's). */
  #server?: DnsServer;
  #worker?: DnsWorker;
  /** A start in progress (resolves, never rejects, when done). */
  #starting?: Promise<void>;
  /** Counters of the TCP half, kept across restarts of the server. */
  readonly #tcpMetrics = new DnsMetrics();
  /** The last counters of the Workers that ended. */
  readonly #endedMetrics = new DnsMetrics();
  #pushQueued = false;
  readonly #workerOptions: DnsServiceOptions["worker"];
  #address?: string;
  #host?: DnsHost;
  /** The upstream list (for `status`), read from the resolv.conf given at launch. */
  #resolv?: ResolvConf;
  #timers: ReturnType<typeof setInterval>[] = [];
  /** The tick's timer, running while the server is not up or containers are attached. */
  #watch?: ReturnType<typeof setInterval>;
  /** Somebody is to be served: a container was attached, or the host exposed (see {@link DnsService.serve}). */
  #wanted = false;
  /** The last reason the server could not start, logged once until it changes. */
  #lastError?: string;

  /**
   * Restores our own entries from the data directory and joins the "nameserver" gossip channel.
   *
   * @throws {UsageError} when the domain is not a valid name
   * @throws {Error} when the persisted state is corrupt, naming the file
   */
  constructor(o: DnsServiceOptions) {
    try {
      this.domain = canonicalName(o.domain);
    } catch (err) {
      throw new UsageError(`Invalid DNS domain '${o.domain}': ${(err as Error).message}`);
    }
    this.#o = o;
    this.#workerOptions = o.worker;
    this.#mesh = o.mesh;
    this.#dir = o.dir;
    this.#now = o.now ?? Date.now;
    this.#resolvConf = new ContainerResolvConf(o.netnsEtcDir);
    const saved = o.dir.readJSON<{ entries: NameEntry[]; resolvers: [string, string][] }>(FILE);
    if (saved) {
      try {
        this.table.merge(new NameTable(saved.entries));
        for (const [id, path] of saved.resolvers) this.#resolvers.set(id, path);
      } catch (err) {
        throw new Error(
          `Invalid persisted DNS state in '${o.dir.file(FILE)}': ${
            (err as Error).message
          }; remove it to start afresh`,
        );
      }
    }
    this.#gossip = o.mesh.newGossip(Channel.dns, this.gossiper);
    o.mesh.onPeerRemoved((peer) => {
      if (peer !== this.#mesh.name) this.table.removePeer(peer);
    });
    this.table.onChange(() => this.#queuePush());
  }

  /** The address the server listens on, or undefined while it is not up. */
  get address(): string | undefined {
    return this.#address;
  }

  /** The server's port (the one bound when launched with port 0 and serving). */
  get port(): number {
    return this.#worker?.port ?? this.#o.port;
  }

  /**
   * The server's counters, UDP and TCP, since launch, and the cache's size; waits for the Worker at most its
   * reply deadline (then its last figures, `staleMs` set). Never throws.
   */
  async stats(): Promise<DnsStats> {
    const metrics = new DnsMetrics().add(this.#endedMetrics).add(this.#tcpMetrics);
    const w = await this.#worker?.stats();
    if (w) metrics.add(w.counters);
    return {
      metrics: metrics.counters(),
      cacheUsage: w?.cache ?? { entries: 0, bytes: 0 },
      staleMs: w?.staleMs,
    };
  }

  /**
   * Starts the tick (server start once somebody is to be served, dead-container watch) and the purge timer.
   */
  start(host: DnsHost): void {
    this.#host = host;
    this.#wanted ||= this.#resolvers.size > 0 || host.list().length > 0;
    this.#timers.push(setInterval(() => this.purge(), PURGE_MS));
    this.#watchOn();
    this.#tick();
  }

  /**
   * Serves from now on although no container is attached: the host itself was given an address on the bridge
   * (`expose`), so it may ask too.
   */
  serve(): void {
    this.#wanted = true;
    this.#watchOn();
  }

  /**
   * Asks for the server ({@link serve}) and waits up to `timeoutMs` for it to be up: whoever asks for its
   * address (`dns-args` before `docker run`, a CNI ADD) is about to use it.
   *
   * @returns the address it serves on, or undefined when it is not up in time
   */
  async serving(timeoutMs: number): Promise<string | undefined> {
    if (this.#address === undefined) this.serve();
    const deadline = Date.now() + timeoutMs;
    while (this.#address === undefined && this.#host !== undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, SERVING_POLL_MS));
    }
    return this.#address;
  }

  /** Runs the tick every {@link WATCH_MS} from now on, unless it runs already. */
  #watchOn(): void {
    if (this.#watch === undefined && this.#host) this.#watch = setInterval(() => this.#tick(), WATCH_MS);
  }

  /** Stops the timers, the TCP server and the Worker; names, resolv.conf files and the bridge address stay. */
  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    clearInterval(this.#watch);
    this.#watch = undefined;
    this.#host = undefined;
    await this.#starting;
    const server = this.#server, worker = this.#worker;
    this.#server = this.#worker = this.#address = undefined;
    if (worker) this.#endedMetrics.add((await worker.stats()).counters);
    await server?.close();
    await worker?.stop();
  }

  // ---- Local changes ----

  /**
   * Hook of an attach: registers `naming.name` for the container's addresses and, for a named namespace,
   * writes its resolv.conf (now, or once the server is up); `naming.resolver` true alone writes it unnamed.
   *
   * @returns notes for the user, e.g. why a container got no resolv.conf
   * @throws {UsageError} when the name is invalid
   */
  attached(a: Attachment, naming: AttachNaming): string[] {
    this.#wanted = true; // the server starts with the first container
    this.#watchOn(); // its death must be noticed within 2 s
    if (naming.name === undefined && naming.resolver !== true) return [];
    const notes: string[] = [];
    if (naming.name !== undefined) {
      try {
        const fqdn = qualifyServed(naming.name, this.domain);
        this.#change(() => this.#add(a.id, a.addresses, fqdn));
      } catch (err) {
        if (!naming.fromHostname) throw err;
        notes.push(`No DNS name registered for ${a.label} from its hostname: ${(err as Error).message}`);
      }
    }
    if (naming.resolver === false) return notes;
    if (!isNamedNetns(a.netnsPath)) {
      return [
        ...notes,
        `No resolv.conf written for ${a.label}: only named network namespaces have one meshnet can set; ` +
        `point its resolver at ${this.#address ?? "this host's DNS address (see 'meshnet status dns')"}`,
      ];
    }
    this.#resolvers.set(a.id, a.netnsPath);
    this.#save();
    if (this.#address) this.#resolvConf.write(a.netnsPath, this.#address, this.domain);
    return notes;
  }

  /**
   * Hook of a detach or a container's death: removes the names of the `removed` addresses, or all of the
   * container's names and its resolv.conf when it is `gone`.
   */
  detached(id: string, removed: string[], gone: boolean): void {
    this.#change(() => {
      const origin = this.#mesh.name;
      if (gone) return [this.table.remove({ origin, container: id }, this.#now())];
      return removed.map((c) =>
        this.table.remove({ origin, container: id, address: addressOf(c) }, this.#now())
      );
    });
    const path = this.#resolvers.get(id);
    if (!gone || path === undefined) return;
    this.#resolvers.delete(id);
    this.#save();
    this.#resolvConf.remove(path);
  }

  /**
   * `dns-add`: registers `fqdn` for `addresses` of `container` ({@link EXTERN_ID} for outside addresses).
   * Without addresses the container's attached ones are used; without `fqdn` its registered name.
   *
   * @returns the names and addresses added, as `name address` lines
   * @throws {UsageError} on an invalid address or name, or when the name or addresses cannot be found
   */
  add(container: string, addresses: string[], fqdn?: string): string[] {
    const id = this.#containerId(container);
    const ips = addresses.length ? addresses : this.#host?.list().find((a) => a.id === id)?.addresses ?? [];
    if (ips.length === 0) {
      throw new UsageError(`Cannot add a name for ${container}: it has no addresses here; give IP addresses`);
    }
    const name = fqdn !== undefined ? qualifyServed(fqdn, this.domain) : this.#namesOf(id)[0];
    if (name === undefined) throw new UsageError(`Cannot add a name for ${container}: give one with -h FQDN`);
    this.#change(() => this.#add(id, ips, name));
    return ips.map((ip) => `${name} ${addressOf(ip)}`);
  }

  /**
   * `dns-remove`: removes our entries of `container`, narrowed to `address` and `fqdn` when given.
   *
   * @returns how many entries were removed
   * @throws {UsageError} on an invalid address or name
   */
  remove(container: string, match: { address?: string; fqdn?: string } = {}): number {
    const id = this.#containerId(container);
    const address = match.address === undefined ? undefined : addressOf(match.address);
    const name = match.fqdn === undefined ? undefined : qualify(match.fqdn, this.domain);
    let n = 0;
    this.#change(() => {
      const delta = this.table.remove(
        { origin: this.#mesh.name, container: id, address, name },
        this.#now(),
      );
      n = delta.size;
      return [delta];
    });
    return n;
  }

  /** Live entries, sorted by name then address. */
  names(): NameEntry[] {
    return this.table.entries().filter((e) => e.tombstone === 0).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : a.address < b.address ? -1 : a.address > b.address ? 1 : 0
    );
  }

  /**
   * Drops tombstones past their grace period.
   * @returns how many were dropped
   */
  purge(): number {
    return this.table.purgeTombstones(this.#now());
  }

  /** DNS in the report. */
  report(): DnsReport {
    return {
      domain: this.domain,
      ttl: this.#o.ttl,
      address: this.#address,
      port: this.#o.port,
      entries: this.names(),
    };
  }

  /** The upstream resolvers' addresses, from the resolv.conf given at launch (re-read when it changes). */
  async upstream(): Promise<string[]> {
    this.#resolv ??= new ResolvConf(this.#o.resolvConf);
    return (await this.#resolv.servers()).map((u) => u.address);
  }

  #add(id: string, addresses: string[], fqdn: string): NameTable[] {
    const me = this.#mesh.name;
    const had = new Set(
      this.table.entries().filter((e) =>
        e.tombstone === 0 && e.name === fqdn && e.container === id && e.origin === me
      )
        .map((e) => e.address),
    );
    const ips = addresses.map(addressOf).filter((ip) => !had.has(ip));
    try {
      return ips.map((ip) => this.table.add(fqdn, ip, id, me));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }

  /** Runs a local change, then persists and broadcasts its non-empty deltas. */
  #change(edit: () => NameTable[]): void {
    const deltas = edit().filter((d) => d.size > 0);
    if (deltas.length === 0) return;
    this.#save();
    for (const d of deltas) this.#gossip.gossipBroadcast(d);
  }

  #namesOf(id: string): string[] {
    return [...new Set(this.names().filter((e) => e.container === id).map((e) => e.name))];
  }

  /** The id a container reference is recorded under: a PID becomes `pid-N`, as at attach. */
  #containerId(ref: string): string {
    return /^\d+$/.test(ref) ? `pid-${Number(ref)}` : ref;
  }

  #save(): void {
    this.#dir.writeJSON(FILE, {
      entries: this.table.entries().filter((e) => e.origin === this.#mesh.name),
      resolvers: [...this.#resolvers],
    });
  }

  // ---- The tick: server start and dead containers ----

  #tick(): void {
    const host = this.#host;
    if (!host) return;
    try {
      host.forgetDead();
    } catch (err) {
      log.warn("Cannot check attached containers for dead ones", { error: (err as Error).message });
    }
    if (this.#starting) return;
    if (this.#server || !this.#wanted) {
      // Served or not wanted yet, with nothing attached to watch: the tick sleeps until the next attach,
      // `serve()` or the Worker's end.
      if (host.list().length === 0) {
        clearInterval(this.#watch);
        this.#watch = undefined;
      }
      return;
    }
    this.#starting = this.#serve(host).then(
      () => this.#lastError = undefined,
      (err) => {
        const error = (err as Error).message;
        if (error !== this.#lastError) log.warn("Cannot start the DNS server; retrying", { error });
        this.#lastError = error;
      },
    ).finally(() => this.#starting = undefined);
  }

  /** Starts the Worker (UDP), then TCP on its port; gives up quietly when stopped meanwhile. */
  async #serve(host: DnsHost): Promise<void> {
    const address = host.address;
    const worker = await DnsWorker.start({
      hostname: address,
      port: this.#o.port,
      domain: this.domain,
      ttl: this.#o.ttl,
      resolvConf: this.#o.resolvConf,
      entries: this.table.entries(),
      onError: (e) => log.warn("DNS Worker error", { error: e.message }),
      ...this.#workerOptions,
    });
    if (this.#host !== host) return await worker.stop();
    let server: DnsServer;
    try {
      server = DnsServer.listen({
        hostname: address,
        port: worker.port,
        udp: false,
        table: this.table,
        domain: this.domain,
        ttl: this.#o.ttl,
        forwarder: worker,
        metrics: this.#tcpMetrics,
      });
    } catch (e) {
      await worker.stop();
      throw e;
    }
    this.#worker = worker;
    this.#server = server;
    this.#address = address;
    worker.done.then(() => this.#ended(worker), (e) => this.#ended(worker, e as Error));
    this.#push(); // what changed while it started
    for (const path of this.#resolvers.values()) this.#resolvConf.write(path, address, this.domain);
  }

  /** A Worker ended by itself: keep its last counters, close TCP; the next tick starts both again. */
  async #ended(worker: DnsWorker, error?: Error): Promise<void> {
    if (this.#worker !== worker) return; // stopped by stop()
    log.warn("The DNS Worker ended; restarting the DNS server", { error: error?.message });
    const server = this.#server;
    this.#worker = this.#server = undefined;
    this.#watchOn(); // the tick may sleep; it starts the server again
    this.#endedMetrics.add((await worker.stats()).counters);
    await server?.close();
  }

  /** Pushes the table to the Worker once the current task's changes are done. */
  #queuePush(): void {
    if (this.#pushQueued || !this.#worker) return;
    this.#pushQueued = true;
    queueMicrotask(() => {
      this.#pushQueued = false;
      this.#push();
    });
  }

  #push(): void {
    const worker = this.#worker;
    if (!worker || worker.stopped) return;
    worker.setNames(this.table.entries());
  }
}
