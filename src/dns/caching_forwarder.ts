/**
 * Forwarding through the answer cache: a cached reply is served synchronously, a miss goes to the
 * {@link Forwarder} and its reply is kept; the cache is flushed whenever the upstream list changes.
 *
 * Flow: {@link CachingForwarder.cached} looks the query up (the server calls it in its receive loop) and,
 * at most every {@link UPSTREAM_CHECK_MS}, starts a background read of the upstream list; a miss is
 * {@link CachingForwarder.forward}ed, which reads the upstream list too (the Forwarder asks on every
 * forward). Any read whose list differs from the last one flushes the cache before its answers are stored.
 *
 * @module
 */

import { Rcode, UPSTREAM_CHECK_MS } from "./constants.ts";
import { AnswerCache } from "./cache.ts";
import { errorReply } from "./answer.ts";
import type { DnsMetrics } from "./metrics.ts";
import { Forwarder, type ForwarderOptions, type Upstream } from "./upstream.ts";

/** What the server needs from forwarding: implemented by {@link Forwarder} and {@link CachingForwarder}. */
export interface QueryForwarder {
  /** The reply to a query to forward (same id); never throws. */
  forward(query: Uint8Array, transport: "udp" | "tcp"): Promise<Uint8Array>;
  /** A reply from a cache, when there is one. */
  cached?(query: Uint8Array, transport: "udp" | "tcp"): Uint8Array | undefined;
  /**
   * True when the forwarder counts its own forwards, cache hits and failures (the DNS Worker does, in its
   * counters), so {@link forwardCounted} does not count them again.
   */
  readonly counted?: boolean;
}

/** The forwarder's cached reply to `query`, counted in `metrics` as a hit; undefined without one. */
export function cachedCounted(
  forwarder: QueryForwarder | undefined,
  query: Uint8Array,
  transport: "udp" | "tcp",
  metrics: DnsMetrics,
): Uint8Array | undefined {
  const hit = forwarder?.cached?.(query, transport);
  if (hit) metrics.cacheHits++;
  return hit;
}

/**
 * Forwards `query` through `forwarder`, counting the forward and a SERVFAIL reply in `metrics` (unless the
 * forwarder counts its own); SERVFAIL without a forwarder. Never throws.
 */
export async function forwardCounted(
  forwarder: QueryForwarder | undefined,
  query: Uint8Array,
  transport: "udp" | "tcp",
  metrics: DnsMetrics,
): Promise<Uint8Array> {
  if (!forwarder) return errorReply(query, Rcode.servFail);
  if (!forwarder.counted) metrics.forwarded++;
  const reply = await forwarder.forward(query, transport);
  if (!forwarder.counted && (reply[3] & 0xf) === Rcode.servFail) metrics.errors++;
  return reply;
}

/** How to forward and cache. */
export interface CachingForwarderOptions extends ForwarderOptions {
  /** The cache; default one with the default bounds. */
  cache?: AnswerCache;
  /** Milliseconds clock for the upstream checks; default Date.now. */
  now?: () => number;
}

/** A {@link Forwarder} with an {@link AnswerCache} in front; see the module comment. */
export class CachingForwarder implements QueryForwarder {
  #cache: AnswerCache;
  #forwarder: Forwarder;
  #source: ForwarderOptions["servers"];
  #now: () => number;
  #upstreams?: string;
  #checkedAt = -Infinity;
  #checking = false;

  /** @param options the upstream source, the per-upstream timeout and the cache */
  constructor(options: CachingForwarderOptions) {
    this.#cache = options.cache ?? new AnswerCache();
    this.#source = options.servers;
    this.#now = options.now ?? Date.now;
    this.#forwarder = new Forwarder({ ...options, servers: () => this.#servers() });
  }

  /** The cache (for its size in metrics and tests). */
  get cache(): AnswerCache {
    return this.#cache;
  }

  /** The cached reply to `query`, or undefined; see {@link AnswerCache.lookup}. Never throws. */
  cached(query: Uint8Array, transport: "udp" | "tcp"): Uint8Array | undefined {
    if (!this.#checking && this.#now() - this.#checkedAt >= UPSTREAM_CHECK_MS) {
      this.#checking = true;
      Promise.resolve().then(() => this.#servers()).catch(() => {/* the next forward logs it */})
        .finally(() => this.#checking = false);
    }
    return this.#cache.lookup(query, transport);
  }

  /** Forwards `query` (see {@link Forwarder.forward}) and caches the reply when cacheable. Never throws. */
  async forward(query: Uint8Array, transport: "udp" | "tcp"): Promise<Uint8Array> {
    const reply = await this.#forwarder.forward(query, transport);
    this.#cache.store(query, reply, transport);
    return reply;
  }

  /** The upstream list from the source; flushes the cache when it differs from the last one. */
  async #servers(): Promise<readonly Upstream[]> {
    const servers = await this.#source();
    this.#checkedAt = this.#now();
    const key = servers.map((s) => `${s.address}#${s.port}`).join(",");
    if (key !== this.#upstreams) {
      if (this.#upstreams !== undefined) this.#cache.flush();
      this.#upstreams = key;
    }
    return servers;
  }
}
