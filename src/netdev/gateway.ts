/**
 * The gateway: {@link GATEWAY_ADDRESS} on every host's bridge (and {@link GATEWAY_ADDRESS6} once IPv6 is in
 * use), the host routes that send containers' subnets into the bridge (made at attach, deleted when a subnet's
 * last container leaves), and a container's side of it (a permanent neighbour entry for the gateway with its
 * own host's bridge MAC, a /32 route to it, and a default route through it when the container has none; the
 * same for IPv6 when the container has an IPv6 address). The addresses are the same on every host; since no
 * container ever asks for them by ARP or neighbour discovery, each reaches its own host's. All synchronous
 * netlink.
 *
 * @module
 */
import { addrAdd, addrList } from "../../ffi/netlink/addr.ts";
import { linkGet } from "../../ffi/netlink/link.ts";
import { neighAdd } from "../../ffi/netlink/neigh.ts";
import { routeAdd, routeDel, routeList } from "../../ffi/netlink/route.ts";
import type { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import {
  bigIntToIP,
  type Cidr,
  contains,
  type Family,
  formatCIDR,
  networkOf,
  parseCIDR,
} from "../../base/ip.ts";
import { GATEWAY_ADDRESS, GATEWAY_ADDRESS6, SUBNET_ROUTE_METRIC } from "./constants.ts";

/**
 * Puts the gateway of `family` on the bridge unless it is there: {@link GATEWAY_ADDRESS}/32, or
 * {@link GATEWAY_ADDRESS6}/128 without duplicate address detection (every host's bridge has it, on one
 * Ethernet). Idempotent.
 *
 * @param nl a socket in the host namespace
 * @returns whether it had to be added
 * @throws {NetlinkError} when the bridge is missing or the kernel refuses the address (IPv6 disabled)
 */
export function ensureGateway(nl: NetlinkSocket, bridge: string, family: Family = 4): boolean {
  const address = family === 4 ? GATEWAY_ADDRESS : GATEWAY_ADDRESS6;
  if (addrList(nl, { link: bridge, family }).some((a) => a.address === address)) return false;
  if (family === 4) addrAdd(nl, bridge, `${address}/32`);
  else addrAdd(nl, bridge, `${address}/128`, { scope: "link", nodad: true });
  return true;
}

/**
 * Adds a host route `NETWORK dev BRIDGE metric 1000` for each subnet of `cidrs` (IPv4 and IPv6; a single
 * address, /32 or /128, needs none) that no route on the bridge covers yet (one route dump per family), so
 * the host reaches containers of any subnet (replies to masqueraded traffic, DNS answers, Services). The
 * routes go with the bridge, and the kernel drops the IPv4 ones when the bridge loses its last IPv4 address.
 *
 * @param nl a socket in the host namespace
 * @returns the routes added
 * @throws {NetlinkError} when the kernel refuses a route
 */
export function routeSubnets(nl: NetlinkSocket, bridge: string, cidrs: readonly string[]): string[] {
  const dev = linkGet(nl, bridge).index;
  const onBridge = new Map<Family, Cidr[]>();
  const routesOn = (family: Family) => {
    let routes = onBridge.get(family);
    if (routes === undefined) {
      routes = routeList(nl, { family }).filter((r) => r.dev === dev && r.dst !== "default")
        .map((r) => parseCIDR(r.dst));
      onBridge.set(family, routes);
    }
    return routes;
  };
  const added: string[] = [];
  for (const cidr of cidrs) {
    const c = parseCIDR(cidr);
    if (c.prefix === (c.family === 4 ? 32 : 128)) continue;
    const routes = routesOn(c.family);
    if (routes.some((r) => contains(r, c.address) && r.prefix <= c.prefix)) continue;
    const dst = formatCIDR({ ...c, address: bigIntToIP(networkOf(c), c.family) });
    routeAdd(nl, { dst, dev, metric: SUBNET_ROUTE_METRIC });
    routes.push(parseCIDR(dst));
    added.push(dst);
  }
  return added;
}

/**
 * Deletes the host routes {@link routeSubnets} made (metric 1000 on the bridge) that cover none of `keep`
 * (the IPAM ranges and every attached container's addresses), once the last container of a subnet left.
 *
 * @param nl a socket in the host namespace
 * @returns the routes deleted
 * @throws {NetlinkError} when the kernel refuses a deletion
 */
export function unrouteSubnets(nl: NetlinkSocket, bridge: string, keep: readonly string[]): string[] {
  const dev = linkGet(nl, bridge).index;
  const kept = keep.map((k) => parseCIDR(k));
  const gone: string[] = [];
  for (const r of [...routeList(nl, { family: 4 }), ...routeList(nl, { family: 6 })]) {
    if (r.dev !== dev || r.metric !== SUBNET_ROUTE_METRIC || r.dst === "default") continue;
    const dst = parseCIDR(r.dst);
    if (kept.some((k) => contains(dst, k.address) && dst.prefix <= k.prefix)) continue;
    routeDel(nl, { dst: r.dst, dev, metric: SUBNET_ROUTE_METRIC });
    gone.push(r.dst);
  }
  return gone;
}

/** What {@link gatewayRoutes} did in a container. */
export interface GatewayRoutes {
  /** The gateway, when the container's default route of that family now goes through it. */
  gateway?: string;
  /** The routes added, "DST" or "DST via GW". */
  routes: string[];
}

/**
 * A container's side of the gateway of one family, on its interface `ifname`. IPv4: the permanent neighbour
 * entry {@link GATEWAY_ADDRESS} → `bridgeMac`, the route `GATEWAY/32 dev IFNAME`, and `default via GATEWAY`
 * when `defaultRoute` and the container has no IPv4 default route (Docker's eth0 keeps its own). IPv6: the
 * permanent entry {@link GATEWAY_ADDRESS6} → `bridgeMac` and, on the same condition, `default via GATEWAY6
 * dev IFNAME` (a link-local next hop needs no route of its own). What is there already is kept.
 *
 * @param cnl a socket in the container's namespace
 * @throws {NetlinkError} when the kernel refuses an entry
 */
export function gatewayRoutes(
  cnl: NetlinkSocket,
  ifname: string,
  bridgeMac: string,
  defaultRoute: boolean,
  family: Family = 4,
): GatewayRoutes {
  const gateway = family === 4 ? GATEWAY_ADDRESS : GATEWAY_ADDRESS6;
  neighAdd(cnl, { link: ifname, address: gateway, mac: bridgeMac, state: "permanent", replace: true });
  const have = routeList(cnl, { family });
  const out: GatewayRoutes = { routes: [] };
  const host = `${GATEWAY_ADDRESS}/32`;
  if (family === 4 && !have.some((r) => r.dst === host)) {
    routeAdd(cnl, { dst: host, dev: ifname, scope: "link" });
    out.routes.push(host);
  }
  if (defaultRoute && !have.some((r) => r.dst === "default")) {
    routeAdd(cnl, { dst: "default", gateway, dev: ifname });
    out.routes.push(`default via ${gateway}`);
    out.gateway = gateway;
  }
  return out;
}
