/**
 * Neighbours and bridge forwarding entries, named after `ip neigh` and `bridge fdb`: add, delete and list.
 * FDB entries live on a bridge port (`master`: the bridge's table) or on a VXLAN device itself (`self`),
 * where `dst` names the remote VTEP; all-zero MAC entries with `append` make a VXLAN flood list.
 *
 * @module
 */
import { type Family, formatIP, parseIP } from "../../base/ip.ts";
import {
  attrU16,
  attrU16be,
  attrU32,
  formatMac,
  type Message,
  type MessageWriter,
  parseAttrs,
  parseMac,
  requireStruct,
} from "./codec.ts";
import {
  AF_BRIDGE,
  AF_UNSPEC,
  IFINFOMSG_LEN,
  NDA,
  NDMSG_LEN,
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  NTF,
  NUD,
  RTM_DELNEIGH,
  RTM_GETNEIGH,
  RTM_NEWNEIGH,
} from "./constants.ts";
import { linkIndex, type LinkRef } from "./link.ts";
import { afOf, familyOf } from "./scope.ts";
import type { NetlinkSocket } from "./socket.ts";

/** A neighbour state by iproute2 name (lower case). */
export type NeighState = keyof typeof NUD;

/** A neighbour (ARP / NDP) entry to add or delete. */
export interface NeighSpec {
  /** The link it is on. */
  link: LinkRef;
  /** The neighbour's IP address. */
  address: string;
  /** Its MAC address (needed to add). */
  mac?: string;
  /** State; default "permanent". */
  state?: NeighState;
  /** Replace an existing entry instead of failing with EEXIST. */
  replace?: boolean;
}

/** A neighbour entry as the kernel reports it. */
export interface Neigh {
  /** Index of the link. */
  index: number;
  /** 4 or 6. */
  family: Family;
  /** The neighbour's IP address. */
  address: string;
  /** Its MAC, when resolved. */
  mac?: string;
  /** State names, e.g. ["permanent"]. */
  state: NeighState[];
}

/** A bridge FDB entry to add or delete. */
export interface FdbSpec {
  /** The bridge port or VXLAN device. */
  link: LinkRef;
  /** MAC address; 00:00:00:00:00:00 on a VXLAN is the flood (default destination) entry. */
  mac: string;
  /** Remote VTEP IP (VXLAN entries). */
  dst?: string;
  /** Put the entry in the master bridge's table (`master`) instead of the device's own (`self`). */
  master?: boolean;
  /** "permanent" (default, as `bridge fdb`), "static" or "dynamic". */
  state?: FdbState;
  /** VXLAN VNI of the remote. */
  vni?: number;
  /** VXLAN UDP port of the remote. */
  port?: number;
  /** Add another entry for the same MAC (`bridge fdb append`), as a flood list needs. */
  append?: boolean;
  /**
   * Create or overwrite (`bridge fdb replace`): an existing entry for the MAC, also one the kernel learned,
   * takes this destination and state instead of failing with EEXIST. Unicast MACs only: a VXLAN refuses it
   * for the all-zeros MAC (EOPNOTSUPP), whose destinations are added with `append`, which is idempotent.
   */
  replace?: boolean;
}

/** FDB entry states as `bridge fdb` names them. */
export type FdbState = "permanent" | "static" | "dynamic";

const FDB_STATE: Record<FdbState, number> = {
  permanent: NUD.permanent,
  static: NUD.noarp,
  dynamic: NUD.reachable,
};

/** An FDB entry as the kernel reports it. */
export interface FdbEntry {
  /** Index of the port or device. */
  index: number;
  /** MAC address. */
  mac: string;
  /** Remote VTEP IP. */
  dst?: string;
  /** Index of the master bridge, for entries in a bridge's table. */
  master?: number;
  /** The entry is in the device's own table (`self`). */
  self: boolean;
  /** "permanent", "static", "stale" or "dynamic". */
  state: string;
  /** VLAN id. */
  vlan?: number;
  /** VXLAN VNI. */
  vni?: number;
  /** VXLAN UDP port. */
  port?: number;
}

function ndmsg(w: MessageWriter, family: number, index: number, state: number, flags: number): void {
  const at = w.struct(NDMSG_LEN);
  w.view.setUint8(at, family);
  w.view.setInt32(at + 4, index, true);
  w.view.setUint16(at + 8, state, true);
  w.view.setUint8(at + 10, flags);
}

function neighRequest(nl: NetlinkSocket, type: number, flags: number, n: NeighSpec): void {
  const ip = parseIP(n.address);
  const mac = n.mac === undefined ? undefined : parseMac(n.mac);
  if (n.state !== undefined && !(n.state in NUD)) {
    throw new Error(`Invalid neighbour state '${n.state}': use one of ${Object.keys(NUD).join(", ")}`);
  }
  const index = linkIndex(nl, n.link);
  const w = nl.message(type, flags);
  ndmsg(w, afOf(ip.length === 4 ? 4 : 6), index, NUD[n.state ?? "permanent"], 0);
  w.bytes(NDA.DST, ip);
  if (mac) w.bytes(NDA.LLADDR, mac);
}

/**
 * Adds a neighbour entry. Equivalent: `ip neigh add|replace ADDRESS lladdr MAC dev LINK nud STATE`.
 *
 * @throws {Error} for a bad IP, MAC or state, before sending
 * @throws {NetlinkError} naming the entry: EEXIST when present (unless `replace`), ENODEV for an unknown link
 */
export function neighAdd(nl: NetlinkSocket, n: NeighSpec): void {
  const flags = NLM_F_CREATE | (n.replace ? NLM_F_REPLACE : NLM_F_EXCL);
  neighRequest(nl, RTM_NEWNEIGH, flags, n);
  nl.ack(`Cannot add neighbour '${n.address}' on link '${n.link}'`);
}

/**
 * Deletes a neighbour entry. Equivalent: `ip neigh del ADDRESS dev LINK`.
 *
 * @throws {NetlinkError} naming the entry: ENOENT when there is none
 */
export function neighDel(nl: NetlinkSocket, n: Omit<NeighSpec, "mac" | "state" | "replace">): void {
  neighRequest(nl, RTM_DELNEIGH, 0, n);
  nl.ack(`Cannot delete neighbour '${n.address}' on link '${n.link}'`, undefined, {
    2: "no such entry; list them with 'ip neigh show'",
  });
}

/**
 * Decodes an RTM_NEWNEIGH message of an IP family.
 *
 * @throws {NetlinkDecodeError} when the message is malformed
 */
export function decodeNeigh(m: Message): Neigh | undefined {
  if (m.type !== RTM_NEWNEIGH) return undefined;
  const v = requireStruct(m.payload, NDMSG_LEN, "RTM_NEWNEIGH");
  const family = familyOf(v.getUint8(0));
  if (family === undefined) return undefined;
  const attrs = parseAttrs(m.payload, NDMSG_LEN);
  const dst = attrs.get(NDA.DST);
  if (!dst || dst.length !== (family === 4 ? 4 : 16)) return undefined;
  const bits = v.getUint16(8, true);
  const n: Neigh = {
    index: v.getInt32(4, true),
    family,
    address: formatIP(dst.slice()),
    state: (Object.keys(NUD) as NeighState[]).filter((k) => bits & NUD[k]),
  };
  const mac = attrs.get(NDA.LLADDR);
  if (mac) n.mac = formatMac(mac);
  return n;
}

/** Filters of {@link neighList} and {@link fdbList}. */
export interface NeighFilter {
  /** Only entries on this link. */
  link?: LinkRef;
  /** Only IPv4 or only IPv6 (neighbours only). */
  family?: Family;
}

function neighDump<T>(
  nl: NetlinkSocket,
  family: number,
  filter: NeighFilter,
  decode: (m: Message) => (T & { index: number }) | undefined,
): T[] {
  const index = filter.link === undefined ? 0 : linkIndex(nl, filter.link);
  const w = nl.message(RTM_GETNEIGH);
  if (family === AF_BRIDGE && index !== 0) {
    // As `bridge fdb show dev LINK`: an FDB dump request with an ifinfomsg header names the port, so the
    // kernel sends only that port's entries instead of every device's (decoding those cost more than the
    // rest of an idle router's fastdp round). The filter below stays for kernels that ignore it.
    const at = w.struct(IFINFOMSG_LEN);
    w.view.setUint8(at, family);
    w.view.setInt32(at + 4, index, true);
  } else {
    ndmsg(w, family, 0, 0, 0);
  }
  return nl.dump(`Cannot list ${family === AF_BRIDGE ? "FDB entries" : "neighbours"}`, (m) => {
    const e = decode(m);
    return e && (index === 0 || e.index === index) ? e : undefined;
  });
}

/**
 * Lists neighbour entries. Equivalent: `ip [-4|-6] neigh show [dev LINK]`.
 *
 * @throws {NetlinkError} `Unknown link 'x'` when the filter names a missing link
 */
export function neighList(nl: NetlinkSocket, filter: NeighFilter = {}): Neigh[] {
  return neighDump(nl, filter.family === undefined ? AF_UNSPEC : afOf(filter.family), filter, decodeNeigh);
}

function fdbRequest(nl: NetlinkSocket, type: number, flags: number, f: FdbSpec): void {
  const mac = parseMac(f.mac);
  const dst = f.dst === undefined ? undefined : parseIP(f.dst);
  if (f.state !== undefined && !(f.state in FDB_STATE)) {
    throw new Error(`Invalid FDB state '${f.state}': use permanent, static or dynamic`);
  }
  const index = linkIndex(nl, f.link);
  const w = nl.message(type, flags);
  ndmsg(w, AF_BRIDGE, index, FDB_STATE[f.state ?? "permanent"], f.master ? NTF.MASTER : NTF.SELF);
  w.bytes(NDA.LLADDR, mac);
  if (dst) w.bytes(NDA.DST, dst);
  if (f.vni !== undefined) w.u32(NDA.VNI, f.vni);
  if (f.port !== undefined) w.u16be(NDA.PORT, f.port);
}

function describeFdb(f: FdbSpec): string {
  return `FDB entry '${f.mac}'${f.dst ? ` dst '${f.dst}'` : ""} on link '${f.link}'`;
}

/**
 * Adds an FDB entry. Equivalent:
 * `bridge fdb add|append|replace MAC dev LINK [dst IP] [vni N] [port N] [self|master] [permanent|static|dynamic]`.
 *
 * @example
 * ```ts
 * fdbAdd(nl, { link: "vxlan-6784", mac: "00:00:00:00:00:00", dst: "198.18.0.2", append: true });
 * fdbAdd(nl, { link: "mnt-v0", mac: "02:00:00:00:00:01", master: true, state: "static" });
 * ```
 * @throws {Error} for a bad MAC, IP or state, before sending
 * @throws {Error} when both `append` and `replace` are given
 * @throws {NetlinkError} naming the entry: EEXIST when present (unless `append` or `replace`), ENODEV for an
 *   unknown link
 */
export function fdbAdd(nl: NetlinkSocket, f: FdbSpec): void {
  if (f.append && f.replace) {
    throw new Error(`Cannot add ${describeFdb(f)}: append and replace exclude each other; use one`);
  }
  const mode = f.append ? NLM_F_APPEND : f.replace ? NLM_F_REPLACE : NLM_F_EXCL;
  fdbRequest(nl, RTM_NEWNEIGH, NLM_F_CREATE | mode, f);
  nl.ack(`Cannot add ${describeFdb(f)}`, undefined, {
    17: "it exists; delete it first, use replace to overwrite it, or append for another destination",
  });
}

/**
 * Deletes an FDB entry (with `dst`, only that destination of a flood list). Equivalent:
 * `bridge fdb del MAC dev LINK [dst IP] [self|master]`.
 *
 * @throws {NetlinkError} naming the entry: ENOENT when there is none
 */
export function fdbDel(nl: NetlinkSocket, f: Omit<FdbSpec, "append" | "replace" | "state">): void {
  fdbRequest(nl, RTM_DELNEIGH, 0, f);
  nl.ack(`Cannot delete ${describeFdb(f)}`, undefined, {
    2: "no such entry; list them with 'bridge fdb show'",
  });
}

/**
 * Decodes an RTM_NEWNEIGH message of family AF_BRIDGE.
 *
 * @throws {NetlinkDecodeError} when the message is malformed
 */
export function decodeFdb(m: Message): FdbEntry | undefined {
  if (m.type !== RTM_NEWNEIGH) return undefined;
  const v = requireStruct(m.payload, NDMSG_LEN, "RTM_NEWNEIGH");
  if (v.getUint8(0) !== AF_BRIDGE) return undefined;
  const attrs = parseAttrs(m.payload, NDMSG_LEN);
  const mac = attrs.get(NDA.LLADDR);
  if (!mac) return undefined;
  const state = v.getUint16(8, true);
  const e: FdbEntry = {
    index: v.getInt32(4, true),
    mac: formatMac(mac),
    self: (v.getUint8(10) & NTF.SELF) !== 0,
    state: state & NUD.permanent
      ? "permanent"
      : state & NUD.noarp
      ? "static"
      : state & NUD.stale
      ? "stale"
      : "dynamic",
  };
  const dst = attrs.get(NDA.DST);
  if (dst && (dst.length === 4 || dst.length === 16)) e.dst = formatIP(dst.slice());
  const master = attrU32(attrs, NDA.MASTER);
  if (master) e.master = master;
  const vlan = attrU16(attrs, NDA.VLAN);
  if (vlan !== undefined) e.vlan = vlan;
  const vni = attrU32(attrs, NDA.VNI);
  if (vni !== undefined) e.vni = vni;
  const port = attrU16be(attrs, NDA.PORT);
  if (port !== undefined) e.port = port;
  return e;
}

/**
 * Lists FDB entries of every bridge port and VXLAN device. Equivalent: `bridge fdb show [dev LINK]`.
 *
 * @throws {NetlinkError} `Unknown link 'x'` when the filter names a missing link
 */
export function fdbList(nl: NetlinkSocket, filter: Omit<NeighFilter, "family"> = {}): FdbEntry[] {
  return neighDump(nl, AF_BRIDGE, filter, decodeFdb);
}
