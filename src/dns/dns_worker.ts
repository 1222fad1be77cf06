/**
 * The main thread's handle on the DNS Worker (dns_worker_main.ts), which owns the server's UDP socket: start it, push
 * it the names on every change, hand it TCP clients' forwarded queries, read its counters, stop it.
 *
 * Flow and concurrency: one-way messages (names) are handled by the Worker in order; every call that waits
 * for it has a deadline (src/worker/worker_link.ts): start ({@link WORKER_START_TIMEOUT_MS}: then it is
 * terminated), stats ({@link WORKER_REPLY_TIMEOUT_MS}: then the last it sent, marked `staleMs`; the first
 * come with `started`, and the last known stay readable after it ended), forward
 * ({@link WORKER_FORWARD_TIMEOUT_MS}: then SERVFAIL) and stop ({@link WORKER_STOP_TIMEOUT_MS}: then
 * terminated). A Worker that crashes settles {@link DnsWorker.done} with the reason.
 *
 * Needs `--unstable-worker-options`; the Worker gets FFI, net and read of the resolv.conf, nothing else.
 *
 * @module
 */
import { logLevel } from "../log.ts";
import { WorkerLink } from "../worker/worker_link.ts";
import { errorReply } from "./answer.ts";
import type { QueryForwarder } from "./caching_forwarder.ts";
import {
  Rcode,
  WORKER_FORWARD_TIMEOUT_MS,
  WORKER_REPLY_TIMEOUT_MS,
  WORKER_START_TIMEOUT_MS,
  WORKER_STOP_TIMEOUT_MS,
} from "./constants.ts";
import type { NameEntry } from "./name_table.ts";
import type { DnsWorkerStartOptions, DnsWorkerStats, FromDnsWorker, ToDnsWorker } from "./worker_protocol.ts";

export type { DnsWorkerStartOptions, DnsWorkerStats } from "./worker_protocol.ts";

/** Options of {@link DnsWorker.start} besides where and what to serve. */
export interface DnsWorkerOptions extends Omit<DnsWorkerStartOptions, "logLevel"> {
  /** The Worker's module; default dns_worker_main.ts (tests give a double that stalls or crashes). */
  module?: URL;
  /** Deadline of stats calls in ms; default {@link WORKER_REPLY_TIMEOUT_MS}. */
  replyTimeoutMs?: number;
  /** Deadline of start in ms; default {@link WORKER_START_TIMEOUT_MS}. */
  startTimeoutMs?: number;
  /** Receives the Worker's errors, and the one that ended it. */
  onError?: (error: Error) => void;
}

/**
 * A running DNS Worker. It is the TCP server's {@link QueryForwarder} too: it counts the forwards it makes
 * in its own counters ({@link counted}).
 *
 * @example
 * ```ts ignore
 * const w = await DnsWorker.start({ hostname: "127.0.0.1", port: 0, domain: "weave.local.", ttl: 1,
 *   resolvConf: "/etc/resolv.conf", entries: table.entries() });
 * w.setNames(table.entries());
 * console.log(w.port, await w.stats());
 * await w.stop();
 * ```
 */
export class DnsWorker implements QueryForwarder {
  /** Forwards made through {@link forward} are counted in the Worker's counters. */
  readonly counted = true;
  /** The bound UDP address. */
  readonly address: string;
  /** The bound UDP port (the kernel's pick for port 0). */
  readonly port: number;
  /** Resolves when the Worker has ended; rejects with the reason it crashed or was terminated. */
  readonly done: Promise<void>;
  readonly #link: WorkerLink;
  readonly #replyTimeoutMs: number;
  #last: { stats: DnsWorkerStats; at: number };

  private constructor(link: WorkerLink, started: Extract<FromDnsWorker, { op: "started" }>, replyMs: number) {
    this.#link = link;
    this.address = started.address;
    this.port = started.port;
    this.done = link.done;
    this.#replyTimeoutMs = replyMs;
    this.#last = { stats: started.stats, at: performance.now() };
  }

  /**
   * Starts the Worker, which binds the UDP socket and serves `entries`.
   *
   * @throws {Error} `Cannot start the DNS server: …` with the Worker's reason (port in use, address not
   *   local), or when it did not start in time
   * @throws {Deno.errors.NotCapable} when the process lacks FFI or net permission or `--unstable-worker-options`
   */
  static async start(o: DnsWorkerOptions): Promise<DnsWorker> {
    const { module, replyTimeoutMs, startTimeoutMs, onError, ...options } = o;
    const { link, started } = await WorkerLink.start<Extract<FromDnsWorker, { op: "started" }>>({
      module: module ?? new URL("./dns_worker_main.ts", import.meta.url),
      permissions: { ffi: true, net: true, read: [options.resolvConf] },
      what: "the DNS server",
      start: { op: "start", options: { ...options, logLevel: logLevel() } } satisfies ToDnsWorker,
      startTimeoutMs: startTimeoutMs ?? WORKER_START_TIMEOUT_MS,
      onError,
    });
    return new DnsWorker(link, started, replyTimeoutMs ?? WORKER_REPLY_TIMEOUT_MS);
  }

  /** True once the Worker has ended. */
  get stopped(): boolean {
    return this.#link.stopped;
  }

  /**
   * Replaces the names the Worker serves (tombstones are left out here).
   *
   * @throws {Error} when the Worker has ended
   */
  setNames(entries: readonly NameEntry[]): void {
    const msg: ToDnsWorker = { op: "names", entries: entries.filter((e) => e.tombstone === 0) };
    this.#link.post(msg);
  }

  /**
   * Forwards a query in the Worker (through its cache, counted there). SERVFAIL when it does not answer
   * within {@link WORKER_FORWARD_TIMEOUT_MS} or has ended. Never throws.
   */
  async forward(query: Uint8Array, transport: "udp" | "tcp"): Promise<Uint8Array> {
    const servFail = () => errorReply(query, Rcode.servFail);
    try {
      return await this.#link.request<Uint8Array>(
        (id) => ({ op: "forward", id, query, transport }) satisfies ToDnsWorker,
        WORKER_FORWARD_TIMEOUT_MS,
        servFail,
      );
    } catch {
      return servFail();
    }
  }

  /**
   * The Worker's counters and cache size. When it does not answer within `timeoutMs`, or has ended, the last
   * it sent, with `staleMs` set to their age. Never throws.
   */
  async stats(timeoutMs = this.#replyTimeoutMs): Promise<DnsWorkerStats> {
    const stale = () => ({ ...this.#last.stats, staleMs: Math.round(performance.now() - this.#last.at) });
    if (this.#link.stopped) return stale();
    try {
      const stats = await this.#link.request<DnsWorkerStats | undefined>(
        (id) => ({ op: "stats", id }) satisfies ToDnsWorker,
        timeoutMs,
        () => undefined,
      );
      if (!stats) return stale();
      this.#last = { stats, at: performance.now() };
      return stats;
    } catch {
      return stale();
    }
  }

  /** Closes the socket and waits for the Worker to end; terminates it after `timeoutMs`. Idempotent. */
  stop(timeoutMs = WORKER_STOP_TIMEOUT_MS): Promise<void> {
    return this.#link.stop({ op: "stop" } satisfies ToDnsWorker, timeoutMs);
  }
}
