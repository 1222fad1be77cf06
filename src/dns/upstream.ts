/**
 * Forwarding of names outside the domain to the host's upstream resolvers.
 *
 * Flow: the server hands a query that {@link answer} decided to forward → the upstream list comes from
 * resolv.conf (re-read when the file changes, this server's own addresses skipped) → each upstream in
 * turn gets the query over UDP from a fresh socket with a random id, waiting at most the timeout (one that
 * failed in the last {@link UPSTREAM_DEAD_MS} is tried after the others, so a run of forwards does not each
 * wait for a dead one); a TCP
 * client's query whose UDP reply is truncated is retried over TCP to the same upstream → the first reply
 * wins, with the client's id restored; SERVFAIL when every upstream failed. Forwards run concurrently,
 * each on its own socket (from a {@link DnsSockets}, the real network by default); this is not the hot path.
 *
 * @module
 */

import { DNS_PORT, Flag, Rcode, UPSTREAM_DEAD_MS, UPSTREAM_TIMEOUT_MS } from "./constants.ts";
import { errorReply } from "./answer.ts";
import { readFrame, writeFrame } from "./framing.ts";
import { formatIP, parseIP } from "../../base/ip.ts";
import { logger } from "../log.ts";
import { denoSockets, type DnsSockets, type StreamConn } from "./sockets.ts";

const log = logger("dns");

/** One upstream resolver. */
export interface Upstream {
  /** Canonical IP address text. */
  address: string;
  /** UDP and TCP port, 53 for resolv.conf entries. */
  port: number;
}

/**
 * The nameserver addresses of a resolv.conf text, in order, canonical, each once; entries that are not plain
 * IP addresses (e.g. with a %zone) and those in `skip` (this server's own addresses) are left out.
 *
 * @example
 * ```ts
 * parseResolvConf("nameserver 10.0.0.2\nnameserver 10.32.0.1\n", ["10.32.0.1"]); // ["10.0.0.2"]
 * ```
 */
export function parseResolvConf(text: string, skip: readonly string[] = []): string[] {
  const own = new Set(skip.map((s) => formatIP(parseIP(s))));
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const [key, value] = line.replace(/[#;].*/, "").trim().split(/\s+/);
    if (key !== "nameserver" || value === undefined) continue;
    let addr: string;
    try {
      addr = formatIP(parseIP(value));
    } catch {
      continue;
    }
    if (!own.has(addr) && !out.includes(addr)) out.push(addr);
  }
  return out;
}

/** The upstream list from a resolv.conf file, re-read whenever its modification time, size or inode change. */
export class ResolvConf {
  #path: string;
  #skip: readonly string[];
  #stamp = "";
  #servers: Upstream[] = [];

  /**
   * @param path the file, usually /etc/resolv.conf
   * @param skip this server's own addresses, never used as upstreams
   * @throws {Error} when an address in `skip` is invalid
   */
  constructor(path = "/etc/resolv.conf", skip: readonly string[] = []) {
    skip.forEach((s) => parseIP(s));
    this.#path = path;
    this.#skip = skip;
  }

  /** The current upstreams; empty (and a warning logged on change) when the file is missing or unreadable. */
  async servers(): Promise<Upstream[]> {
    let stamp: string;
    try {
      const st = await Deno.stat(this.#path);
      stamp = `${st.mtime?.getTime()}:${st.size}:${st.ino}`;
    } catch (e) {
      stamp = `missing:${(e as Error).name}`;
    }
    if (stamp === this.#stamp) return this.#servers;
    this.#stamp = stamp;
    try {
      const text = await Deno.readTextFile(this.#path);
      this.#servers = parseResolvConf(text, this.#skip).map((address) => ({ address, port: DNS_PORT }));
      log.info("Upstream resolvers read", { path: this.#path, servers: this.#servers.map((s) => s.address) });
    } catch (e) {
      this.#servers = [];
      log.warn("Cannot read upstream resolvers; names outside the domain get SERVFAIL", {
        path: this.#path,
        error: (e as Error).message,
      });
    }
    return this.#servers;
  }
}

/** How to forward. */
export interface ForwarderOptions {
  /** The upstreams to try in order, asked on every forward (e.g. `() => resolvConf.servers()`). */
  servers: () => Promise<readonly Upstream[]> | readonly Upstream[];
  /** How long to wait for each upstream, in ms; default {@link UPSTREAM_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Where the sockets come from; default the real network ({@link denoSockets}). */
  sockets?: DnsSockets;
  /** How long a failed upstream is tried last, in ms; default {@link UPSTREAM_DEAD_MS}. */
  deadMs?: number;
  /** Milliseconds clock for {@link deadMs}; default Date.now. */
  now?: () => number;
}

/**
 * Settles like `work`, or rejects after `ms` milliseconds; the caller then releases what `work` waits on,
 * and `work`'s own later rejection is ignored.
 * @throws {Error} `Upstream did not answer within N ms` on expiry
 */
async function deadline<T>(ms: number, work: Promise<T>): Promise<T> {
  work.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Upstream did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends queries to the upstream resolvers in turn; see the module comment. */
export class Forwarder {
  #servers: ForwarderOptions["servers"];
  #timeoutMs: number;
  #sockets: DnsSockets;
  #deadMs: number;
  #now: () => number;
  /** Upstreams that failed, by `address#port`, with when their failure is forgotten (ms). */
  #deadUntil = new Map<string, number>();

  /** @param options the upstream source, the per-upstream timeout and how long a failure is remembered */
  constructor(options: ForwarderOptions) {
    this.#servers = options.servers;
    this.#timeoutMs = options.timeoutMs ?? UPSTREAM_TIMEOUT_MS;
    this.#sockets = options.sockets ?? denoSockets;
    this.#deadMs = options.deadMs ?? UPSTREAM_DEAD_MS;
    this.#now = options.now ?? Date.now;
  }

  /** The upstreams in the order to try them: those that did not fail lately first, each group in list order. */
  #order(servers: readonly Upstream[]): readonly Upstream[] {
    if (this.#deadUntil.size === 0) return servers;
    const now = this.#now();
    const alive: Upstream[] = [], dead: Upstream[] = [];
    for (const s of servers) {
      const key = `${s.address}#${s.port}`, until = this.#deadUntil.get(key);
      if (until !== undefined && until <= now) this.#deadUntil.delete(key);
      (until !== undefined && until > now ? dead : alive).push(s);
    }
    return dead.length ? [...alive, ...dead] : servers;
  }

  /**
   * Forwards one well-formed query and returns the reply for the client (same id); SERVFAIL when there is
   * no upstream or every upstream failed or timed out. Never throws.
   *
   * @param query the client's query bytes
   * @param transport how the client asked: a TCP client gets a full reply (retried over TCP when truncated)
   */
  async forward(query: Uint8Array, transport: "udp" | "tcp"): Promise<Uint8Array> {
    let servers: readonly Upstream[] = [];
    try {
      servers = await this.#servers();
    } catch (e) {
      log.warn("Cannot list upstream resolvers", { error: (e as Error).message });
    }
    for (const server of this.#order(servers)) {
      const key = `${server.address}#${server.port}`;
      try {
        const id = crypto.getRandomValues(new Uint16Array(1))[0];
        const ours = query.slice();
        ours[0] = id >> 8;
        ours[1] = id & 0xff;
        let reply = await this.#udp(server, ours, id);
        if (transport === "tcp" && (reply[2] & (Flag.tc >> 8)) !== 0) {
          reply = await this.#tcp(server, ours, id);
        }
        reply[0] = query[0];
        reply[1] = query[1];
        this.#deadUntil.delete(key);
        return reply;
      } catch (e) {
        this.#deadUntil.set(key, this.#now() + this.#deadMs);
        log.debug("Upstream failed", {
          server: server.address,
          port: server.port,
          error: (e as Error).message,
        });
      }
    }
    return errorReply(query, Rcode.servFail);
  }

  /** One UDP exchange: the first reply from `server` with our id and QR set, within the timeout. */
  async #udp(server: Upstream, query: Uint8Array, id: number): Promise<Uint8Array> {
    const v6 = server.address.includes(":");
    const conn = this.#sockets.listenDatagram(v6 ? "::" : "0.0.0.0", 0);
    const exchange = async () => {
      await conn.send(query, { transport: "udp", hostname: server.address, port: server.port });
      for (;;) {
        const [data, from] = await conn.receive();
        const f = from as Deno.NetAddr;
        if (
          f.port === server.port && formatIP(parseIP(f.hostname)) === server.address && data.length >= 12 &&
          ((data[0] << 8) | data[1]) === id && (data[2] & 0x80) !== 0
        ) return data;
      }
    };
    try {
      return await deadline(this.#timeoutMs, exchange());
    } finally {
      conn.close();
    }
  }

  /** One TCP exchange with `server` (connect included), within the timeout. */
  async #tcp(server: Upstream, query: Uint8Array, id: number): Promise<Uint8Array> {
    let conn: StreamConn | undefined, expired = false;
    const exchange = async () => {
      const c = await this.#sockets.connect(server.address, server.port);
      if (expired) {
        c.close();
        throw new Error(`Upstream ${server.address} connected too late`);
      }
      conn = c;
      await writeFrame(c, query);
      const reply = await readFrame(c);
      if (!reply || reply.length < 12 || ((reply[0] << 8) | reply[1]) !== id) {
        throw new Error(`Upstream ${server.address} sent no matching TCP reply`);
      }
      return reply;
    };
    try {
      return await deadline(this.#timeoutMs, exchange());
    } finally {
      expired = true;
      conn?.close();
    }
  }
}
