/**
 * The host bridge (`weave`): made once and checked on every start, its ports (container veths, the
 * sleeve's TAP device, the fastdp VXLAN device) with their bridge-port flags, and the check that the
 * overlay's address range does not collide with a route the host already has.
 *
 * @module
 */
import {
  type BridgePort,
  type Link,
  linkAdd,
  linkDel,
  linkList,
  linkSet,
  linkSetBridgePort,
} from "../../ffi/netlink/link.ts";
import { type Route, routeList } from "../../ffi/netlink/route.ts";
import type { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { overlaps, parseCIDR } from "../../base/ip.ts";
import { DEFAULT_BRIDGE } from "./constants.ts";

/** Options of {@link ensureBridge}. */
export interface BridgeOptions {
  /** The bridge's name; default "weave". */
  name?: string;
  /** MTU in bytes; set on a new bridge and corrected on an existing one. Default: the kernel's (1500). */
  mtu?: number;
}

function findLink(nl: NetlinkSocket, name: string): { link?: Link; links: Link[] } {
  const links = linkList(nl);
  return { link: links.find((l) => l.name === name), links };
}

function requireBridge(link: Link): void {
  if (link.kind !== "bridge") {
    throw new Error(
      `Cannot use '${link.name}' as the bridge: it is a ${link.kind ?? "plain"} link, not a bridge; ` +
        `delete it or choose another bridge name`,
    );
  }
}

/**
 * Makes sure the bridge exists, has the MTU asked for and is up, creating it when missing. Idempotent:
 * calling it again changes nothing. A new bridge's MAC is pinned (set to the address the kernel chose),
 * so it no longer follows the lowest port MAC as containers come and go.
 *
 * @param nl a socket in the host namespace
 * @returns the bridge as the kernel reports it after the changes
 * @throws {Error} `Cannot use 'weave' as the bridge: it is a veth link, not a bridge; …` when a link of
 *   another kind has the name
 * @throws {NetlinkError} when the kernel refuses the bridge or its MTU
 * @example
 * ```ts
 * const br = ensureBridge(nl, { mtu: 1376 });
 * ```
 */
export function ensureBridge(nl: NetlinkSocket, options: BridgeOptions = {}): Link {
  const name = options.name ?? DEFAULT_BRIDGE;
  const existing = findLink(nl, name).link;
  if (existing === undefined) {
    const made = linkAdd(nl, { kind: "bridge", name, mtu: options.mtu });
    try {
      linkSet(nl, made.index, { mac: made.mac, up: true });
    } catch (e) {
      linkDel(nl, made.index);
      throw e;
    }
  } else {
    requireBridge(existing);
    const mtu = options.mtu !== undefined && existing.mtu !== options.mtu ? options.mtu : undefined;
    if (mtu !== undefined || !existing.up) linkSet(nl, existing.index, { mtu, up: true });
  }
  return findLink(nl, name).link!;
}

/**
 * Deletes the bridge when it exists (its ports stay, unplugged). Equivalent: `ip link del weave`.
 *
 * @returns true when a bridge was deleted, false when there was none
 * @throws {Error} `Cannot use 'x' as the bridge: …` when the name belongs to a link of another kind
 * @throws {NetlinkError} when the kernel refuses the deletion
 */
export function deleteBridge(nl: NetlinkSocket, name: string = DEFAULT_BRIDGE): boolean {
  const link = findLink(nl, name).link;
  if (link === undefined) return false;
  requireBridge(link);
  linkDel(nl, link.index);
  return true;
}

/**
 * Plugs `link` into `bridge` as a port and sets the port flags given; absent flags keep the kernel's
 * defaults (learning on, hairpin off, not isolated). The sleeve's TAP and the VXLAN device are plugged
 * with `{ isolated: true }` so frames never pass between them.
 *
 * @throws {NetlinkError} naming the link when it or the bridge does not exist or the kernel refuses
 * @example
 * ```ts
 * addBridgePort(nl, "weave", "vethwe-tap", { isolated: true });
 * ```
 */
export function addBridgePort(
  nl: NetlinkSocket,
  bridge: string | number,
  link: string | number,
  flags: Partial<BridgePort> = {},
): void {
  linkSet(nl, link, { master: bridge });
  if (Object.keys(flags).length > 0) linkSetBridgePort(nl, link, flags);
}

/** A host route that overlaps a range, as {@link overlapsHostRoute} reports it. */
export interface ConflictingRoute {
  /** The route's destination "ADDRESS/PREFIX". */
  dst: string;
  /** Name of its output link, when it has one. */
  dev?: string;
  /** The route as the kernel reports it. */
  route: Route;
}

/**
 * Lists the routes of the host's main table whose destination overlaps `cidr`, leaving out default
 * routes (they overlap everything) and routes on `bridge` (ours, e.g. from `expose`).
 *
 * @param nl a socket in the host namespace
 * @param cidr the overlay's range, e.g. "10.32.0.0/12"
 * @param bridge the overlay's own bridge; default "weave"
 * @throws {Error} `Invalid CIDR 'x': …`
 * @throws {NetlinkError} when the routes cannot be listed
 */
export function overlapsHostRoute(
  nl: NetlinkSocket,
  cidr: string,
  bridge: string = DEFAULT_BRIDGE,
): ConflictingRoute[] {
  const range = parseCIDR(cidr);
  const links = linkList(nl);
  const own = links.find((l) => l.name === bridge)?.index;
  const names = new Map(links.map((l) => [l.index, l.name]));
  return routeList(nl, { family: range.family })
    .filter((r) => r.dst !== "default" && r.dev !== own && overlaps(range, parseCIDR(r.dst)))
    .map((route) => ({
      dst: route.dst,
      dev: route.dev === undefined ? undefined : names.get(route.dev),
      route,
    }));
}

/**
 * Refuses an overlay range that overlaps a host route, naming the first such route.
 *
 * @throws {Error} `Cannot use range '10.32.0.0/12': it overlaps host route '10.32.1.0/24' dev 'eth1';
 *   choose another range with --ipalloc-range`
 */
export function assertNoHostRouteOverlap(
  nl: NetlinkSocket,
  cidr: string,
  bridge: string = DEFAULT_BRIDGE,
): void {
  const [first] = overlapsHostRoute(nl, cidr, bridge);
  if (first === undefined) return;
  throw new Error(
    `Cannot use range '${cidr}': it overlaps host route '${first.dst}'${
      first.dev ? ` dev '${first.dev}'` : ""
    }; ` +
      `choose another range with --ipalloc-range`,
  );
}
