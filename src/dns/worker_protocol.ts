/**
 * The messages between {@link DnsWorker} (main thread) and dns_worker_main.ts (the DNS Worker). Everything is
 * structured-clone data: names as {@link NameEntry} objects, queries as bytes, counters as plain numbers.
 * The Worker speaks the {@link LinkMessage} convention of src/worker/worker_link.ts.
 *
 * @module
 */
import type { Level } from "../log.ts";
import type { DnsCounters } from "./metrics.ts";
import type { NameEntry } from "./name_table.ts";
import type { Upstream } from "./upstream.ts";

/** How to start the DNS Worker. */
export interface DnsWorkerStartOptions {
  /** The address to serve UDP on: the host's gateway address, or 127.0.0.1 in tests. */
  hostname: string;
  /** The UDP port; 0 lets the kernel pick (see {@link DnsWorker.port}). */
  port: number;
  /** The served domain, lower case with a trailing dot. */
  domain: string;
  /** TTL of table answers in seconds. */
  ttl: number;
  /** The resolv.conf listing the upstream resolvers; the Worker may read this file and no other. */
  resolvConf: string;
  /** Fixed upstreams instead of the resolv.conf's (benches and tests, whose upstreams are not on port 53). */
  upstreams?: Upstream[];
  /** How long to wait for each upstream, in ms; default {@link UPSTREAM_TIMEOUT_MS}. */
  upstreamTimeoutMs?: number;
  /** The live names to serve from the start; {@link DnsWorker.setNames} replaces them. */
  entries: NameEntry[];
  /** The log level inside the Worker (it cannot read the environment). */
  logLevel?: Level;
}

/** What the Worker reports about its work. */
export interface DnsWorkerStats {
  /** Its counters: UDP queries and replies, forwards (UDP and TCP), cache hits, errors. */
  counters: DnsCounters;
  /** Entries and bytes in the forwarding cache. */
  cache: { entries: number; bytes: number };
  /** When the Worker did not answer in time, or has ended: the age of these figures in ms. */
  staleMs?: number;
}

/** Main thread → Worker. */
export type ToDnsWorker =
  | { op: "start"; options: DnsWorkerStartOptions }
  /** Replaces the served names (live entries only). */
  | { op: "names"; entries: NameEntry[] }
  /** A TCP client's query to forward, through the cache; answered with a `reply` of its bytes. */
  | { op: "forward"; id: number; query: Uint8Array; transport: "udp" | "tcp" }
  /** Answered with a `reply` of {@link DnsWorkerStats}. */
  | { op: "stats"; id: number }
  | { op: "stop" };

/** Worker → main thread. */
export type FromDnsWorker =
  /** `stats`: the first, so the main thread always has some to fall back on. */
  | { op: "started"; address: string; port: number; stats: DnsWorkerStats }
  | { op: "reply"; id: number; value: Uint8Array | DnsWorkerStats }
  /** `fatal` errors end the Worker's work (start failed, the socket failed). */
  | { op: "error"; message: string; fatal: boolean }
  | { op: "stopped" };
