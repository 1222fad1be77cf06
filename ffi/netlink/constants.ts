/**
 * rtnetlink numbers from the Linux uapi headers (<linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>,
 * <linux/if_addr.h>, <linux/neighbour.h>, <linux/if_bridge.h>), then the tuning values this layer picks.
 *
 * @module
 */

// ---- Spec values: sockets ----

/** `AF_NETLINK` / `PF_NETLINK`. */
export const AF_NETLINK = 16;
/** `NETLINK_ROUTE`: the rtnetlink protocol of a netlink socket. */
export const NETLINK_ROUTE = 0;
/** `NETLINK_NETFILTER`: the nfnetlink protocol (nf_tables among its subsystems). */
export const NETLINK_NETFILTER = 12;
/** `SOCK_RAW`. */
export const SOCK_RAW = 3;
export { SOCK_CLOEXEC, SOL_SOCKET } from "../libc.ts";
/** `SO_RCVTIMEO` (x86_64, struct timeval). */
export const SO_RCVTIMEO = 20;
/** `SOL_NETLINK`. */
export const SOL_NETLINK = 270;
/** `NETLINK_CAP_ACK`: error replies do not echo the request payload. */
export const NETLINK_CAP_ACK = 10;
/** `NETLINK_EXT_ACK`: error replies carry the kernel's message text. */
export const NETLINK_EXT_ACK = 11;

// ---- Spec values: address families ----

/** `AF_UNSPEC`. */
export const AF_UNSPEC = 0;
/** `AF_INET`. */
export const AF_INET = 2;
/** `AF_BRIDGE` (`PF_BRIDGE`): bridge port and FDB requests. */
export const AF_BRIDGE = 7;
/** `AF_INET6`. */
export const AF_INET6 = 10;

// ---- Spec values: nlmsghdr ----

/** Size of `struct nlmsghdr` in bytes. */
export const NLMSG_HDRLEN = 16;
/** Size of `struct rtattr` / `struct nlattr` header in bytes. */
export const RTA_HDRLEN = 4;
/** Message type: nothing. */
export const NLMSG_NOOP = 1;
/** Message type: error or acknowledgement (`struct nlmsgerr`). */
export const NLMSG_ERROR = 2;
/** Message type: end of a multipart dump. */
export const NLMSG_DONE = 3;
/** Message type: data lost. */
export const NLMSG_OVERRUN = 4;

/** Flag: this is a request. */
export const NLM_F_REQUEST = 0x1;
/** Flag: part of a multipart reply ending with NLMSG_DONE. */
export const NLM_F_MULTI = 0x2;
/** Flag: reply with an acknowledgement. */
export const NLM_F_ACK = 0x4;
/** Flag: echo the resulting object back to the requester. */
export const NLM_F_ECHO = 0x8;
/** Flag: the dump was interrupted by a change and may be inconsistent. */
export const NLM_F_DUMP_INTR = 0x10;
/** GET flag: return the whole table (`NLM_F_ROOT | NLM_F_MATCH`). */
export const NLM_F_DUMP = 0x300;
/** NEW flag: replace an existing object. */
export const NLM_F_REPLACE = 0x100;
/** NEW flag: fail with EEXIST when the object exists. */
export const NLM_F_EXCL = 0x200;
/** NEW flag: create the object when it does not exist. */
export const NLM_F_CREATE = 0x400;
/** NEW flag: add to the end of the list (FDB: several entries for one MAC). */
export const NLM_F_APPEND = 0x800;
/** NLMSG_ERROR flag: extended-ack TLVs follow the echoed header. */
export const NLM_F_ACK_TLVS = 0x200;
/** NLMSG_ERROR flag: the echoed request was capped to its header. */
export const NLM_F_CAPPED = 0x100;
/** Extended-ack TLV: the kernel's error text. */
export const NLMSGERR_ATTR_MSG = 1;

/** rtattr type bit: the attribute holds nested attributes. */
export const NLA_F_NESTED = 0x8000;
/** rtattr type mask that removes the NESTED and NET_BYTEORDER bits. */
export const NLA_TYPE_MASK = 0x3fff;

// ---- Spec values: rtnetlink message types ----

/** Create or change a link. */
export const RTM_NEWLINK = 16;
/** Delete a link. */
export const RTM_DELLINK = 17;
/** Get or dump links. */
export const RTM_GETLINK = 18;
/** Change a link (AF_BRIDGE: bridge port flags). */
export const RTM_SETLINK = 19;
/** Add an address. */
export const RTM_NEWADDR = 20;
/** Delete an address. */
export const RTM_DELADDR = 21;
/** Dump addresses. */
export const RTM_GETADDR = 22;
/** Add a route. */
export const RTM_NEWROUTE = 24;
/** Delete a route. */
export const RTM_DELROUTE = 25;
/** Dump routes. */
export const RTM_GETROUTE = 26;
/** Add a neighbour or FDB entry. */
export const RTM_NEWNEIGH = 28;
/** Delete a neighbour or FDB entry. */
export const RTM_DELNEIGH = 29;
/** Dump neighbours or FDB entries. */
export const RTM_GETNEIGH = 30;

// ---- Spec values: struct sizes ----

/** Size of `struct ifinfomsg`. */
export const IFINFOMSG_LEN = 16;
/** Size of `struct ifaddrmsg`. */
export const IFADDRMSG_LEN = 8;
/** Size of `struct rtmsg`. */
export const RTMSG_LEN = 12;
/** Size of `struct ndmsg`. */
export const NDMSG_LEN = 12;

// ---- Spec values: links ----

/** Interface flag: administratively up. */
export const IFF_UP = 0x1;
/** Interface flag: carrier present (operational). */
export const IFF_LOWER_UP = 0x10000;
/** IFLA_EXT_MASK bit `RTEXT_FILTER_SKIP_STATS`: leave counters out of link replies. */
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;
/** Longest interface name in bytes (IFNAMSIZ − 1). */
export const IFNAMSIZ_MAX = 15;

/** IFLA_* attributes of RTM_*LINK. */
export const IFLA = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  PROTINFO: 12,
  TXQLEN: 13,
  OPERSTATE: 16,
  LINKINFO: 18,
  NET_NS_PID: 19,
  NET_NS_FD: 28,
  EXT_MASK: 29,
  LINK_NETNSID: 37,
} as const;

/** IFLA_INFO_* attributes nested in IFLA_LINKINFO. */
export const IFLA_INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4, SLAVE_DATA: 5 } as const;

/** `VETH_INFO_PEER`: the peer's ifinfomsg and attributes inside IFLA_INFO_DATA of a veth. */
export const VETH_INFO_PEER = 1;

/** IFLA_BRPORT_* attributes: bridge port settings (IFLA_PROTINFO of AF_BRIDGE, or IFLA_INFO_SLAVE_DATA). */
export const IFLA_BRPORT = { STATE: 1, MODE: 4, LEARNING: 8, UNICAST_FLOOD: 9, ISOLATED: 33 } as const;

/** IFLA_VXLAN_* attributes inside IFLA_INFO_DATA of a vxlan link. */
export const IFLA_VXLAN = {
  ID: 1,
  GROUP: 2,
  LINK: 3,
  LOCAL: 4,
  TTL: 5,
  LEARNING: 7,
  PORT: 15,
  GROUP6: 16,
  LOCAL6: 17,
} as const;

// ---- Spec values: addresses ----

/** IFA_* attributes of RTM_*ADDR. */
export const IFA = { ADDRESS: 1, LOCAL: 2, LABEL: 3, BROADCAST: 4, FLAGS: 8 } as const;
/** `IFA_F_NODAD` (linux/if_addr.h): add an IPv6 address without duplicate address detection. */
export const IFA_F_NODAD = 0x02;

// ---- Spec values: routes ----

/** RTA_* attributes of RTM_*ROUTE. */
export const RTA = { DST: 1, SRC: 2, OIF: 4, GATEWAY: 5, PRIORITY: 6, PREFSRC: 7, TABLE: 15 } as const;
/** Routing table ids. */
export const RT_TABLE = { UNSPEC: 0, MAIN: 254, LOCAL: 255 } as const;
/** Route origin (`rtm_protocol`). */
export const RTPROT = { UNSPEC: 0, REDIRECT: 1, KERNEL: 2, BOOT: 3, STATIC: 4, RA: 9 } as const;
/** Route types (`rtm_type`). */
export const RTN = {
  UNSPEC: 0,
  UNICAST: 1,
  LOCAL: 2,
  BROADCAST: 3,
  ANYCAST: 4,
  MULTICAST: 5,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
} as const;
/** Route and address scopes, by their iproute2 names. */
export const RT_SCOPE = { global: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const;

// ---- Spec values: neighbours and FDB ----

/** NDA_* attributes of RTM_*NEIGH. */
export const NDA = { DST: 1, LLADDR: 2, VLAN: 5, PORT: 6, VNI: 7, IFINDEX: 8, MASTER: 9 } as const;
/** Neighbour states (`ndm_state`), by their iproute2 names. */
export const NUD = {
  incomplete: 0x01,
  reachable: 0x02,
  stale: 0x04,
  delay: 0x08,
  probe: 0x10,
  failed: 0x20,
  noarp: 0x40,
  permanent: 0x80,
} as const;
/** Neighbour flags (`ndm_flags`). */
export const NTF = { USE: 0x01, SELF: 0x02, MASTER: 0x04, PROXY: 0x08, EXT_LEARNED: 0x10 } as const;

// ---- Tuning values ----

/** Receive buffer size: large enough for any one rtnetlink datagram of a dump (the kernel caps them at 32 KiB). */
export const RECV_BUFFER_BYTES = 64 * 1024;
/** Initial request buffer size; it grows when a message needs more. */
export const SEND_BUFFER_BYTES = 4096;
/** How long a request waits for the kernel's reply before failing, in seconds. */
export const REPLY_TIMEOUT_SECONDS = 5;

// ---- Spec values: nf_tables over nfnetlink (<linux/netfilter/nfnetlink.h>, <linux/netfilter/nf_tables.h>) ----

/** Size of `struct nfgenmsg`: family, version, resource id (big-endian). */
export const NFGENMSG_LEN = 4;
/** `NFNL_SUBSYS_NFTABLES`: the high byte of an nf_tables message type. */
export const NFNL_SUBSYS_NFTABLES = 10;
/** `NFT_MSG_GETTABLE`: the low byte of a request for one table. */
export const NFT_MSG_GETTABLE = 1;
/** `NFTA_TABLE_NAME`: the table name attribute. */
export const NFTA_TABLE_NAME = 1;
/** nftables families as `nft` names them, to their `NFPROTO_*` numbers. */
export const NFPROTO = { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 } as const;
