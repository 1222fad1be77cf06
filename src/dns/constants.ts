/**
 * Constants of meshnet's DNS: spec values from RFC 1035, 3596, 6891 (the wire format every resolver speaks)
 * apart from tuning values (local choices that may change between releases).
 *
 * @module
 */

// ---- Spec: the DNS wire format ----

/** The DNS port, UDP and TCP. */
export const DNS_PORT = 53;

/** Size of the fixed message header in bytes. */
export const HEADER_SIZE = 12;

/** Longest label in bytes (RFC 1035 §2.3.4). */
export const MAX_LABEL_LENGTH = 63;

/** Longest name in wire bytes, length octets and the root included (RFC 1035 §2.3.4). */
export const MAX_NAME_LENGTH = 255;

/** Largest UDP message without EDNS0 (RFC 1035 §4.2.1). */
export const UDP_PLAIN_MAX = 512;

/** Largest message over TCP: the 2-byte length prefix bounds it. */
export const TCP_MAX = 65535;

/** The two top bits of a length octet that mark a compression pointer. */
export const POINTER_MARK = 0xc0;

/** Resource record types used here. */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  ANY: 255,
} as const;

/** Record classes used here. */
export const RRClass = {
  IN: 1,
  ANY: 255,
} as const;

/** Response codes; BADVERS is an extended code (upper 8 bits travel in the OPT record). */
export const Rcode = {
  noError: 0,
  formErr: 1,
  servFail: 2,
  nxDomain: 3,
  notImp: 4,
  refused: 5,
  badVers: 16,
} as const;

/** The standard query opcode. */
export const OPCODE_QUERY = 0;

/** Header flag bits (the 16-bit word after the id). */
export const Flag = {
  /** Response. */
  qr: 0x8000,
  /** Authoritative answer. */
  aa: 0x0400,
  /** Truncated. */
  tc: 0x0200,
  /** Recursion desired. */
  rd: 0x0100,
  /** Recursion available. */
  ra: 0x0080,
  /** Checking disabled (DNSSEC). */
  cd: 0x0010,
} as const;

/** Suffix of IPv4 reverse names (RFC 1035 §3.5). */
export const REVERSE_V4_SUFFIX = "in-addr.arpa.";

/** Suffix of IPv6 reverse names (RFC 3596 §2.5). */
export const REVERSE_V6_SUFFIX = "ip6.arpa.";

// ---- Tuning: local choices ----

/** The domain served from the name table (--dns-domain). */
export const DEFAULT_DOMAIN = "weave.local.";

/** TTL of answers from the name table in seconds (--dns-ttl); short, so removed containers vanish fast. */
export const DEFAULT_TTL = 1;

/** Label prepended to the domain to name this server in the domain's SOA and NS records ("ns.weave.local."). */
export const NS_LABEL = "ns";

/** Label prepended to the domain for the SOA's responsible mailbox ("hostmaster.weave.local."). */
export const HOSTMASTER_LABEL = "hostmaster";

/**
 * SOA serial, refresh, retry and expire of the served domain: nothing transfers this zone (every router
 * serves it from the gossiped table), so they are fixed conventional values; MINIMUM is the answer TTL.
 */
export const SOA_TIMERS = { serial: 1, refresh: 3600, retry: 600, expire: 86400 } as const;

/** How long a tombstone stays in the name table before it is purged, in milliseconds (30 min, as the reference). */
export const TOMBSTONE_GRACE_MS = 30 * 60 * 1000;

/**
 * How long the forwarder waits for each upstream resolver, in milliseconds: well under a client's own
 * timeout (5 s in glibc and dig), so with up to three resolv.conf servers a dead one still leaves time for
 * the next before the client gives up.
 */
export const UPSTREAM_TIMEOUT_MS = 1000;

/**
 * How long an upstream that failed (timed out, refused) is tried last, after the others, in milliseconds, so
 * a run of forwards does not each pay its timeout before reaching a live one. It is still tried when the
 * others fail, and a success makes it first again.
 */
export const UPSTREAM_DEAD_MS = 5000;

/** Most answers in the forwarding cache. */
export const CACHE_MAX_ENTRIES = 10_000;

/** Most bytes the forwarding cache holds (replies, keys and per-entry overhead). */
export const CACHE_MAX_BYTES = 8 * 1024 * 1024;

/** Longest time a forwarded answer is cached, in seconds, whatever its TTL. */
export const CACHE_MAX_TTL = 3600;

/** How often, at most, a cache hit checks whether the upstream servers changed, in milliseconds. */
export const UPSTREAM_CHECK_MS = 1000;

/** The EDNS0 UDP payload size this server advertises and the most it sends over UDP, in bytes. */
export const EDNS_UDP_SIZE = 1232;

/** Most UDP queries being forwarded at once; further ones are dropped (the client retries). */
export const FORWARD_MAX_INFLIGHT = 256;

/** Most queries read with one recvmmsg and replies sent with one sendmmsg. */
export const DNS_BATCH = 32;

/** Largest UDP datagram the server reads, in bytes. */
export const UDP_READ_BUFFER = 4096;

/** A TCP client that sends nothing for this long, or stalls mid-message or mid-reply, is closed (ms). */
export const TCP_IDLE_TIMEOUT_MS = 10_000;

/** Most TCP connections served at once; further ones are closed at accept. */
export const TCP_MAX_CONNECTIONS = 128;

/** Largest single gossip message of the name table, in bytes; bigger tables are split. */
export const GOSSIP_MESSAGE_MAX = 16 * 1024;

/** How long the DNS Worker may take to report it started, in milliseconds; then it is terminated. */
export const WORKER_START_TIMEOUT_MS = 30_000;

/** How long the main thread waits for the DNS Worker's stats, in milliseconds; then the last known, stale. */
export const WORKER_REPLY_TIMEOUT_MS = 1000;

/**
 * How long a TCP client's forwarded query may take in the DNS Worker, in milliseconds; then SERVFAIL. Room
 * for three upstreams at {@link UPSTREAM_TIMEOUT_MS} each, over UDP then TCP for a truncated reply.
 */
export const WORKER_FORWARD_TIMEOUT_MS = 7000;

/** How long the DNS Worker may take to stop, in milliseconds; then it is terminated. */
export const WORKER_STOP_TIMEOUT_MS = 2000;
