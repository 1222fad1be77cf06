/**
 * The containers this router attached: the kernel work is src/netdev/attach.ts; this keeps the record
 * (container id, namespace, label, addresses) in the data directory with crash-safe writes, so `ps` and a
 * restarted router know what is attached, also containers attached by PID or path.
 *
 * Deaths: a container attached by PID is watched through a pidfd (ffi/exit_watch.ts), so its exit is known at
 * once and it is forgotten (addresses released, names removed) in the same turn; one of a named namespace or
 * path is found by {@link Attachments.forgetDead}, which DNS's tick calls; one under an engine's watcher is
 * that watcher's (src/runtime/docker_watcher.ts).
 *
 * @module
 */
import { ExitWatch } from "../../ffi/exit_watch.ts";
import type { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { attachContainer, deleteHostEnd, detachContainer, listAttached } from "../netdev/attach.ts";
import { hostVethName } from "../netdev/names.ts";
import { logger } from "../log.ts";
import { UsageError } from "../../base/errors.ts";
import { parseCIDR } from "../../base/ip.ts";
import type { IpamService } from "./ipam_service.ts";
import { type Container, type Resolver } from "../runtime/container.ts";
import { resolveContainer } from "../runtime/resolve.ts";
import { netnsFileExists, netnsResolver } from "../runtime/netns.ts";
import type { DataDir } from "./data_dir.ts";
import type { Attachment } from "../client/wire.ts";

const FILE = "attachments.json";
const log = logger("attach");

/**
 * How a runtime names the attachment itself: CNI gives a container id and interface name of its own,
 * under which IPAM records the addresses; without them the resolved container's id and `ethwe` are used.
 */
export interface AttachIdentity {
  /** Id to record the container under instead of the resolved one, e.g. "cni:ID:eth0". */
  id?: string;
  /** Interface name inside the container instead of `ethwe`. */
  ifname?: string;
}

/** How a container is named at attach (DNS). */
export interface AttachNaming {
  /** Hostname or FQDN to register for its addresses; none registers nothing. */
  name?: string;
  /** Whether to point its resolver at the router's DNS (default true; `attach --without-dns` says false). */
  resolver?: boolean;
  /** The name is the container's own hostname, not asked for: one that cannot be registered is skipped with a note. */
  fromHostname?: boolean;
}

/** How a container is routed at attach. */
export interface AttachRouting {
  /** Add a default route through the host's gateway when the container has none (default true). */
  defaultRoute?: boolean;
}

/** The host's gateway, as attach needs it (src/router/host_routing.ts). */
export interface AttachGateway {
  /** The bridge's MAC, for containers' permanent neighbour entry of the gateway. */
  readonly bridgeMac: string;
  /** Routes the subnets of new container addresses into the bridge. */
  routeAttached(cidrs: readonly string[]): string[];
  /** Deletes the subnet routes that none of `attached` (every container's addresses) needs any more. */
  unrouteUnused(attached: readonly string[]): string[];
}

/** What another subsystem (DNS) does when containers come and go. */
export interface AttachmentHooks {
  /** After an attach, also one that added nothing; returns notes for the user. */
  attached(a: Attachment, naming: AttachNaming): string[];
  /** After the `removed` addresses left container `id`, or all of them with its interface (`gone`). */
  detached(id: string, removed: string[], gone: boolean): void;
}

/** Settings shared by every attach. */
export interface AttachmentsOptions {
  /** Bridge to plug containers into. */
  bridge: string;
  /** MTU of container interfaces. */
  mtu: number;
  /** Our peer name, mixed into container MACs so equal ids on two hosts differ. */
  peerName: string;
  /** Told about every attach and detach, and every container found dead. */
  hooks?: AttachmentHooks;
  /** The host's gateway; without it containers get no gateway routes. */
  gateway?: AttachGateway;
}

/** The attach/detach/ps service of one router. */
export class Attachments {
  #dir: DataDir;
  #nl: NetlinkSocket;
  #ipam: IpamService;
  #opts: AttachmentsOptions;
  #records: Map<string, Attachment>;
  /** Containers attached by PID, by id: their exits call {@link Attachments.#died}. */
  #exits = new ExitWatch((id) => this.#died(id));
  /** How a CONTAINER reference is found, asked in order; a runtime watcher adds its engine's resolver. */
  resolvers: readonly Resolver[] = [netnsResolver];
  /** Engines whose watcher handles their containers' deaths, so {@link forgetDead} leaves those alone. */
  readonly watchedRuntimes: Set<string> = new Set();

  /** Loads the record from the data directory. */
  constructor(dir: DataDir, nl: NetlinkSocket, ipam: IpamService, opts: AttachmentsOptions) {
    this.#dir = dir;
    this.#ipam = ipam;
    this.#nl = nl;
    this.#opts = opts;
    this.#records = new Map((dir.readJSON<Attachment[]>(FILE) ?? []).map((a) => [a.id, a]));
  }

  /**
   * Attaches `ref` (netns name, path or PID), or adds addresses to its interface. Each spec is a CIDR (claimed
   * in IPAM when inside its range, so it is never given to anyone else), `net:CIDR` (allocate in that subnet)
   * or `net:default`; no spec allocates in the default subnet. A new interface gets the gateway's routes
   * (a default route only when the container has none and `routing.defaultRoute` is not false), and the
   * host routes the subnets of the new addresses into the bridge.
   *
   * @throws {UsageError} for a malformed spec
   * @throws {Error} naming the container when it is unknown, IPAM cannot give an address, or the kernel refuses
   */
  async attach(
    ref: string,
    specs: string[],
    identity: AttachIdentity = {},
    naming: AttachNaming = {},
    routing: AttachRouting = {},
  ): Promise<Attachment & { notes?: string[] }> {
    const wanted = (specs.length ? specs : ["net:default"]).map((spec) => parseSpec(ref, spec));
    const container = withIdentity(
      await resolveContainer(ref, { action: "attach", resolvers: this.resolvers }),
      identity,
    );
    if (naming.name === undefined && container.hostname) {
      naming = { name: container.hostname, resolver: false, fromHostname: true };
    }
    const before = this.#records.get(container.id);
    const cidrs: string[] = [];
    try {
      for (const w of wanted) {
        if (w.kind === "allocate") cidrs.push(...await this.#ipam.allocate(container.id, w.subnet));
        else if (this.#ipam.lookup(container.id).includes(w.cidr)) cidrs.push(w.cidr); // held: a restart
        else if (this.#ipam.manages(w.cidr)) cidrs.push(...await this.#ipam.claim(container.id, w.cidr));
        else cidrs.push(w.cidr);
      }
    } catch (err) {
      if (!before) this.#ipam.release(container.id);
      throw new Error(`Cannot attach ${ref}: ${(err as Error).message}`);
    }
    const fresh = cidrs.filter((c) => !before?.addresses.includes(c));
    if (before && fresh.length === 0) return this.#named(before, naming);
    let r;
    try {
      r = attachContainer(this.#nl, {
        container,
        bridge: this.#opts.bridge,
        addresses: fresh,
        mtu: this.#opts.mtu,
        macSeed: this.#opts.peerName,
        ifname: identity.ifname,
        replaceStale: !this.#liveOwner(hostVethName(container.id), container.id),
        gateway: this.#opts.gateway && {
          bridgeMac: this.#opts.gateway.bridgeMac,
          defaultRoute: routing.defaultRoute !== false,
        },
      });
    } catch (err) {
      for (const c of fresh) this.#ipam.release(container.id, c);
      throw err;
    }
    const a: Attachment = {
      id: container.id,
      label: container.label,
      netnsPath: container.netnsPath,
      hostIfname: r.hostIfname,
      mac: r.mac,
      addresses: [...(r.created ? [] : before?.addresses ?? []), ...r.added],
      ...(identity.ifname ? { ifname: identity.ifname } : {}),
      ...(container.runtime ? { runtime: container.runtime } : {}),
    };
    const gateway = r.created ? r.gateway : before?.gateway;
    if (gateway) a.gateway = gateway;
    const gateway6 = r.gateway6 ?? (r.created ? undefined : before?.gateway6);
    if (gateway6) a.gateway6 = gateway6;
    this.#records.set(a.id, a);
    this.#save();
    if (!this.#watchExit(a)) {
      this.#forget(a.id);
      throw new Error(`Cannot attach ${ref}: its process exited while it was being attached`);
    }
    try {
      this.#opts.gateway?.routeAttached(r.added);
    } catch (err) {
      log.warn("Cannot route a container's subnet into the bridge", {
        id: a.id,
        error: (err as Error).message,
      });
    }
    return this.#named(a, naming);
  }

  /**
   * Starts watching the processes of the recorded containers attached by PID, and forgets those that are gone:
   * exited, or whose PID now belongs to a process without our interface. Call once after construction.
   *
   * @returns the ids forgotten
   */
  watchProcesses(): string[] {
    const present = new Set(this.list().map((a) => a.id));
    const dead = [...this.#records.values()].filter((a) =>
      pidOf(a) !== undefined && (!present.has(a.id) || !this.#watchExit(a))
    ).map((a) => a.id);
    for (const id of dead) this.#forget(id);
    return dead;
  }

  /** Stops watching processes. */
  async close(): Promise<void> {
    await this.#exits.close();
  }

  /** Watches the process of `a` when it was attached by PID; false when that process is gone. */
  #watchExit(a: Attachment): boolean {
    const pid = pidOf(a);
    return pid === undefined || this.#exits.watch(a.id, pid);
  }

  #died(id: string): void {
    if (!this.#records.has(id)) return;
    const addresses = this.#forget(id);
    log.info("A container attached by PID exited: addresses released, names removed", { id, addresses });
  }

  /** Whether a recorded attachment other than `id`, whose namespace exists, has host end `hostIfname`. */
  #liveOwner(hostIfname: string, id: string): boolean {
    return [...this.#records.values()].some((a) =>
      a.id !== id && a.hostIfname === hostIfname && netnsFileExists(a.netnsPath)
    );
  }

  /** Deletes the host end a dead attachment left, unless a live attachment has that name. */
  #removeLeftover(a: Attachment): void {
    if (this.#liveOwner(a.hostIfname, a.id)) return;
    try {
      if (deleteHostEnd(this.#nl, a.hostIfname)) {
        log.info("Removed a dead container's host interface", { id: a.id, hostIfname: a.hostIfname });
      }
    } catch (err) {
      log.warn("Cannot remove a dead container's host interface", {
        id: a.id,
        hostIfname: a.hostIfname,
        error: (err as Error).message,
      });
    }
  }

  #named(a: Attachment, naming: AttachNaming): Attachment & { notes?: string[] } {
    const notes = this.#opts.hooks?.attached(a, naming) ?? [];
    return notes.length ? { ...a, notes } : a;
  }

  /**
   * Removes `cidrs` from `ref`'s interface, or the whole interface when none are given or none are left.
   *
   * With `identity.id`, a container whose namespace is gone (or `ref` empty) only has its addresses released
   * and its record dropped, and one not recorded is no error: CNI's DEL must be idempotent.
   *
   * @returns the addresses removed
   * @throws {Error} naming the container when it is unknown or not attached
   */
  async detach(ref: string, cidrs: string[], identity: AttachIdentity = {}): Promise<string[]> {
    const found = ref === "" && identity.id
      ? undefined
      : await resolveContainer(ref, { action: "detach", resolvers: this.resolvers }).catch(
        (err) => {
          if (identity.id) return undefined;
          throw err;
        },
      );
    if (!found || (identity.id && !this.#records.has(identity.id))) return this.#forget(identity.id!);
    const container = withIdentity(found, identity);
    const r = detachContainer({
      container,
      addresses: cidrs,
      ifname: identity.ifname,
      ...(identity.id ? { host: this.#nl } : {}),
    });
    if (r.absent) return this.#forget(container.id);
    if (r.interfaceRemoved) this.#exits.unwatch(container.id);
    if (r.interfaceRemoved) this.#ipam.release(container.id);
    else for (const c of r.removed) this.#ipam.release(container.id, c);
    const a = this.#records.get(container.id);
    if (r.interfaceRemoved) this.#records.delete(container.id);
    else if (a) a.addresses = a.addresses.filter((x) => !r.removed.includes(x));
    this.#save();
    this.#opts.hooks?.detached(container.id, r.removed, r.interfaceRemoved);
    return r.removed;
  }

  #forget(id: string): string[] {
    this.#exits.unwatch(id);
    const a = this.#records.get(id);
    const addresses = a?.addresses ?? [];
    this.#ipam.release(id);
    if (this.#records.delete(id)) this.#save();
    if (a) this.#removeLeftover(a);
    this.#opts.hooks?.detached(id, addresses, true);
    return addresses;
  }

  /**
   * Forgets every recorded container whose namespace file is gone (it died): releases its addresses, drops
   * its record and tells the hooks, as a detach would. Containers attached by PID are left to their pidfd
   * watch (Deno cannot stat /proc without --allow-all), those of a watched engine to its watcher.
   *
   * @returns the ids forgotten
   */
  forgetDead(): string[] {
    const dead = [...this.#records.values()].filter((a) =>
      pidOf(a) === undefined && !netnsFileExists(a.netnsPath) &&
      !(a.runtime && this.watchedRuntimes.has(a.runtime))
    ).map((a) => a.id);
    for (const id of dead) this.#forget(id);
    return dead;
  }

  /**
   * A container that died under a runtime watcher: its record and DNS names go now, its addresses stay
   * allocated until {@link release}, so a restart within the watcher's grace period gets them back.
   *
   * @returns the attachment it had, or undefined when it was not attached
   */
  suspend(id: string): Attachment | undefined {
    const a = this.#records.get(id);
    if (!a) return undefined;
    this.#records.delete(id);
    this.#save();
    this.#removeLeftover(a);
    this.#opts.hooks?.detached(id, a.addresses, true);
    return a;
  }

  /** Frees every address IPAM holds for `id` (a suspended container's grace period is over). */
  release(id: string): void {
    this.#ipam.release(id);
  }

  /** Every recorded attachment, also those whose namespace is gone, sorted by id (for CNI's GC). */
  recorded(): Attachment[] {
    return [...this.#records.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** The attached containers, from the kernel's view of the bridge, matched with the record. */
  list(): Attachment[] {
    const known: Container[] = [...this.#records.values()].map(({ id, label, netnsPath }) => ({
      id,
      label,
      netnsPath,
    }));
    const out: Attachment[] = [];
    for (const port of listAttached(this.#nl, this.#opts.bridge, { containers: known })) {
      if (!port.container) continue;
      out.push({
        id: port.container.id,
        label: port.container.label,
        netnsPath: port.container.netnsPath,
        hostIfname: port.hostIfname,
        mac: port.mac ?? "",
        addresses: port.addresses,
        ...(this.#records.get(port.container.id)?.ifname ? { ifname: port.ifname } : {}),
      });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /**
   * Claims in IPAM every address of every recorded container that still exists, so nothing in use is handed
   * out again after a restart (also when the IPAM state was lost).
   *
   * @returns the containers whose claims failed, with the reason
   */
  async reclaim(): Promise<{ id: string; error: string }[]> {
    const failed: { id: string; error: string }[] = [];
    for (const a of this.list()) {
      for (const c of a.addresses.filter((c) => this.#ipam.manages(c))) {
        try {
          await this.#ipam.claim(a.id, c);
        } catch (err) {
          failed.push({ id: a.id, error: (err as Error).message });
        }
      }
    }
    return failed;
  }

  #save(): void {
    this.#dir.writeJSON(FILE, [...this.#records.values()]);
    try {
      this.#opts.gateway?.unrouteUnused([...this.#records.values()].flatMap((a) => a.addresses));
    } catch (err) {
      log.warn("Cannot delete a subnet route no container needs", { error: (err as Error).message });
    }
  }
}

/**
 * The PID of a container attached by PID (its namespace is /proc/PID/ns/net), else undefined; also undefined
 * for an engine's container, whose death (and restart within a grace period) its watcher handles.
 */
function pidOf(a: Attachment): number | undefined {
  if (a.runtime) return undefined;
  const m = /^\/proc\/(\d+)\/ns\/net$/.exec(a.netnsPath);
  return m ? Number(m[1]) : undefined;
}

function withIdentity(c: Container, identity: AttachIdentity): Container {
  return identity.id ? { ...c, id: identity.id, label: identity.id } : c;
}

type Spec = { kind: "allocate"; subnet?: string } | { kind: "static"; cidr: string };

function parseSpec(ref: string, spec: string): Spec {
  try {
    if (spec === "net:default") return { kind: "allocate" };
    if (spec.startsWith("net:")) {
      parseCIDR(spec.slice(4));
      return { kind: "allocate", subnet: spec.slice(4) };
    }
    parseCIDR(spec);
    return { kind: "static", cidr: spec };
  } catch (err) {
    throw new UsageError(`Cannot attach ${ref}: ${(err as Error).message}`);
  }
}
