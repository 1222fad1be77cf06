/**
 * Links, named after `ip link`: add (bridge, veth, vxlan), delete, get, list and set (up/down, MTU,
 * master, rename, MAC, move to another namespace), plus bridge-port flags as `bridge link set` does.
 * Every change is one netlink request, so the kernel applies it whole or not at all: a veth whose peer
 * cannot be made, or a link whose master is refused, is never left behind.
 *
 * @module
 */
import { closeFd, openNetns } from "../netns.ts";
import { formatIP, parseIP } from "../../base/ip.ts";
import {
  attrNested,
  attrStr,
  attrU16be,
  attrU32,
  attrU8,
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
  IFF_LOWER_UP,
  IFF_UP,
  IFINFOMSG_LEN,
  IFLA,
  IFLA_BRPORT,
  IFLA_INFO,
  IFLA_VXLAN,
  IFNAMSIZ_MAX,
  NLM_F_CREATE,
  NLM_F_ECHO,
  NLM_F_EXCL,
  RTEXT_FILTER_SKIP_STATS,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
  RTM_SETLINK,
  VETH_INFO_PEER,
} from "./constants.ts";
import { NetlinkError, NetlinkSocket } from "./socket.ts";

/** A link named by its name or its index. */
export type LinkRef = string | number;

/** A network namespace as a name in /run/netns, or an open namespace fd, or a process id. */
export type NetnsRef = string | { fd: number } | { pid: number };

/** Bridge-port flags of a link enslaved to a bridge (`bridge link`). */
export interface BridgePort {
  /** MAC learning on this port. */
  learning: boolean;
  /** Hairpin mode: frames may leave through the port they came in on. */
  hairpin: boolean;
  /** Isolated: never forwards to other isolated ports. */
  isolated: boolean;
}

/** VXLAN settings of a vxlan link. */
export interface VxlanInfo {
  /** VNI, 0–16777215. */
  id: number;
  /** Destination UDP port. */
  port: number;
  /** Local source address, when set. */
  local?: string;
  /** Index of the underlay link (`dev`), when set. */
  dev?: number;
  /** Learning of remote MACs from received frames. */
  learning: boolean;
  /** Outer TTL; 0 means inherit. */
  ttl: number;
}

/** A link as the kernel reports it. */
export interface Link {
  /** Interface index. */
  index: number;
  /** Interface name. */
  name: string;
  /** MTU in bytes. */
  mtu: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier present (IFF_LOWER_UP). */
  lowerUp: boolean;
  /** Raw interface flags (IFF_*). */
  flags: number;
  /** Hardware address, lower-case colon form; absent for links without one (e.g. lo has zeros). */
  mac?: string;
  /** Index of the master (bridge) link. */
  master?: number;
  /** Link kind ("bridge", "veth", "vxlan", "tun", …); absent for plain devices such as lo. */
  kind?: string;
  /** IFLA_LINK: the peer's index for veth (in `linkNetnsId`'s namespace when set), the underlay for others. */
  parent?: number;
  /** Namespace id of `parent` as seen from this namespace, when it lives in another. */
  linkNetnsId?: number;
  /** Bridge-port flags, when the link is a bridge port. */
  port?: BridgePort;
  /** VXLAN settings, when kind is "vxlan". */
  vxlan?: VxlanInfo;
}

/** Options common to every link kind in {@link linkAdd}. */
export interface LinkCommon {
  /** The new link's name, 1–15 bytes. */
  name: string;
  /** MTU in bytes. */
  mtu?: number;
  /** Bring the link up on creation. */
  up?: boolean;
  /** Enslave to this bridge on creation. */
  master?: LinkRef;
  /** Hardware address. */
  mac?: string;
}

/** The veth peer of {@link linkAdd}. */
export interface VethPeer {
  /** The peer's name, 1–15 bytes. */
  name: string;
  /** Create the peer in this namespace instead of the socket's. */
  netns?: NetnsRef;
  /** Bring the peer up on creation. */
  up?: boolean;
  /** The peer's MTU in bytes. */
  mtu?: number;
}

/** What {@link linkAdd} creates. */
export type LinkSpec =
  & LinkCommon
  & (
    | { kind: "bridge" }
    | { kind: "veth"; peer: VethPeer }
    | {
      kind: "vxlan";
      /** VNI, 0–16777215. */
      id: number;
      /** Destination UDP port; default 4789. */
      port?: number;
      /** Local source address. */
      local?: string;
      /** Underlay link. */
      dev?: LinkRef;
      /** Learn remote MACs; default true (as `ip`). */
      learning?: boolean;
      /** Outer TTL; 0 = inherit. */
      ttl?: number;
    }
  );

/** Changes for {@link linkSet}; each absent field is left as it is. */
export interface LinkChanges {
  /** Bring up (true) or down (false). */
  up?: boolean;
  /** New MTU in bytes. */
  mtu?: number;
  /** New name, 1–15 bytes. */
  name?: string;
  /** New master bridge, or null to leave the current one (`nomaster`). */
  master?: LinkRef | null;
  /** New hardware address. */
  mac?: string;
  /** Move the link to this namespace. */
  netns?: NetnsRef;
}

const encoder = new TextEncoder();

/**
 * Checks a link name before it is sent: 1–15 bytes, no '/', ':' or whitespace, not "." or "..".
 *
 * @throws {Error} `Invalid link name 'x': …`
 */
export function checkLinkName(name: string): void {
  const bytes = encoder.encode(name).length;
  if (bytes === 0 || bytes > IFNAMSIZ_MAX) {
    throw new Error(
      `Invalid link name '${name}': ${bytes} bytes, must be 1 to ${IFNAMSIZ_MAX}; use a shorter name`,
    );
  }
  if (/[\s/:]/.test(name) || name === "." || name === "..") {
    throw new Error(`Invalid link name '${name}': no '/', ':', spaces, '.' or '..'`);
  }
}

function where(nl: NetlinkSocket): string {
  return nl.netns === undefined ? "" : ` in netns '${nl.netns}'`;
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index <= 0 || index > 0x7fffffff) {
    throw new Error(`Invalid link index ${index}: must be a positive integer`);
  }
}

/** Appends a struct ifinfomsg with the given family, index, flags and change mask. */
function linkHeader(w: MessageWriter, family: number, index: number, flags = 0, change = 0): void {
  const at = w.struct(IFINFOMSG_LEN);
  w.view.setUint8(at, family);
  w.view.setInt32(at + 4, index, true);
  w.view.setUint32(at + 8, flags, true);
  w.view.setUint32(at + 12, change, true);
}

/** Starts a request of `type` on one link, naming it by ifi_index when numeric, else by IFLA_IFNAME. */
function linkRequest(nl: NetlinkSocket, type: number, ref: LinkRef): MessageWriter {
  const w = nl.message(type);
  if (typeof ref === "number") {
    checkIndex(ref);
    linkHeader(w, AF_UNSPEC, ref);
  } else {
    checkLinkName(ref);
    linkHeader(w, AF_UNSPEC, 0);
    w.str(IFLA.IFNAME, ref);
  }
  return w;
}

/**
 * Decodes an RTM_NEWLINK message into a {@link Link}.
 *
 * @throws {NetlinkDecodeError} when the message is malformed
 */
export function decodeLink(m: Message): Link | undefined {
  if (m.type !== RTM_NEWLINK) return undefined;
  const view = requireStruct(m.payload, IFINFOMSG_LEN, "RTM_NEWLINK");
  const attrs = parseAttrs(m.payload, IFINFOMSG_LEN);
  const flags = view.getUint32(8, true);
  const link: Link = {
    index: view.getInt32(4, true),
    name: attrStr(attrs, IFLA.IFNAME) ?? "",
    mtu: attrU32(attrs, IFLA.MTU) ?? 0,
    up: (flags & IFF_UP) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    flags,
  };
  const mac = attrs.get(IFLA.ADDRESS);
  if (mac && mac.length > 0) link.mac = formatMac(mac);
  const master = attrU32(attrs, IFLA.MASTER);
  if (master) link.master = master;
  const parent = attrU32(attrs, IFLA.LINK);
  if (parent) link.parent = parent;
  const nsid = attrU32(attrs, IFLA.LINK_NETNSID);
  if (nsid !== undefined) link.linkNetnsId = nsid;
  const info = attrNested(attrs, IFLA.LINKINFO);
  if (info) {
    link.kind = attrStr(info, IFLA_INFO.KIND);
    const data = attrNested(info, IFLA_INFO.DATA);
    if (link.kind === "vxlan" && data) link.vxlan = decodeVxlan(data);
    const slave = attrNested(info, IFLA_INFO.SLAVE_DATA);
    if (attrStr(info, IFLA_INFO.SLAVE_KIND) === "bridge" && slave) {
      link.port = {
        learning: attrU8(slave, IFLA_BRPORT.LEARNING) === 1,
        hairpin: attrU8(slave, IFLA_BRPORT.MODE) === 1,
        isolated: attrU8(slave, IFLA_BRPORT.ISOLATED) === 1,
      };
    }
  }
  return link;
}

function decodeVxlan(data: Map<number, Uint8Array>): VxlanInfo {
  const info: VxlanInfo = {
    id: attrU32(data, IFLA_VXLAN.ID) ?? 0,
    port: attrU16be(data, IFLA_VXLAN.PORT) ?? 0,
    learning: attrU8(data, IFLA_VXLAN.LEARNING) === 1,
    ttl: attrU8(data, IFLA_VXLAN.TTL) ?? 0,
  };
  const local = data.get(IFLA_VXLAN.LOCAL) ?? data.get(IFLA_VXLAN.LOCAL6);
  if (local && (local.length === 4 || local.length === 16)) info.local = formatIP(local.slice());
  const dev = attrU32(data, IFLA_VXLAN.LINK);
  if (dev) info.dev = dev;
  return info;
}

/**
 * Looks up one link by name or index. Equivalent: `ip link show dev NAME`.
 *
 * @throws {NetlinkError} `Unknown link 'x'` (ENODEV) when there is no such link in the socket's namespace
 * @throws {Error} when the name is invalid
 */
export function linkGet(nl: NetlinkSocket, ref: LinkRef): Link {
  const w = linkRequest(nl, RTM_GETLINK, ref);
  w.u32(IFLA.EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  let found: Link | undefined;
  nl.ack(`Unknown link '${ref}'${where(nl)}`, (m) => found = decodeLink(m) ?? found, {
    19: "list links with 'ip link show'",
  });
  if (!found) throw new NetlinkError(`Unknown link '${ref}'${where(nl)}`, 19);
  return found;
}

/**
 * The index of a link given by name or index (an index is returned as is, without a request).
 *
 * @throws {NetlinkError} `Unknown link 'x'` when the name does not exist
 */
export function linkIndex(nl: NetlinkSocket, ref: LinkRef): number {
  if (typeof ref === "number") {
    checkIndex(ref);
    return ref;
  }
  return linkGet(nl, ref).index;
}

/**
 * Lists every link of the socket's namespace. Equivalent: `ip link show`.
 *
 * @throws {NetlinkError} when the kernel refuses the dump
 */
export function linkList(nl: NetlinkSocket): Link[] {
  const w = nl.message(RTM_GETLINK);
  linkHeader(w, AF_UNSPEC, 0);
  w.u32(IFLA.EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return nl.dump(`Cannot list links${where(nl)}`, decodeLink);
}

/** Writes IFLA_NET_NS_FD or IFLA_NET_NS_PID for `ns`; returns an fd to close after sending, or -1. */
function writeNetns(w: MessageWriter, ns: NetnsRef): number {
  if (typeof ns === "object" && "pid" in ns) {
    w.u32(IFLA.NET_NS_PID, ns.pid);
    return -1;
  }
  const fd = typeof ns === "string" ? openNetns(ns) : ns.fd;
  w.u32(IFLA.NET_NS_FD, fd);
  return typeof ns === "string" ? fd : -1;
}

function netnsName(ns: NetnsRef): string {
  return typeof ns === "string" ? ns : "pid" in ns ? `pid ${ns.pid}` : `fd ${ns.fd}`;
}

/**
 * Creates a link and returns it as the kernel reports it. Equivalents:
 * `ip link add NAME [mtu N] [address MAC] [master BR] [up] type bridge`,
 * `ip link add NAME type veth peer name PEER [netns NS]` (then `ip [-n NS] link set PEER up` when `peer.up`:
 * the kernel cannot bring a peer up before both ends exist, so that is a second request, and when it fails
 * the new pair is deleted again),
 * `ip link add NAME type vxlan id VNI dstport PORT [local IP] [dev DEV] [nolearning] [ttl N]`.
 *
 * @example
 * ```ts
 * const br = linkAdd(nl, { kind: "bridge", name: "mnt-br0", up: true });
 * linkAdd(nl, { kind: "veth", name: "mnt-v0", master: br.index, up: true, peer: { name: "eth0", netns: "c1" } });
 * ```
 * @throws {Error} when a name, MAC or address is invalid (checked before sending)
 * @throws {NetlinkError} naming the link: EEXIST when it (or the peer) exists, ENODEV for an unknown master or dev
 * @throws {SyscallError} when the peer's namespace cannot be opened
 */
export function linkAdd(nl: NetlinkSocket, spec: LinkSpec): Link {
  checkLinkName(spec.name);
  if (spec.kind === "veth") checkLinkName(spec.peer.name);
  const mac = spec.mac === undefined ? undefined : parseMac(spec.mac);
  const master = spec.master === undefined ? undefined : linkIndex(nl, spec.master);
  const vxDev = spec.kind === "vxlan" && spec.dev !== undefined ? linkIndex(nl, spec.dev) : undefined;
  const vxLocal = spec.kind === "vxlan" && spec.local !== undefined ? parseIP(spec.local) : undefined;
  if (spec.kind === "vxlan" && !(Number.isInteger(spec.id) && spec.id >= 0 && spec.id < 1 << 24)) {
    throw new Error(`Invalid VXLAN id ${spec.id} for link '${spec.name}': must be 0 to 16777215`);
  }
  const w = nl.message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO);
  linkHeader(w, AF_UNSPEC, 0, spec.up ? IFF_UP : 0, spec.up ? IFF_UP : 0);
  w.str(IFLA.IFNAME, spec.name);
  if (spec.mtu !== undefined) w.u32(IFLA.MTU, spec.mtu);
  if (mac) w.bytes(IFLA.ADDRESS, mac);
  if (master !== undefined) w.u32(IFLA.MASTER, master);
  const info = w.nestPlain(IFLA.LINKINFO);
  w.str(IFLA_INFO.KIND, spec.kind);
  let peerFd = -1;
  if (spec.kind === "veth") {
    const data = w.nestPlain(IFLA_INFO.DATA);
    const peer = w.nestPlain(VETH_INFO_PEER);
    linkHeader(w, AF_UNSPEC, 0);
    w.str(IFLA.IFNAME, spec.peer.name);
    if (spec.peer.mtu !== undefined) w.u32(IFLA.MTU, spec.peer.mtu);
    if (spec.peer.netns !== undefined) peerFd = writeNetns(w, spec.peer.netns);
    w.end(peer).end(data);
  } else if (spec.kind === "vxlan") {
    const data = w.nestPlain(IFLA_INFO.DATA);
    w.u32(IFLA_VXLAN.ID, spec.id);
    w.u16be(IFLA_VXLAN.PORT, spec.port ?? 4789);
    if (vxLocal) w.bytes(vxLocal.length === 4 ? IFLA_VXLAN.LOCAL : IFLA_VXLAN.LOCAL6, vxLocal);
    if (vxDev !== undefined) w.u32(IFLA_VXLAN.LINK, vxDev);
    w.u8(IFLA_VXLAN.LEARNING, spec.learning === false ? 0 : 1);
    if (spec.ttl !== undefined) w.u8(IFLA_VXLAN.TTL, spec.ttl);
    w.end(data);
  }
  w.end(info);
  const peerText = spec.kind === "veth"
    ? ` with peer '${spec.peer.name}'${
      spec.peer.netns === undefined ? "" : ` in netns '${netnsName(spec.peer.netns)}'`
    }`
    : "";
  let made: Link | undefined;
  try {
    nl.ack(`Cannot add ${spec.kind} link '${spec.name}'${peerText}${where(nl)}`, (m) => {
      const l = decodeLink(m);
      if (l?.name === spec.name) made = l;
    }, { 19: "the master or underlay link does not exist; check it with 'ip link show'" });
  } finally {
    if (peerFd >= 0) closeFd(peerFd);
  }
  // The kernel echoes the link before it sets the master, so a link with a master is read back.
  if (made === undefined || master !== undefined) made = linkGet(nl, spec.name);
  if (spec.kind === "veth" && spec.peer.up) {
    try {
      setPeerUp(nl, spec.peer);
    } catch (e) {
      linkDel(nl, made.index);
      throw e;
    }
  }
  return made;
}

/** Brings a new veth peer up, through a socket in the peer's namespace when it is another one. */
function setPeerUp(nl: NetlinkSocket, peer: VethPeer): void {
  if (peer.netns === undefined) return linkSet(nl, peer.name, { up: true });
  const ns = peer.netns;
  const other = NetlinkSocket.open({
    netns: typeof ns === "string" ? ns : "pid" in ns ? ns.pid : `/proc/self/fd/${ns.fd}`,
  });
  try {
    linkSet(other, peer.name, { up: true });
  } finally {
    other.close();
  }
}

/**
 * Deletes a link (a veth's peer goes with it). Equivalent: `ip link del dev NAME`.
 *
 * @throws {NetlinkError} `Cannot delete link 'x'` with ENODEV when it does not exist
 */
export function linkDel(nl: NetlinkSocket, ref: LinkRef): void {
  linkRequest(nl, RTM_DELLINK, ref);
  nl.ack(`Cannot delete link '${ref}'${where(nl)}`);
}

/**
 * Changes a link in one request. Equivalents: `ip link set dev NAME up|down`, `mtu N`, `name NEW`,
 * `master BR` / `nomaster`, `address MAC`, `netns NS|PID`.
 *
 * @example
 * ```ts
 * linkSet(nl, "mnt-v0", { up: true, mtu: 1376, master: "mnt-br0" });
 * linkSet(nl, "mnt-v1", { netns: { pid: 1234 } });
 * ```
 * @throws {Error} when a new name or MAC is invalid
 * @throws {NetlinkError} naming the link: ENODEV when unknown, EEXIST when the new name is taken,
 *   EBUSY when renaming a link that is up
 */
export function linkSet(nl: NetlinkSocket, ref: LinkRef, changes: LinkChanges): void {
  if (changes.name !== undefined) checkLinkName(changes.name);
  const mac = changes.mac === undefined ? undefined : parseMac(changes.mac);
  const index = typeof ref === "number" || changes.name !== undefined ? linkIndex(nl, ref) : 0;
  if (index === 0) checkLinkName(ref as string);
  const master = changes.master === undefined || changes.master === null
    ? changes.master
    : linkIndex(nl, changes.master);
  const w = nl.message(RTM_NEWLINK);
  const up = changes.up === undefined ? 0 : IFF_UP;
  linkHeader(w, AF_UNSPEC, index, changes.up ? IFF_UP : 0, up);
  if (index === 0) w.str(IFLA.IFNAME, ref as string);
  else if (changes.name !== undefined) w.str(IFLA.IFNAME, changes.name);
  if (changes.mtu !== undefined) w.u32(IFLA.MTU, changes.mtu);
  if (mac) w.bytes(IFLA.ADDRESS, mac);
  if (master !== undefined) w.u32(IFLA.MASTER, master ?? 0);
  const fd = changes.netns === undefined ? -1 : writeNetns(w, changes.netns);
  const what = Object.entries(changes).map(([k, v]) => `${k} ${v === null ? "none" : JSON.stringify(v)}`)
    .join(", ");
  try {
    nl.ack(`Cannot set ${what} on link '${ref}'${where(nl)}`, undefined, {
      16: "bring the link down first (a link that is up cannot be renamed)",
    });
  } finally {
    if (fd >= 0) closeFd(fd);
  }
}

/**
 * Sets bridge-port flags of a link enslaved to a bridge. Equivalent:
 * `bridge link set dev NAME learning on|off hairpin on|off isolated on|off`.
 *
 * @throws {NetlinkError} naming the link: ENODEV when unknown, EOPNOTSUPP/EINVAL when it is not a bridge port
 */
export function linkSetBridgePort(nl: NetlinkSocket, ref: LinkRef, flags: Partial<BridgePort>): void {
  const index = linkIndex(nl, ref);
  const w = nl.message(RTM_SETLINK);
  linkHeader(w, AF_BRIDGE, index);
  const prot = w.nest(IFLA.PROTINFO);
  if (flags.learning !== undefined) w.u8(IFLA_BRPORT.LEARNING, flags.learning ? 1 : 0);
  if (flags.hairpin !== undefined) w.u8(IFLA_BRPORT.MODE, flags.hairpin ? 1 : 0);
  if (flags.isolated !== undefined) w.u8(IFLA_BRPORT.ISOLATED, flags.isolated ? 1 : 0);
  w.end(prot);
  nl.ack(`Cannot set bridge port flags ${JSON.stringify(flags)} on link '${ref}'${where(nl)}`, undefined, {
    22: "enslave it to a bridge first (linkSet master)",
    95: "enslave it to a bridge first (linkSet master)",
  });
}
