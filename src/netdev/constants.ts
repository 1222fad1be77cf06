/**
 * Constants of the host bridge and container attachment: the names the reference uses, and the
 * kernel settings applied to a container's interface.
 *
 * @module
 */

// ---- Names, as in the reference (weave.md §0) --------------------------------------------------

/** The default host bridge every container interface is plugged into. */
export const DEFAULT_BRIDGE = "weave";

/** The default name of the interface inside a container. */
export const CONTAINER_IFNAME = "ethwe";

/** Host ends of container veths are this prefix plus {@link HOST_VETH_HASH_CHARS} hex digits of a hash. */
export const HOST_VETH_PREFIX = "vethwe";

/** Hex digits of the container-id hash in a host veth name: 6 + 9 = 15 bytes, the kernel's limit. */
export const HOST_VETH_HASH_CHARS = 9;

/** The multicast route added in every container (`224.0.0.0/4 dev ethwe`), as the reference does. */
export const MULTICAST_ROUTE = "224.0.0.0/4";

// ---- Tuning: sysctls of the container interface --------------------------------------------------

/**
 * Sysctls written under /proc/sys/net inside the container for its interface (`{if}` is replaced).
 *
 * - `accept_dad=0`: IPAM hands out unique addresses, and duplicate address detection would keep a new
 *   IPv6 address "tentative" (unusable) for about a second after attach.
 * - `arp_ignore=1`, `arp_announce=2`: a container with another interface (eth0 of its runtime) answers
 *   ARP on ethwe only for ethwe's own addresses and uses an ethwe address as the ARP source, so the two
 *   networks never learn each other's addresses ("ARP flux").
 * - `arp_notify=1`: a gratuitous ARP when ethwe comes up, so peers that cached a reused address's old
 *   MAC update at once.
 * - neighbour timers as the reference's ConfigureARPCache: entries are re-validated after about 5 s
 *   and a single unicast probe is tried, so a moved or re-attached address heals in seconds.
 */
export const CONTAINER_SYSCTLS: readonly { key: string; value: string; ipv6: boolean }[] = [
  { key: "ipv6/conf/{if}/accept_dad", value: "0", ipv6: true },
  { key: "ipv4/conf/{if}/arp_ignore", value: "1", ipv6: false },
  { key: "ipv4/conf/{if}/arp_announce", value: "2", ipv6: false },
  { key: "ipv4/conf/{if}/arp_notify", value: "1", ipv6: false },
  { key: "ipv4/neigh/{if}/base_reachable_time_ms", value: "5000", ipv6: false },
  { key: "ipv4/neigh/{if}/delay_first_probe_time", value: "2", ipv6: false },
  { key: "ipv4/neigh/{if}/ucast_solicit", value: "1", ipv6: false },
  { key: "ipv6/neigh/{if}/base_reachable_time_ms", value: "5000", ipv6: true },
  { key: "ipv6/neigh/{if}/delay_first_probe_time", value: "2", ipv6: true },
  { key: "ipv6/neigh/{if}/ucast_solicit", value: "1", ipv6: true },
];

/**
 * Sysctls for the host end of a container veth: a bridge port carries frames and has no addresses of
 * its own, so IPv6 (link-local address, router solicitations, MLD reports) is switched off on it.
 */
export const HOST_VETH_SYSCTLS: readonly { key: string; value: string; ipv6: boolean }[] = [
  { key: "ipv6/conf/{if}/disable_ipv6", value: "1", ipv6: true },
];

// ---- Routing: the gateway, host routes, forwarding and NAT ----------------------------------------

/**
 * The gateway and DNS address of every host, the same on each (as the reference's 172.17.0.1 for DNS): a
 * link-local /32 on the bridge, never sent across the overlay because containers reach it through a
 * permanent neighbour entry naming their own host's bridge MAC, so nobody ever asks for it by ARP.
 */
export const GATEWAY_ADDRESS = "169.254.32.1";

/**
 * The IPv6 gateway of every host, the same on each: {@link GATEWAY_ADDRESS} written into a link-local address
 * (169.254 = a9fe, 32.1 = 2001), a /128 on the bridge added without duplicate address detection (every host
 * has it, and the bridges share one Ethernet), reached, like the IPv4 one, through a permanent neighbour entry.
 * Added only once a container has an IPv6 address.
 */
export const GATEWAY_ADDRESS6 = "fe80::a9fe:2001";

/**
 * How often a router checks that the gateway addresses, its nftables table and the forwarding sysctls are
 * still in place, and puts back what someone else removed (a firewall reload deletes every table).
 */
export const ROUTING_CHECK_MS = 10_000;

/** Metric of the host routes that send containers' subnets into the bridge: below the kernel's own (0). */
export const SUBNET_ROUTE_METRIC = 1000;

/** The nftables table meshnet owns in the host's namespace (family and name); `reset` deletes it. */
export const NFT_FAMILY = "inet";
/** Name of {@link NFT_FAMILY}'s table. */
export const NFT_TABLE = "meshnet";

/** The kernel module that passes bridged IPv4 through netfilter (kube-proxy's Services need it). */
export const BR_NETFILTER_MODULE = "br_netfilter";

/**
 * Sysctls of the host's namespace that forwarding and Services need: IPv4 forwarding, and bridged IPv4
 * passing the host's netfilter hooks (so a Service's DNAT is undone on replies that cross the bridge).
 * meshnet records each one's value before it changed it and `reset` restores only those.
 */
export const FORWARDING_SYSCTLS: readonly { key: string; value: string }[] = [
  { key: "ipv4/ip_forward", value: "1" },
  { key: "bridge/bridge-nf-call-iptables", value: "1" },
];

/**
 * The IPv6 twins of {@link FORWARDING_SYSCTLS}, set only once a container has an IPv6 address, and recorded and
 * restored the same way. IPv6 forwarding makes the kernel ignore router advertisements on every interface
 * whose `accept_ra` is 1, so it is left off while a route learned from one depends on that (see
 * host_routing.ts).
 */
export const IPV6_FORWARDING_SYSCTLS: readonly { key: string; value: string }[] = [
  { key: "ipv6/conf/all/forwarding", value: "1" },
  { key: "bridge/bridge-nf-call-ip6tables", value: "1" },
];
