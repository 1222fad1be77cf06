/**
 * The cache of forwarded answers, pure apart from the injected clock: upstream reply bytes kept per question
 * and served again with the client's id and question case and every TTL counted down.
 *
 * Flow: {@link AnswerCache.store} walks a reply strictly and keeps it only when it is cacheable: a whole
 * (not truncated) NOERROR with answers, kept for the smallest answer/authority TTL; or a negative answer
 * (NXDOMAIN, or NOERROR without answers) with an SOA in the authority section, kept for min(SOA TTL, SOA
 * MINIMUM) (RFC 2308 §5; without an SOA it is not cached); every TTL is capped by {@link CACHE_MAX_TTL}.
 * {@link AnswerCache.lookup} finds the entry by the question (name case-folded), the transport, the
 * client's EDNS size and DO bit and its RD/CD flags (so a reply never exceeds what its client may get),
 * and returns a copy with each TTL set to min(its own, the entry's) minus the seconds elapsed. Entries
 * are kept in least-recently-used order and evicted beyond the entry and byte bounds; expired ones go when
 * met. Synchronous and single-threaded: the server consults it in its receive loop.
 *
 * @module
 */

import {
  CACHE_MAX_BYTES,
  CACHE_MAX_ENTRIES,
  CACHE_MAX_TTL,
  Flag,
  HEADER_SIZE,
  POINTER_MARK,
  Rcode,
  RRType,
} from "./constants.ts";
import { decodeName, decodeRecord, decodeRecordHeader, NAME_DATA_TYPES } from "./message.ts";

/** Bytes charged per entry on top of its reply and key (map slot, offsets, object). */
const ENTRY_OVERHEAD = 96;

/** How to bound the cache. */
export interface AnswerCacheOptions {
  /** Most entries; default {@link CACHE_MAX_ENTRIES}. */
  maxEntries?: number;
  /** Most bytes (replies, keys and overhead); default {@link CACHE_MAX_BYTES}. */
  maxBytes?: number;
  /** Longest time an answer is kept, in seconds; default {@link CACHE_MAX_TTL}. */
  maxTtl?: number;
  /** Milliseconds clock; default Date.now. */
  now?: () => number;
}

interface Entry {
  reply: Uint8Array;
  /** Offsets of the TTL fields to count down (OPT excluded). */
  ttlAt: number[];
  /** Their values as received. */
  ttls: number[];
  /** Seconds the entry lives. */
  ttl: number;
  storedAt: number;
  cost: number;
}

/** An ASCII byte in lower case. */
const lower = (c: number) => c >= 0x41 && c <= 0x5a ? c | 0x20 : c;

const u16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u32 = (b: Uint8Array, at: number) => ((u16(b, at) << 16) | u16(b, at + 2)) >>> 0;

/**
 * The cache key of a well-formed query (one that the answering core decided to forward), or undefined when
 * it cannot be cached (not exactly one question).
 */
function keyOf(
  query: Uint8Array,
  transport: "udp" | "tcp",
): { key: string; questionEnd: number } | undefined {
  if (query.length < HEADER_SIZE || u16(query, 4) !== 1) return undefined;
  let pos = HEADER_SIZE, key = transport === "tcp" ? "t" : "u";
  key += String.fromCharCode(query[3] & 0x10, query[2] & 0x01); // CD, RD
  if (pos >= query.length) return undefined;
  for (let len = query[pos]; len !== 0; len = query[pos]) {
    if (len > 63 || pos + len + 1 >= query.length) return undefined; // so query[pos] below stays in bounds
    key += String.fromCharCode(len);
    for (let i = pos + 1; i <= pos + len; i++) key += String.fromCharCode(lower(query[i]));
    pos += len + 1;
  }
  const questionEnd = pos + 5;
  if (questionEnd > query.length) return undefined;
  key += String.fromCharCode(query[pos + 1], query[pos + 2], query[pos + 3], query[pos + 4]);
  const records = u16(query, 6) + u16(query, 8) + u16(query, 10);
  if (records === 0) return { key, questionEnd };
  try {
    for (let i = 0, at = questionEnd; i < records; i++) {
      const r = decodeRecordHeader(query, at);
      if (r.type === RRType.OPT) key += `|${Math.max(512, r.class)}|${(r.ttl & 0x8000) ? 1 : 0}`;
      at = r.end;
    }
  } catch {
    return undefined;
  }
  return { key, questionEnd };
}

/** Whether `a` and `b` hold the same question bytes, ASCII letters compared case-insensitively. */
function sameQuestion(a: Uint8Array, b: Uint8Array, end: number): boolean {
  if (b.length < end) return false;
  for (let i = HEADER_SIZE; i < end; i++) if (lower(a[i]) !== lower(b[i])) return false;
  return true;
}

/**
 * Whether the (already validated) name at `at` reads its structure (length octets and pointers) only from
 * bytes a cache hit keeps: not the header and not a TTL field (marked in `rewritten`), so a served copy
 * decodes alike.
 */
function stableName(buf: Uint8Array, at: number, rewritten: Uint8Array): boolean {
  const kept = (o: number) => o >= HEADER_SIZE && rewritten[o] === 0;
  for (let len = buf[at];; len = buf[at]) {
    if (!kept(at)) return false;
    if (len === 0) return true;
    if ((len & POINTER_MARK) !== POINTER_MARK) at += len + 1;
    else if (!kept(at + 1)) return false;
    else at = ((len & 0x3f) << 8) | buf[at + 1];
  }
}

/** A bounded TTL-honouring cache of forwarded replies; see the module comment. */
export class AnswerCache {
  #entries = new Map<string, Entry>();
  #bytes = 0;
  #maxEntries: number;
  #maxBytes: number;
  #maxTtl: number;
  #now: () => number;

  /** @param options the bounds and the clock */
  constructor(options: AnswerCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? CACHE_MAX_ENTRIES;
    this.#maxBytes = options.maxBytes ?? CACHE_MAX_BYTES;
    this.#maxTtl = options.maxTtl ?? CACHE_MAX_TTL;
    this.#now = options.now ?? Date.now;
    if (!(this.#maxEntries >= 0 && this.#maxBytes >= 0 && this.#maxTtl >= 0)) {
      throw new RangeError(
        `Cache bounds must be ≥ 0, got entries ${this.#maxEntries}, bytes ${this.#maxBytes}, TTL ${this.#maxTtl}`,
      );
    }
  }

  /** Entries held (expired ones not yet met included). */
  get size(): number {
    return this.#entries.size;
  }

  /** Bytes charged for the entries held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Drops every entry (e.g. when the upstream servers change). */
  flush(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  /**
   * The cached reply to `query` with its id and question and the TTLs counted down, or undefined on a miss
   * (an expired entry is dropped). Never throws.
   */
  lookup(query: Uint8Array, transport: "udp" | "tcp"): Uint8Array | undefined {
    const k = keyOf(query, transport);
    if (!k) return undefined;
    const entry = this.#entries.get(k.key);
    if (!entry) return undefined;
    const elapsed = Math.floor((this.#now() - entry.storedAt) / 1000);
    if (elapsed >= entry.ttl) {
      this.#remove(k.key, entry);
      return undefined;
    }
    this.#entries.delete(k.key);
    this.#entries.set(k.key, entry);
    const out = entry.reply.slice();
    out[0] = query[0];
    out[1] = query[1];
    for (let i = HEADER_SIZE; i < k.questionEnd; i++) out[i] = query[i];
    for (let i = 0; i < entry.ttlAt.length; i++) {
      const ttl = Math.min(entry.ttls[i], entry.ttl) - elapsed, at = entry.ttlAt[i];
      out[at] = ttl >>> 24;
      out[at + 1] = (ttl >>> 16) & 0xff;
      out[at + 2] = (ttl >>> 8) & 0xff;
      out[at + 3] = ttl & 0xff;
    }
    return out;
  }

  /**
   * Keeps `reply` (the upstream's answer to `query`) when it is cacheable; see the module comment.
   * Malformed, truncated, mismatched or uncacheable replies are ignored. Never throws.
   *
   * @returns whether it was stored
   */
  store(query: Uint8Array, reply: Uint8Array, transport: "udp" | "tcp"): boolean {
    const k = keyOf(query, transport);
    if (!k || reply.length < HEADER_SIZE || u16(reply, 4) !== 1) return false;
    const flags = u16(reply, 2), rcode = flags & 0xf;
    if (!(flags & Flag.qr) || (flags & Flag.tc) || (rcode !== Rcode.noError && rcode !== Rcode.nxDomain)) {
      return false;
    }
    if (!sameQuestion(query, reply, k.questionEnd)) return false;
    const ttlAt: number[] = [], ttls: number[] = [];
    const answers = u16(reply, 6), authorities = u16(reply, 8);
    const records = answers + authorities + u16(reply, 10);
    let ttl = Infinity, soaTtl = -1, pos = k.questionEnd;
    const names: number[] = [];
    try {
      for (let i = 0; i < records; i++) {
        const r = decodeRecordHeader(reply, pos);
        names.push(pos);
        if (NAME_DATA_TYPES.has(r.type)) {
          decodeRecord(reply, pos); // checks the name in its data
          names.push(r.dataStart);
        }
        pos = r.end;
        if (r.type === RRType.OPT) continue;
        ttlAt.push(r.dataStart - 6);
        ttls.push(r.ttl);
        if (i < answers + authorities) ttl = Math.min(ttl, r.ttl);
        if (i >= answers && i < answers + authorities && r.type === RRType.SOA) {
          const data = reply.subarray(0, r.end);
          const mname = decodeName(data, r.dataStart).end, rname = decodeName(data, mname).end;
          if (rname + 20 !== r.end) return false;
          soaTtl = Math.min(r.ttl, u32(reply, rname + 16));
          names.push(r.dataStart, mname);
        }
      }
    } catch {
      return false;
    }
    if (pos !== reply.length) return false;
    const rewritten = new Uint8Array(reply.length);
    for (const at of ttlAt) rewritten.fill(1, at, at + 4);
    if (!names.every((at) => stableName(reply, at, rewritten))) return false;
    if (rcode === Rcode.nxDomain || answers === 0) {
      if (soaTtl < 0) return false;
      ttl = soaTtl;
    }
    ttl = Math.min(ttl, this.#maxTtl);
    if (!(ttl > 0)) return false;
    const cost = reply.length + 2 * k.key.length + ENTRY_OVERHEAD;
    if (cost > this.#maxBytes || this.#maxEntries === 0) return false;
    const old = this.#entries.get(k.key);
    if (old) this.#remove(k.key, old);
    this.#entries.set(k.key, { reply: reply.slice(), ttlAt, ttls, ttl, storedAt: this.#now(), cost });
    this.#bytes += cost;
    for (const [key, e] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#remove(key, e);
    }
    return true;
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.cost;
  }
}
