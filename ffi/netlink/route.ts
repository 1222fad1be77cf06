/**
 * Routes, named after `ip route`: add, delete and list, IPv4 and IPv6, with gateway, device, scope,
 * table and metric. Defaults follow iproute2: protocol "boot", scope "link" for a route without gateway.
 *
 * @module
 */
import { type Family, formatIP, parseCIDR, parseIP } from "../../base/ip.ts";
import { attrU32, type Message, parseAttrs, requireStruct } from "./codec.ts";
import {
  AF_UNSPEC,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RT_SCOPE,
  RT_TABLE,
  RTA,
  RTM_DELROUTE,
  RTM_GETROUTE,
  RTM_NEWROUTE,
  RTMSG_LEN,
  RTN,
  RTPROT,
} from "./constants.ts";
import { linkIndex, type LinkRef } from "./link.ts";
import { afOf, familyOf, type Scope, scopeName, scopeNumber } from "./scope.ts";
import type { NetlinkSocket } from "./socket.ts";

/** A route to add or delete. */
export interface RouteSpec {
  /** Destination "ADDRESS/PREFIX", or "default". */
  dst: string;
  /** Next hop address. */
  gateway?: string;
  /** Output link. */
  dev?: LinkRef;
  /** Routing table id; default 254 (main). */
  table?: number;
  /** Metric (RTA_PRIORITY). */
  metric?: number;
  /** Scope; default "link" without gateway, else "global". */
  scope?: Scope;
  /** Preferred source address (`src`). */
  src?: string;
  /** Family of a "default" route without gateway; default 4. */
  family?: Family;
}

/** A route as the kernel reports it. */
export interface Route {
  /** 4 or 6. */
  family: Family;
  /** "ADDRESS/PREFIX", or "default" for a zero-length prefix. */
  dst: string;
  /** Next hop. */
  gateway?: string;
  /** Output link index. */
  dev?: number;
  /** Table id. */
  table: number;
  /** Metric (RTA_PRIORITY). */
  metric?: number;
  /** Scope name ("global", "link", "host", …). */
  scope: string;
  /** Protocol name ("kernel", "boot", "static", "ra") or its number as text. */
  protocol: string;
  /** Type name ("unicast", "local", "broadcast", …). */
  type: string;
  /** Preferred source address. */
  prefsrc?: string;
}

function nameOf(table: Record<string, number>, n: number): string {
  for (const [name, v] of Object.entries(table)) if (v === n) return name.toLowerCase();
  return String(n);
}

function describe(r: RouteSpec): string {
  return `route '${r.dst}'${r.gateway ? ` via '${r.gateway}'` : ""}${
    r.dev !== undefined ? ` dev '${r.dev}'` : ""
  }`;
}

function routeRequest(nl: NetlinkSocket, type: number, flags: number, r: RouteSpec): void {
  const dst = r.dst === "default" ? undefined : parseCIDR(r.dst);
  const gw = r.gateway === undefined ? undefined : parseIP(r.gateway);
  const src = r.src === undefined ? undefined : parseIP(r.src);
  const family: Family = dst?.family ?? (gw ? (gw.length === 4 ? 4 : 6) : r.family ?? 4);
  for (const [what, b] of [["gateway", gw], ["src", src]] as const) {
    if (b && b.length !== (family === 4 ? 4 : 16)) {
      throw new Error(`Invalid ${describe(r)}: ${what} is not IPv${family} like the destination`);
    }
  }
  const dev = r.dev === undefined ? undefined : linkIndex(nl, r.dev);
  const table = r.table ?? RT_TABLE.MAIN;
  const adding = type === RTM_NEWROUTE;
  const scope = r.scope !== undefined
    ? scopeNumber(r.scope)
    : !adding
    ? RT_SCOPE.nowhere
    : gw
    ? RT_SCOPE.global
    : RT_SCOPE.link;
  const w = nl.message(type, flags);
  const at = w.struct(RTMSG_LEN);
  const v = w.view;
  v.setUint8(at, afOf(family));
  v.setUint8(at + 1, dst?.prefix ?? 0);
  v.setUint8(at + 4, table < 256 ? table : RT_TABLE.UNSPEC);
  v.setUint8(at + 5, adding ? RTPROT.BOOT : RTPROT.UNSPEC);
  v.setUint8(at + 6, scope);
  v.setUint8(at + 7, adding ? RTN.UNICAST : RTN.UNSPEC);
  if (dst) w.bytes(RTA.DST, dst.address);
  if (gw) w.bytes(RTA.GATEWAY, gw);
  if (src) w.bytes(RTA.PREFSRC, src);
  if (dev !== undefined) w.u32(RTA.OIF, dev);
  if (r.metric !== undefined) w.u32(RTA.PRIORITY, r.metric);
  w.u32(RTA.TABLE, table);
}

/**
 * Adds a route. Equivalent: `ip route add DST [via GW] [dev DEV] [table N] [metric N] [scope S] [src IP]`.
 *
 * @example
 * ```ts
 * routeAdd(nl, { dst: "10.40.0.0/16", dev: "mnt-br0" });
 * routeAdd(nl, { dst: "default", gateway: "fd00::1" });
 * ```
 * @throws {Error} `Invalid CIDR 'x'` / `Invalid IP address 'x'` before sending
 * @throws {NetlinkError} naming the route: EEXIST, ENETUNREACH for an unreachable gateway, ENETDOWN for a down link
 */
export function routeAdd(nl: NetlinkSocket, route: RouteSpec): void {
  routeRequest(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, route);
  nl.ack(`Cannot add ${describe(route)}`, undefined, { 17: "an equal route exists; delete it first" });
}

/**
 * Deletes a route; fields left out match any value. Equivalent: `ip route del DST [via GW] [dev DEV] [table N]`.
 *
 * @throws {NetlinkError} naming the route: ESRCH when there is no such route
 */
export function routeDel(nl: NetlinkSocket, route: RouteSpec): void {
  routeRequest(nl, RTM_DELROUTE, 0, route);
  nl.ack(`Cannot delete ${describe(route)}`, undefined, {
    3: "no such route; list routes with 'ip route show'",
  });
}

/**
 * Decodes an RTM_NEWROUTE message.
 *
 * @throws {NetlinkDecodeError} when the message is malformed
 */
export function decodeRoute(m: Message): Route | undefined {
  if (m.type !== RTM_NEWROUTE) return undefined;
  const v = requireStruct(m.payload, RTMSG_LEN, "RTM_NEWROUTE");
  const family = familyOf(v.getUint8(0));
  if (family === undefined) return undefined;
  const attrs = parseAttrs(m.payload, RTMSG_LEN);
  const len = family === 4 ? 4 : 16;
  const ip = (type: number) => {
    const b = attrs.get(type);
    return b && b.length === len ? formatIP(b.slice()) : undefined;
  };
  const prefix = v.getUint8(1);
  const dst = ip(RTA.DST);
  const r: Route = {
    family,
    dst: prefix === 0 || dst === undefined ? "default" : `${dst}/${prefix}`,
    table: attrU32(attrs, RTA.TABLE) ?? v.getUint8(4),
    scope: scopeName(v.getUint8(6)),
    protocol: nameOf(RTPROT, v.getUint8(5)),
    type: nameOf(RTN, v.getUint8(7)),
  };
  const gateway = ip(RTA.GATEWAY);
  if (gateway) r.gateway = gateway;
  const dev = attrU32(attrs, RTA.OIF);
  if (dev !== undefined) r.dev = dev;
  const metric = attrU32(attrs, RTA.PRIORITY);
  if (metric !== undefined) r.metric = metric;
  const prefsrc = ip(RTA.PREFSRC);
  if (prefsrc) r.prefsrc = prefsrc;
  return r;
}

/** Filters of {@link routeList}. */
export interface RouteFilter {
  /** Only IPv4 or only IPv6; default both. */
  family?: Family;
  /** Only this table; default 254 (main); "all" for every table. */
  table?: number | "all";
}

/**
 * Lists routes. Equivalent: `ip [-4|-6] route show [table N|all]`.
 *
 * @throws {NetlinkError} when the kernel refuses the dump
 */
export function routeList(nl: NetlinkSocket, filter: RouteFilter = {}): Route[] {
  const w = nl.message(RTM_GETROUTE);
  const at = w.struct(RTMSG_LEN);
  w.view.setUint8(at, filter.family === undefined ? AF_UNSPEC : afOf(filter.family));
  const table = filter.table ?? RT_TABLE.MAIN;
  return nl.dump("Cannot list routes", (m) => {
    const r = decodeRoute(m);
    return r && (table === "all" || r.table === table) ? r : undefined;
  });
}
