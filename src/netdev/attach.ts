/**
 * Container attach and detach, kernel side (`meshnet attach/detach/ps`). Attach runs in order, each
 * step undone if a later one fails, so a failure never leaves a half-made interface:
 *   1. check every address and the container's current interface (nothing changed yet);
 *   2. create the veth pair: host end `vethwe…` on the bridge and up, container end created directly
 *      in the container's namespace under its final name (`ethwe`), so no rename and no name clash on
 *      the host;
 *   3. inside the container: sysctls (constants.ts), MAC, addresses, link up (arp_notify announces the
 *      addresses), multicast route, and the gateway's neighbour entry and routes (gateway.ts);
 *   4. on the host: the bridge's neighbour entry of each address set to the container's MAC (see
 *      {@link learnOnBridge}).
 * Attaching a container that already has the interface only adds addresses (and removes them again
 * when one fails), and only when that interface is its own: the pair's host end carries the name its id
 * gives, so an interface of another attachment in the same namespace is refused. A host end of that name
 * left by a namespace that is gone (a restarted container) is removed when the caller says it is stale.
 * Detach works from inside the container: deleting its end deletes the pair.
 * Everything is synchronous netlink, so calls never interleave within one process.
 *
 * @module
 */
import { type Addr, addrAdd, addrDel, addrList } from "../../ffi/netlink/addr.ts";
import { type Link, linkAdd, linkDel, linkGet, linkList, linkSet } from "../../ffi/netlink/link.ts";
import { neighAdd } from "../../ffi/netlink/neigh.ts";
import { routeAdd, routeList } from "../../ffi/netlink/route.ts";
import { NetlinkError, NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { type Cidr, type Family, formatCIDR, formatIP, parseCIDR } from "../../base/ip.ts";
import type { Container } from "../runtime/container.ts";
import { namedNetnsContainers } from "../runtime/netns.ts";
import { SyscallError } from "../../ffi/libc.ts";
import { CONTAINER_IFNAME, CONTAINER_SYSCTLS, HOST_VETH_SYSCTLS, MULTICAST_ROUTE } from "./constants.ts";
import { gatewayRoutes } from "./gateway.ts";
import { containerMac, hostVethName } from "./names.ts";
import { writeSysctl } from "./sysctl.ts";

const ENODEV = 19;

/** Options of {@link attachContainer}. */
export interface AttachOptions {
  /** The container: its id names the host veth and seeds the MAC, its label is used in messages. */
  container: Container;
  /** Name of the host bridge to plug into; it must exist (see ensureBridge). */
  bridge: string;
  /** Addresses to give the container, "ADDRESS/PREFIX", IPv4 or IPv6; at least one. */
  addresses: readonly string[];
  /** Interface name inside the container; default "ethwe". */
  ifname?: string;
  /** MTU of both veth ends in bytes; default the bridge's MTU. */
  mtu?: number;
  /** Mixed into the MAC's hash so equal container ids on different hosts differ; the router's peer name. */
  macSeed?: string;
  /** Add the `224.0.0.0/4 dev ethwe` route (unless the container has one already); default true. */
  multicastRoute?: boolean;
  /**
   * The host end's name is known to be no live container's (the caller's records say so): a link of that
   * name whose peer is not this container's interface is a leftover of a dead namespace and is removed.
   * Without it such a link makes the attach fail, naming it.
   */
  replaceStale?: boolean;
  /**
   * The host's gateway: its bridge MAC, and whether to add a default route through it (only when the
   * container has none); absent adds no gateway routes.
   */
  gateway?: { bridgeMac: string; defaultRoute: boolean };
}

/** What {@link attachContainer} did. */
export interface AttachResult {
  /** The host end's name. */
  hostIfname: string;
  /** The container interface's MAC. */
  mac: string;
  /** True when the veth pair was made by this call, false when addresses were added to an existing one. */
  created: boolean;
  /** The addresses added, as given. */
  added: string[];
  /** The gateway the container's default route now goes through, when this call added that route. */
  gateway?: string;
  /** The same for IPv6: the gateway of the IPv6 default route, when this call added that route. */
  gateway6?: string;
}

/** Options of {@link detachContainer}. */
export interface DetachOptions {
  /** The container. */
  container: Container;
  /** Addresses to remove ("ADDRESS/PREFIX" or bare "ADDRESS"); none or empty removes the interface. */
  addresses?: readonly string[];
  /** Interface name inside the container; default "ethwe". */
  ifname?: string;
  /**
   * A socket in the bridge's namespace: with it an interface whose host end is not this container's (it
   * belongs to another attachment) is never touched, and a missing interface is no error; both are
   * reported as `absent` (CNI's DEL and GC).
   */
  host?: NetlinkSocket;
}

/** What {@link detachContainer} did. */
export interface DetachResult {
  /** The addresses removed, "ADDRESS/PREFIX" as they were on the interface. */
  removed: string[];
  /** True when the interface (the veth pair) was deleted, because no address was left or none given. */
  interfaceRemoved: boolean;
  /** True when, with `host`, the container has no interface of its own by that name: nothing was changed. */
  absent?: boolean;
}

/** One container interface plugged into the bridge, as {@link listAttached} reports it. */
export interface AttachedInterface {
  /** The host end's name. */
  hostIfname: string;
  /** The host end's index. */
  hostIndex: number;
  /** The kernel's id of the container's namespace as seen from the host, when it is another one. */
  peerNetnsId?: number;
  /** The container, when one of the candidates owns the peer; else undefined (MAC and addresses too). */
  container?: Container;
  /** The interface name inside the container. */
  ifname?: string;
  /** The container interface's MAC. */
  mac?: string;
  /** Its global addresses, "ADDRESS/PREFIX", IPv4 first. */
  addresses: string[];
}

/** Options of {@link listAttached}. */
export interface ListAttachedOptions {
  /**
   * Containers that may be behind the ports (matched by the host veth name their id gives); default:
   * every name in /run/netns. The router adds the ones it attached by PID or path.
   */
  containers?: readonly Container[];
}

function withSocket<T>(netns: string, fn: (nl: NetlinkSocket) => T): T {
  const nl = NetlinkSocket.open({ netns });
  try {
    return fn(nl);
  } finally {
    nl.close();
  }
}

/**
 * The container's interface, or undefined when it has none; refuses one meshnet did not make (not a veth),
 * or with `foreignOk` reports it as undefined too.
 */
function findInterface(
  nl: NetlinkSocket,
  c: Container,
  ifname: string,
  action: string,
  foreignOk = false,
): Link | undefined {
  let link: Link;
  try {
    link = linkGet(nl, ifname);
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === ENODEV) return undefined;
    throw e;
  }
  if (link.kind !== "veth") {
    if (foreignOk) return undefined;
    throw new Error(
      `Cannot ${action} ${c.label}: it has a ${
        link.kind ?? "plain"
      } link named '${ifname}', not a meshnet veth; ` +
        `remove it or choose another interface name`,
    );
  }
  return link;
}

/**
 * The name of the host end of veth `link` (seen from inside the container), or undefined when its peer is not
 * in the namespace of `host`.
 */
function hostEndName(host: NetlinkSocket, link: Link): string | undefined {
  if (link.parent === undefined) return undefined;
  return linkList(host).find((l) => l.index === link.parent && l.parent === link.index && l.kind === "veth")
    ?.name;
}

/** Whether `link` in the container is the pair whose host end `hostIfname` its id gives. */
function isOwn(host: NetlinkSocket, link: Link, hostIfname: string): boolean {
  return hostEndName(host, link) === hostIfname;
}

/**
 * Makes room for the host end `hostIfname`: a link of that name is a leftover (its peer is not the container's
 * interface, which does not exist yet); it is removed when `replaceStale`, else refused.
 */
function clearHostName(host: NetlinkSocket, c: Container, hostIfname: string, replaceStale: boolean): void {
  let stale: Link;
  try {
    stale = linkGet(host, hostIfname);
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === ENODEV) return;
    throw e;
  }
  if (!replaceStale) {
    throw new Error(
      `Cannot attach ${c.label}: host interface '${hostIfname}' exists and may be another container's; ` +
        `detach the container that has it, or delete it with 'ip link del ${hostIfname}' if none does`,
    );
  }
  try {
    linkDel(host, stale.index);
  } catch (e) {
    // gone meanwhile: its namespace's teardown got there first
    if (!(e instanceof NetlinkError && e.errno === ENODEV)) throw e;
  }
}

function sameAddress(a: Addr, c: Cidr): boolean {
  return a.address === formatIP(c.address);
}

function globalAddrs(nl: NetlinkSocket, index: number): Addr[] {
  return addrList(nl, { link: index }).filter((a) => a.scope === "global")
    .sort((a, b) => a.family - b.family);
}

/**
 * Sets the host's neighbour entry of each IPv4 address (the host routes only IPv4 into the bridge, see
 * gateway.ts) on the bridge to `mac` (state stale: the kernel confirms it on first use). A reused address would otherwise keep the MAC of the container that had it before: the host
 * sends its replies (DNS answers above all) there, into nothing, until the entry is probed out after some
 * 8 s. The container's own announcement (arp_notify) cannot be relied on to fix it: it is sent when the
 * interface comes up, often before the veth carries frames, and containers never ARP for the gateway
 * (their entry for it is permanent), so nothing else corrects the host.
 */
function learnOnBridge(host: NetlinkSocket, bridge: string, mac: string, cidrs: readonly Cidr[]): void {
  for (const cidr of cidrs) {
    if (cidr.family !== 4) continue;
    neighAdd(host, { link: bridge, address: formatIP(cidr.address), mac, state: "stale", replace: true });
  }
}

/** Parses the addresses to attach, refusing malformed ones and repeats before anything changes. */
function parseAttachAddresses(c: Container, addresses: readonly string[]): Cidr[] {
  if (addresses.length === 0) {
    throw new Error(
      `Cannot attach ${c.label}: no address given; pass at least one CIDR such as 10.32.1.5/12`,
    );
  }
  const seen = new Set<string>();
  return addresses.map((s) => {
    let cidr: Cidr;
    try {
      cidr = parseCIDR(s);
    } catch (e) {
      throw new Error(`Cannot attach ${s} to ${c.label}: ${(e as Error).message}`);
    }
    const key = formatIP(cidr.address);
    if (seen.has(key)) throw new Error(`Cannot attach ${s} to ${c.label}: address given twice; give it once`);
    seen.add(key);
    return cidr;
  });
}

/**
 * Adds the container's side of the gateway (gateway.ts), when there is one: IPv4 when the interface is made
 * (`made.created`), IPv6 whenever IPv6 addresses are among `cidrs` (a first one added later gets its IPv6
 * default route then); `made` with the gateways its default routes now go through.
 */
function withGateway(
  made: AttachResult,
  cnl: NetlinkSocket,
  ifname: string,
  cidrs: readonly Cidr[],
  gateway: AttachOptions["gateway"],
): AttachResult {
  if (!gateway) return made;
  const families: Family[] = made.created ? [4] : [];
  if (cidrs.some((c) => c.family === 6)) families.push(6);
  const out = { ...made };
  for (const family of families) {
    const gw = gatewayRoutes(cnl, ifname, gateway.bridgeMac, gateway.defaultRoute, family).gateway;
    if (gw && family === 4) out.gateway = gw;
    if (gw && family === 6) out.gateway6 = gw;
  }
  return out;
}

/** Writes the sysctls of `table` for `ifname`; IPv6 ones are skipped where IPv6 is disabled at boot. */
function applySysctls(
  netns: string | number | undefined,
  table: typeof CONTAINER_SYSCTLS,
  ifname: string,
): void {
  for (const s of table) writeSysctl(netns, s.key.replace("{if}", ifname), s.value, { optional: s.ipv6 });
}

/** Adds `cidrs` to link `ifname` in order; when one fails, removes the ones this call added and rethrows. */
function addAll(nl: NetlinkSocket, ifname: string, cidrs: Cidr[], c: Container): void {
  const done: string[] = [];
  try {
    for (const cidr of cidrs) {
      const text = formatCIDR(cidr);
      try {
        addrAdd(nl, ifname, text);
      } catch (e) {
        throw new Error(`Cannot attach ${text} to ${c.label}: ${(e as Error).message}`);
      }
      done.push(text);
    }
  } catch (e) {
    for (const text of done.reverse()) addrDel(nl, ifname, text);
    throw e;
  }
}

/**
 * Attaches a container to the bridge, or adds addresses to an attached one (see the module comment for
 * the steps). On any failure everything this call made is removed again.
 *
 * @param host a socket in the namespace that holds the bridge
 * @throws {Error} `Cannot attach 10.32.1.5/12 to c1: address already on ethwe; detach it first`,
 *   `Cannot attach c1: its 'eth0' interface belongs to another attachment …`,
 *   `Cannot attach c1: host interface 'vethwe…' exists and may be another container's; …`,
 *   `Cannot attach x to c1: Invalid CIDR 'x': …`, `Cannot attach c1: no address given; …`,
 *   `Cannot attach c1: it has a dummy link named 'ethwe', not a meshnet veth; …`
 * @throws {NetlinkError} from the kernel, naming the link or address (e.g. an unknown bridge)
 * @example
 * ```ts
 * const c = await resolveContainer("c1");
 * attachContainer(nl, { container: c, bridge: "weave", addresses: ["10.32.0.5/12", "fd00:32::5/64"] });
 * ```
 */
export function attachContainer(host: NetlinkSocket, options: AttachOptions): AttachResult {
  const c = options.container;
  const ifname = options.ifname ?? CONTAINER_IFNAME;
  const cidrs = parseAttachAddresses(c, options.addresses);
  const hostIfname = hostVethName(c.id);
  return withSocket(c.netnsPath, (cnl) => {
    const existing = findInterface(cnl, c, ifname, "attach");
    if (existing && !isOwn(host, existing, hostIfname)) {
      throw new Error(
        `Cannot attach ${c.label}: its '${ifname}' interface belongs to another attachment ` +
          `(host end ${
            hostEndName(host, existing) ?? "elsewhere"
          }); detach that one first or use another interface name`,
      );
    }
    if (existing) {
      const have = addrList(cnl, { link: existing.index });
      for (const cidr of cidrs) {
        if (have.some((a) => sameAddress(a, cidr))) {
          throw new Error(
            `Cannot attach ${formatCIDR(cidr)} to ${c.label}: address already on ${ifname}; detach it first`,
          );
        }
      }
      learnOnBridge(host, options.bridge, existing.mac!, cidrs);
      addAll(cnl, ifname, cidrs, c);
      const made = { hostIfname, mac: existing.mac!, created: false, added: cidrs.map(formatCIDR) };
      try {
        return withGateway(made, cnl, ifname, cidrs, options.gateway);
      } catch (e) {
        for (const cidr of made.added) addrDel(cnl, ifname, cidr);
        throw e;
      }
    }
    const mtu = options.mtu ?? linkGet(host, options.bridge).mtu;
    const mac = containerMac(c.id, options.macSeed);
    clearHostName(host, c, hostIfname, options.replaceStale ?? false);
    const veth = linkAdd(host, {
      kind: "veth",
      name: hostIfname,
      mtu,
      master: options.bridge,
      up: true,
      peer: { name: ifname, netns: c.netnsPath, mtu },
    });
    try {
      applySysctls(host.netns, HOST_VETH_SYSCTLS, hostIfname);
      applySysctls(c.netnsPath, CONTAINER_SYSCTLS, ifname);
      linkSet(cnl, ifname, { mac });
      addAll(cnl, ifname, cidrs, c);
      linkSet(cnl, ifname, { up: true });
      if (
        options.multicastRoute !== false &&
        !routeList(cnl, { family: 4 }).some((r) => r.dst === MULTICAST_ROUTE)
      ) {
        routeAdd(cnl, { dst: MULTICAST_ROUTE, dev: ifname });
      }
      const made = withGateway(
        { hostIfname, mac, created: true, added: cidrs.map(formatCIDR) },
        cnl,
        ifname,
        cidrs,
        options.gateway,
      );
      learnOnBridge(host, options.bridge, mac, cidrs);
      return made;
    } catch (e) {
      linkDel(host, veth.index);
      throw e;
    }
  });
}

/**
 * Detaches addresses from a container, or the container from the bridge: removes the addresses given,
 * and the whole interface (the veth pair) when none is left or none was given. Every address is checked
 * before any is removed.
 *
 * @throws {Error} `Cannot detach c1: it has no 'ethwe' interface; it is not attached`,
 *   `Cannot detach 10.32.1.9 from c1: address not on ethwe; list them with meshnet ps`
 * @throws {NetlinkError} from the kernel
 * @example
 * ```ts
 * detachContainer({ container: c, addresses: ["10.32.0.5/12"] }); // keeps ethwe if fd00:32::5 remains
 * detachContainer({ container: c });                              // removes ethwe and its host end
 * ```
 */
export function detachContainer(options: DetachOptions): DetachResult {
  const c = options.container;
  const ifname = options.ifname ?? CONTAINER_IFNAME;
  return withSocket(c.netnsPath, (cnl) => {
    const link = findInterface(cnl, c, ifname, "detach", options.host !== undefined);
    if (options.host && (!link || !isOwn(options.host, link, hostVethName(c.id)))) {
      return { removed: [], interfaceRemoved: false, absent: true };
    }
    if (!link) {
      throw new Error(`Cannot detach ${c.label}: it has no '${ifname}' interface; it is not attached`);
    }
    const have = globalAddrs(cnl, link.index);
    const gone = (options.addresses ?? []).map((s) => {
      let cidr: Cidr;
      try {
        cidr = parseCIDR(s, s.includes(":") ? 128 : 32);
      } catch (e) {
        throw new Error(`Cannot detach ${s} from ${c.label}: ${(e as Error).message}`);
      }
      const a = have.find((a) => sameAddress(a, cidr));
      if (!a) {
        throw new Error(
          `Cannot detach ${s} from ${c.label}: address not on ${ifname}; list them with meshnet ps`,
        );
      }
      return `${a.address}/${a.prefix}`;
    });
    const removed = [...new Set(gone)];
    if (removed.length > 0 && removed.length < have.length) {
      for (const text of removed) addrDel(cnl, link.index, text);
      return { removed, interfaceRemoved: false };
    }
    linkDel(cnl, link.index);
    return { removed: have.map((a) => `${a.address}/${a.prefix}`), interfaceRemoved: true };
  });
}

/**
 * Deletes the host end `hostIfname` of a container whose namespace is gone, when the kernel has not yet (a
 * namespace's links go with it, but asynchronously, and not at all while something holds the namespace).
 *
 * @param host a socket in the namespace that holds the bridge
 * @returns true when a link was deleted
 */
export function deleteHostEnd(host: NetlinkSocket, hostIfname: string): boolean {
  try {
    const link = linkGet(host, hostIfname);
    if (link.kind !== "veth") return false;
    linkDel(host, link.index);
    return true;
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === ENODEV) return false;
    throw e;
  }
}

/**
 * Lists the container interfaces plugged into `bridge` (`meshnet ps`), read from the kernel so it is
 * right after a router restart: the veth ports of the bridge, each matched to the candidate container
 * whose id gives its name and whose interface is the port's peer; MAC and addresses are read inside
 * that container's namespace. A port whose container is not among the candidates is still listed, with
 * its peer's namespace id only.
 *
 * @param host a socket in the namespace that holds the bridge
 * @throws {NetlinkError} `Unknown link 'weave'` when the bridge does not exist
 */
export function listAttached(
  host: NetlinkSocket,
  bridge: string,
  options: ListAttachedOptions = {},
): AttachedInterface[] {
  const br = linkGet(host, bridge);
  const byName = new Map((options.containers ?? namedNetnsContainers()).map((c) => [hostVethName(c.id), c]));
  const ports = linkList(host).filter((l) => l.master === br.index && l.kind === "veth")
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return ports.map((port) => {
    const out: AttachedInterface = { hostIfname: port.name, hostIndex: port.index, addresses: [] };
    if (port.linkNetnsId !== undefined) out.peerNetnsId = port.linkNetnsId;
    const c = byName.get(port.name);
    if (!c || port.parent === undefined) return out;
    try {
      withSocket(c.netnsPath, (cnl) => {
        const peer = linkList(cnl).find((l) =>
          l.index === port.parent && l.parent === port.index && l.kind === "veth"
        );
        if (!peer) return;
        out.container = c;
        out.ifname = peer.name;
        out.mac = peer.mac;
        out.addresses = globalAddrs(cnl, peer.index).map((a) => `${a.address}/${a.prefix}`);
      });
    } catch (e) {
      // the container's namespace went away while we listed: report the port without it
      if (!(e instanceof SyscallError)) throw e;
    }
    return out;
  });
}
