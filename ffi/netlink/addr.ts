/**
 * Interface addresses, named after `ip addr`: add, delete and list, IPv4 and IPv6.
 *
 * @module
 */
import { type Family, formatIP, parseCIDR } from "../../base/ip.ts";
import { attrStr, attrU32, type Message, type MessageWriter, parseAttrs, requireStruct } from "./codec.ts";
import {
  AF_UNSPEC,
  IFA,
  IFA_F_NODAD,
  IFADDRMSG_LEN,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
} from "./constants.ts";
import { linkIndex, type LinkRef } from "./link.ts";
import { afOf, familyOf, type Scope, scopeName, scopeNumber } from "./scope.ts";
import type { NetlinkSocket } from "./socket.ts";

/** An address as the kernel reports it. */
export interface Addr {
  /** Index of the link that holds it. */
  index: number;
  /** 4 or 6. */
  family: Family;
  /** The address, e.g. "198.18.0.1" or "fd00::1". */
  address: string;
  /** Prefix length in bits. */
  prefix: number;
  /** Scope name: "global", "link", "host", … or the number as text. */
  scope: string;
  /** IPv4 label (usually the link name). */
  label?: string;
  /** IFA_F_* flags. */
  flags: number;
}

/** Options of {@link addrAdd}. */
export interface AddrOptions {
  /** Scope; default "global". */
  scope?: Scope;
  /** IPv6: usable at once, without duplicate address detection (`ip addr add … nodad`). */
  nodad?: boolean;
}

function addrRequest(w: MessageWriter, cidr: string, index: number, scope: number, flags = 0): void {
  const c = parseCIDR(cidr);
  const at = w.struct(IFADDRMSG_LEN);
  w.view.setUint8(at, afOf(c.family));
  w.view.setUint8(at + 1, c.prefix);
  w.view.setUint8(at + 2, flags);
  w.view.setUint8(at + 3, scope);
  w.view.setUint32(at + 4, index, true);
  w.bytes(IFA.LOCAL, c.address);
  w.bytes(IFA.ADDRESS, c.address);
}

/**
 * Adds an address to a link. Equivalent: `ip addr add CIDR dev LINK [scope SCOPE] [nodad]`.
 *
 * @param cidr "ADDRESS/PREFIX", IPv4 or IPv6
 * @throws {Error} `Invalid CIDR 'x': …` before sending
 * @throws {NetlinkError} naming the address and link: EEXIST when present, ENODEV for an unknown link
 */
export function addrAdd(nl: NetlinkSocket, link: LinkRef, cidr: string, options: AddrOptions = {}): void {
  parseCIDR(cidr);
  const index = linkIndex(nl, link);
  addrRequest(
    nl.message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL),
    cidr,
    index,
    scopeNumber(options.scope ?? 0),
    options.nodad ? IFA_F_NODAD : 0,
  );
  nl.ack(`Cannot add address '${cidr}' to link '${link}'`, undefined, {
    17: "the link already has it; delete it first",
  });
}

/**
 * Removes an address from a link. Equivalent: `ip addr del CIDR dev LINK`.
 *
 * @throws {Error} `Invalid CIDR 'x': …` before sending
 * @throws {NetlinkError} naming the address and link: EADDRNOTAVAIL when the link does not have it
 */
export function addrDel(nl: NetlinkSocket, link: LinkRef, cidr: string): void {
  parseCIDR(cidr);
  const index = linkIndex(nl, link);
  addrRequest(nl.message(RTM_DELADDR), cidr, index, 0);
  nl.ack(`Cannot delete address '${cidr}' from link '${link}'`, undefined, {
    99: "the link does not have it; list addresses with 'ip addr show'",
  });
}

/**
 * Decodes an RTM_NEWADDR message.
 *
 * @throws {NetlinkDecodeError} when the message is malformed
 */
export function decodeAddr(m: Message): Addr | undefined {
  if (m.type !== RTM_NEWADDR) return undefined;
  const view = requireStruct(m.payload, IFADDRMSG_LEN, "RTM_NEWADDR");
  const family = familyOf(view.getUint8(0));
  if (family === undefined) return undefined;
  const attrs = parseAttrs(m.payload, IFADDRMSG_LEN);
  const bytes = attrs.get(IFA.LOCAL) ?? attrs.get(IFA.ADDRESS);
  if (!bytes || bytes.length !== (family === 4 ? 4 : 16)) return undefined;
  const a: Addr = {
    index: view.getUint32(4, true),
    family,
    address: formatIP(bytes.slice()),
    prefix: view.getUint8(1),
    scope: scopeName(view.getUint8(3)),
    flags: attrU32(attrs, IFA.FLAGS) ?? view.getUint8(2),
  };
  const label = attrStr(attrs, IFA.LABEL);
  if (label !== undefined) a.label = label;
  return a;
}

/** Filters of {@link addrList}. */
export interface AddrFilter {
  /** Only this link's addresses. */
  link?: LinkRef;
  /** Only IPv4 or only IPv6. */
  family?: Family;
}

/**
 * Lists addresses. Equivalent: `ip [-4|-6] addr show [dev LINK]`.
 *
 * @throws {NetlinkError} `Unknown link 'x'` when the filter names a missing link
 */
export function addrList(nl: NetlinkSocket, filter: AddrFilter = {}): Addr[] {
  const index = filter.link === undefined ? 0 : linkIndex(nl, filter.link);
  const w = nl.message(RTM_GETADDR);
  const at = w.struct(IFADDRMSG_LEN);
  w.view.setUint8(at, filter.family === undefined ? AF_UNSPEC : afOf(filter.family));
  return nl.dump("Cannot list addresses", (m) => {
    const a = decodeAddr(m);
    return a && (index === 0 || a.index === index) ? a : undefined;
  });
}
