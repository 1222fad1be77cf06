/**
 * The DNS server: UDP and TCP on one address and port, answering from the name table and forwarding the
 * rest upstream. In the router the UDP half runs in the DNS Worker (dns_worker.ts) and this server serves
 * TCP alone (`udp: false`), forwarding through the Worker.
 *
 * Flow and concurrency:
 * - UDP: a {@link UdpService} (one serve loop, batched on the real network; see udp_service.ts).
 * - TCP: one accept loop; each connection (at most {@link TCP_MAX_CONNECTIONS}) is served by its own task
 *   reading 2-byte-length frames one after the other. A client idle, stalling mid-frame or not reading its
 *   replies for {@link TCP_IDLE_TIMEOUT_MS} is closed; a frame longer than what follows ends the connection.
 * Nothing a client sends can throw out of a loop: bad messages get FORMERR or are dropped by {@link answer}.
 * Every query, reply (by rcode), forward, cache hit and failure is counted in {@link DnsServer.metrics}.
 *
 * The sockets come from a {@link DnsSockets}: the real network by default, whose batched UDP socket is FFI
 * (--allow-ffi) and whose forwarding sockets need --unstable-net.
 *
 * @module
 */

import { DEFAULT_DOMAIN, DEFAULT_TTL, TCP_IDLE_TIMEOUT_MS, TCP_MAX_CONNECTIONS } from "./constants.ts";
import { answer, type AnswerOptions, FORWARD, type NameLookup } from "./answer.ts";
import { cachedCounted, forwardCounted, type QueryForwarder } from "./caching_forwarder.ts";
import { UdpService } from "./udp_service.ts";
import { DnsMetrics } from "./metrics.ts";
import { readFrame, writeFrame } from "./framing.ts";
import { canonicalName } from "./message.ts";
import { parseIP } from "../../base/ip.ts";
import { logger } from "../log.ts";
import {
  type DatagramServer,
  denoSockets,
  type DnsSockets,
  type StreamConn,
  type StreamListener,
} from "./sockets.ts";

const log = logger("dns");

/** Attempts at finding a port free for both UDP and TCP when `port` is 0. */
const PORT_ATTEMPTS = 20;

/** The listen address as the domain's nameserver address, or undefined for a wildcard address. */
function nameserverAddress(hostname: string): Uint8Array | undefined {
  let address: Uint8Array;
  try {
    address = parseIP(hostname);
  } catch {
    return undefined; // a host name, not an address
  }
  return address.some((b) => b !== 0) ? address : undefined;
}

/** How to answer, whatever the transport: the domain, TTL, shuffling and the domain's nameserver address. */
export function answerBase(
  o: Pick<DnsServerOptions, "hostname" | "domain" | "ttl" | "random">,
): Omit<AnswerOptions, "transport"> {
  return {
    domain: canonicalName(o.domain ?? DEFAULT_DOMAIN),
    ttl: o.ttl ?? DEFAULT_TTL,
    random: o.random ?? Math.random,
    nameserver: nameserverAddress(o.hostname),
  };
}

/** How to serve. */
export interface DnsServerOptions {
  /** Address to listen on, e.g. the host's bridge address or "127.0.0.1". */
  hostname: string;
  /** Port for UDP and TCP; 0 picks one free for both (see {@link DnsServer.port}). */
  port: number;
  /** Serve UDP too; default true. False serves TCP alone (the DNS Worker owns UDP on the same port). */
  udp?: boolean;
  /** Where names come from (a NameTable). */
  table: NameLookup;
  /** The served domain; default {@link DEFAULT_DOMAIN}. */
  domain?: string;
  /** TTL of table answers in seconds; default {@link DEFAULT_TTL}. */
  ttl?: number;
  /** Where names outside the domain go; without one they get SERVFAIL. */
  forwarder?: QueryForwarder;
  /** Random source for shuffling; default Math.random. */
  random?: () => number;
  /** TCP idle and stall timeout in ms; default {@link TCP_IDLE_TIMEOUT_MS}. */
  tcpIdleTimeoutMs?: number;
  /** Most TCP connections at once; default {@link TCP_MAX_CONNECTIONS}. */
  maxTcpConnections?: number;
  /** Where to count queries, replies, forwards, cache hits and errors; default fresh counters. */
  metrics?: DnsMetrics;
  /** Where the sockets come from; default the real network ({@link denoSockets}). */
  sockets?: DnsSockets;
}

/**
 * A running DNS server. Create it with {@link DnsServer.listen}; stop it with {@link DnsServer.close}.
 *
 * @example
 * ```ts
 * const server = DnsServer.listen({ hostname: "127.0.0.1", port: 0, table: new NameTable() });
 * console.log(server.port);
 * await server.close();
 * ```
 */
export class DnsServer {
  #udp?: DatagramServer;
  #tcp: StreamListener;
  #port: number;
  #table: NameLookup;
  #forwarder?: QueryForwarder;
  #tcpOptions: AnswerOptions;
  #idleMs: number;
  #maxConns: number;
  #conns = new Set<StreamConn>();
  #loops: Promise<void>[] = [];
  #closed = false;
  /** Counters of this server's work. */
  readonly metrics: DnsMetrics;

  private constructor(
    udp: DatagramServer | undefined,
    tcp: StreamListener,
    port: number,
    o: DnsServerOptions,
  ) {
    this.#udp = udp;
    this.#tcp = tcp;
    this.#port = port;
    this.#table = o.table;
    this.#forwarder = o.forwarder;
    this.metrics = o.metrics ?? new DnsMetrics();
    const base = answerBase(o);
    this.#tcpOptions = { ...base, transport: "tcp" };
    this.#idleMs = o.tcpIdleTimeoutMs ?? TCP_IDLE_TIMEOUT_MS;
    this.#maxConns = o.maxTcpConnections ?? TCP_MAX_CONNECTIONS;
    if (udp) {
      const service = new UdpService(udp, {
        table: o.table,
        answer: { ...base, transport: "udp" },
        forwarder: o.forwarder,
        metrics: this.metrics,
      });
      this.#loops.push(service.done);
    }
    this.#loops.push(this.#acceptLoop());
  }

  /**
   * Binds UDP and TCP and starts serving.
   *
   * @throws {Deno.errors.AddrInUse} when the TCP port is taken (or no common free port was found for port 0)
   * @throws {SyscallError} when the UDP port is taken (EADDRINUSE) or the address is not local
   * @throws {Deno.errors.PermissionDenied} for port 53 without the capability to bind it
   * @throws {DnsFormatError} when the domain is not a valid name
   */
  static listen(options: DnsServerOptions): DnsServer {
    const { hostname } = options;
    const sockets = options.sockets ?? denoSockets;
    if (options.udp === false) {
      const tcp = sockets.listen(hostname, options.port);
      const port = (tcp.addr as Deno.NetAddr | undefined)?.port ?? options.port;
      log.info("DNS server listening (TCP)", { hostname, port });
      return new DnsServer(undefined, tcp, port, options);
    }
    for (let attempt = 1;; attempt++) {
      const udp = sockets.serveDatagrams(hostname, options.port);
      const port = udp.local.port;
      try {
        const tcp = sockets.listen(hostname, port);
        const server = new DnsServer(udp, tcp, port, options);
        log.info("DNS server listening", { hostname, port });
        return server;
      } catch (e) {
        udp.close();
        if (options.port !== 0 || !(e instanceof Deno.errors.AddrInUse) || attempt >= PORT_ATTEMPTS) throw e;
      }
    }
  }

  /** The port UDP and TCP listen on. */
  get port(): number {
    return this.#port;
  }

  /** Stops receiving, closes every TCP connection and waits for the loops to end. Forwards in flight finish. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#udp?.close();
    this.#tcp.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* already closed by its idle timer */ }
    }
    await Promise.allSettled(this.#loops);
  }

  async #acceptLoop(): Promise<void> {
    const sessions: Promise<void>[] = [];
    while (!this.#closed) {
      let conn: StreamConn;
      try {
        conn = await this.#tcp.accept();
      } catch (e) {
        if (this.#closed || e instanceof Deno.errors.BadResource) break;
        log.warn("TCP accept failed", { error: (e as Error).message });
        continue;
      }
      if (this.#conns.size >= this.#maxConns) {
        conn.close();
        continue;
      }
      this.#conns.add(conn);
      const session = this.#serveTcp(conn).finally(() => {
        this.#conns.delete(conn);
        sessions.splice(sessions.indexOf(session), 1);
      });
      sessions.push(session);
    }
    await Promise.allSettled(sessions);
  }

  /** Serves one TCP client until it closes, sends a short frame, or stalls past the idle timeout. */
  async #serveTcp(conn: StreamConn): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => timer = setTimeout(() => conn.close(), this.#idleMs);
    const disarm = () => clearTimeout(timer);
    try {
      for (;;) {
        arm();
        const query = await readFrame(conn);
        disarm();
        if (!query) break;
        this.metrics.tcpQueries++;
        let reply = answer(query, this.#table, this.#tcpOptions);
        if (reply === FORWARD) {
          reply = cachedCounted(this.#forwarder, query, "tcp", this.metrics) ??
            await forwardCounted(this.#forwarder, query, "tcp", this.metrics);
        }
        if (!reply) continue;
        this.metrics.reply(reply);
        arm();
        await writeFrame(conn, reply);
        disarm();
      }
    } catch (e) {
      log.debug("TCP client dropped", { error: (e as Error).message });
    } finally {
      disarm();
      try {
        conn.close();
      } catch { /* closed by the idle timer or close() */ }
    }
  }
}
