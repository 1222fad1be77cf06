/**
 * The DNS name table: a state-based CRDT of {name, address, container, origin peer, version, tombstone}
 * entries, gossiped on the "nameserver" channel like the IPAM ring.
 *
 * Each entry is keyed by (name, address, container, origin) and only its origin peer changes it, raising its
 * version. Merging keeps, per key, the greater (version, tombstone) pair, which is a join: commutative,
 * associative and idempotent. A removed entry stays as a tombstone (the removal time in ms) so that the
 * removal wins everywhere, and is purged after a grace period. Entries of a peer that left the mesh are
 * dropped locally (they return when it reconnects).
 *
 * @module
 */

import type { GossipData, PeerName } from "../mesh/gossip.ts";
import { formatIP, parseIP } from "../../base/ip.ts";
import { GOSSIP_MESSAGE_MAX, TOMBSTONE_GRACE_MS } from "./constants.ts";
import { canonicalName, DnsFormatError } from "./message.ts";

/** One registration of a name. */
export interface NameEntry {
  /** Fully qualified, lower case, trailing dot: "db.weave.local.". */
  name: string;
  /** The address, canonical text (IPv4 dotted quad or RFC 5952 IPv6). */
  address: string;
  /** The container id, or a marker such as "weave:extern" for names of outside addresses. */
  container: string;
  /** The peer that registered the entry and alone may change it. */
  origin: PeerName;
  /** Raised by the origin on every change; the greater version wins a merge. */
  version: number;
  /** 0 while live; the removal time (Unix ms) once removed. */
  tombstone: number;
}

/** Wire format version of an encoded table. */
const FORMAT_VERSION = 1;
/** Fixed bytes per encoded entry besides its strings and address: 4 length/family bytes, u32 version, u64 tombstone. */
const ENTRY_FIXED = 4 + 4 + 8;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

function keyOf(e: NameEntry): string {
  return `${e.name}\0${e.address}\0${e.container}\0${e.origin}`;
}

/** True when `a` wins over `b` in a merge: greater version, or equal version and later tombstone. */
function newer(a: NameEntry, b: NameEntry): boolean {
  return a.version > b.version || (a.version === b.version && a.tombstone > b.tombstone);
}

function checkString(s: string, what: string): Uint8Array {
  const b = utf8.encode(s);
  if (b.length === 0 || b.length > 255) throw new Error(`Invalid ${what} '${s}': must be 1 to 255 bytes`);
  return b;
}

/** Validates and normalises an entry; throws naming the bad field. */
function checked(e: NameEntry): NameEntry {
  const name = canonicalName(e.name);
  if (name === ".") throw new Error(`Invalid name '${e.name}': the root cannot be registered`);
  checkString(e.container, "container");
  checkString(e.origin, "origin peer");
  if (!Number.isInteger(e.version) || e.version < 0 || e.version > 0xffffffff) {
    throw new Error(`Invalid version ${e.version} of '${e.name}': must be an integer 0 to 2^32-1`);
  }
  if (!Number.isSafeInteger(e.tombstone) || e.tombstone < 0) {
    throw new Error(`Invalid tombstone ${e.tombstone} of '${e.name}': must be 0 or a time in ms`);
  }
  return { ...e, name, address: formatIP(parseIP(e.address)) };
}

/**
 * The replicated table of DNS names. Implements {@link GossipData}; owner operations ({@link NameTable.add},
 * {@link NameTable.remove}) return the delta to broadcast.
 *
 * @example
 * ```ts
 * const t = new NameTable();
 * const delta = t.add("db.weave.local.", "10.32.0.5", "c1", "ce:31:e0:06:45:1e");
 * t.addressesOf("DB.weave.local."); // [Uint8Array [10, 32, 0, 5]]
 * ```
 */
export class NameTable implements GossipData {
  #entries = new Map<string, NameEntry>();
  #byName?: Map<string, Uint8Array[]>;
  #byAddress?: Map<string, string[]>;
  #listeners: (() => void)[] = [];

  /**
   * A table holding `entries` (validated and normalised; on duplicate keys the merge winner).
   * @throws {Error} when an entry has an invalid name, address, container, origin, version or tombstone
   */
  constructor(entries: Iterable<NameEntry> = []) {
    for (const e of entries) this.#put(checked(e));
  }

  /**
   * Calls `listener` after every change of the table (an add, a removal, a merge that brought something new,
   * a purge, a peer's entries dropped), synchronously: coalesce in the listener.
   */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Drops the lookup indexes and tells the listeners. */
  #changed(): void {
    this.#byName = this.#byAddress = undefined;
    for (const l of this.#listeners) l();
  }

  /** Number of entries, tombstones included. */
  get size(): number {
    return this.#entries.size;
  }

  /** All entries, tombstones included, in no particular order. */
  entries(): NameEntry[] {
    return [...this.#entries.values()].map((e) => ({ ...e }));
  }

  /** Stores `e` when it wins over what is held; returns whether it changed the table. */
  #put(e: NameEntry): boolean {
    const key = keyOf(e);
    const old = this.#entries.get(key);
    if (old && !newer(e, old)) return false;
    this.#entries.set(key, e);
    this.#changed();
    return true;
  }

  /**
   * Registers `name` → `address` for `container`, as peer `origin` (this peer). Raises the version of an
   * existing (or removed) registration.
   *
   * @returns the delta to broadcast: a table holding the new entry
   * @throws {Error} on an invalid name, address, container or origin
   */
  add(name: string, address: string, container: string, origin: PeerName): NameTable {
    const fresh = checked({ name, address, container, origin, version: 0, tombstone: 0 });
    const old = this.#entries.get(keyOf(fresh));
    if (old && old.tombstone === 0) return new NameTable([old]);
    const e = { ...fresh, version: (old?.version ?? 0) + 1 };
    this.#put(e);
    return new NameTable([e]);
  }

  /**
   * Removes this peer's live entries matching every given field (e.g. all of a container on `die`), by
   * turning them into tombstones stamped `now`.
   *
   * @param match which entries: `origin` (this peer) is required; `container`, `address`, `name` narrow it
   * @param now the removal time in Unix ms
   * @returns the delta to broadcast (empty when nothing matched)
   */
  remove(
    match: { origin: PeerName; container?: string; address?: string; name?: string },
    now: number = Date.now(),
  ): NameTable {
    const name = match.name === undefined ? undefined : canonicalName(match.name);
    const address = match.address === undefined ? undefined : formatIP(parseIP(match.address));
    const delta = new NameTable();
    for (const e of [...this.#entries.values()]) {
      if (
        e.tombstone !== 0 || e.origin !== match.origin ||
        (match.container !== undefined && e.container !== match.container) ||
        (address !== undefined && e.address !== address) || (name !== undefined && e.name !== name)
      ) continue;
      const t = { ...e, version: e.version + 1, tombstone: now };
      this.#put(t);
      delta.#put(t);
    }
    return delta;
  }

  /**
   * Merges `other` into this table and returns this (the {@link GossipData} contract).
   * @throws {TypeError} when `other` is not a NameTable
   */
  merge(other: GossipData): NameTable {
    this.mergeNew(other);
    return this;
  }

  /**
   * Merges `other` and returns only the entries that changed this table (to gossip on), or undefined.
   * @throws {TypeError} when `other` is not a NameTable
   */
  mergeNew(other: GossipData): NameTable | undefined {
    if (!(other instanceof NameTable)) {
      throw new TypeError("Cannot merge into a NameTable: other is not a NameTable");
    }
    const delta = new NameTable();
    for (const e of other.#entries.values()) if (this.#put(e)) delta.#put(e);
    return delta.size > 0 ? delta : undefined;
  }

  /**
   * Drops tombstones older than `graceMs` before `now` (Unix ms).
   * @returns how many were dropped
   */
  purgeTombstones(now: number = Date.now(), graceMs: number = TOMBSTONE_GRACE_MS): number {
    let n = 0;
    for (const [key, e] of this.#entries) {
      if (e.tombstone !== 0 && e.tombstone + graceMs <= now) {
        this.#entries.delete(key);
        n++;
      }
    }
    if (n > 0) this.#changed();
    return n;
  }

  /**
   * Drops every entry whose origin is `peer` (a peer removed from the mesh).
   * @returns how many were dropped
   */
  removePeer(peer: PeerName): number {
    let n = 0;
    for (const [key, e] of this.#entries) {
      if (e.origin === peer) {
        this.#entries.delete(key);
        n++;
      }
    }
    if (n > 0) this.#changed();
    return n;
  }

  #index(): void {
    const byName = new Map<string, Uint8Array[]>(), byAddress = new Map<string, string[]>();
    const seen = new Set<string>();
    for (const e of this.#entries.values()) {
      if (e.tombstone !== 0 || seen.has(`${e.name}\0${e.address}`)) continue;
      seen.add(`${e.name}\0${e.address}`);
      const addrs = byName.get(e.name) ?? [];
      addrs.push(parseIP(e.address));
      byName.set(e.name, addrs);
      const names = byAddress.get(e.address) ?? [];
      names.push(e.name);
      byAddress.set(e.address, names);
    }
    this.#byName = byName;
    this.#byAddress = byAddress;
  }

  /**
   * The live addresses of `name` (any case, trailing dot optional), IPv4 as 4 bytes and IPv6 as 16, each once.
   * Callers must not modify the returned array or its bytes. Empty when the name is unknown or invalid.
   */
  addressesOf(name: string): readonly Uint8Array[] {
    if (!this.#byName) this.#index();
    let n = name.endsWith(".") ? name : name + ".";
    if (/[A-Z]/.test(n)) n = n.toLowerCase();
    return this.#byName!.get(n) ?? [];
  }

  /** The live names registered for `address` (bytes or text), each once; empty when none or invalid. */
  namesOf(address: Uint8Array | string): readonly string[] {
    if (!this.#byAddress) this.#index();
    let text: string;
    try {
      text = formatIP(typeof address === "string" ? parseIP(address) : address);
    } catch {
      return [];
    }
    return this.#byAddress!.get(text) ?? [];
  }

  /**
   * The wire form: messages of at most {@link GOSSIP_MESSAGE_MAX} bytes, each
   * `u8 format, u32 count, count × (u8 len name, u8 family (4|6) address, u8 len container, u8 len origin,
   * u32 version, u64 tombstone)`. An empty table is one message with count 0.
   */
  encode(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let parts: Uint8Array[] = [], size = 5, count = 0;
    const flush = () => {
      const msg = new Uint8Array(size);
      const view = new DataView(msg.buffer);
      msg[0] = FORMAT_VERSION;
      view.setUint32(1, count);
      let pos = 5;
      for (const p of parts) {
        msg.set(p, pos);
        pos += p.length;
      }
      out.push(msg);
      parts = [];
      size = 5;
      count = 0;
    };
    for (const e of this.#entries.values()) {
      const name = utf8.encode(e.name), addr = parseIP(e.address);
      const container = utf8.encode(e.container), origin = utf8.encode(e.origin);
      const rec = new Uint8Array(ENTRY_FIXED + name.length + addr.length + container.length + origin.length);
      const view = new DataView(rec.buffer);
      let pos = 0;
      rec[pos++] = name.length;
      rec.set(name, pos);
      pos += name.length;
      rec[pos++] = addr.length === 4 ? 4 : 6;
      rec.set(addr, pos);
      pos += addr.length;
      for (const s of [container, origin]) {
        rec[pos++] = s.length;
        rec.set(s, pos);
        pos += s.length;
      }
      view.setUint32(pos, e.version);
      view.setBigUint64(pos + 4, BigInt(e.tombstone));
      if (count > 0 && size + rec.length > GOSSIP_MESSAGE_MAX) flush();
      parts.push(rec);
      size += rec.length;
      count++;
    }
    if (count > 0 || out.length === 0) flush();
    return out;
  }

  /**
   * Decodes one message of {@link NameTable.encode}. Strict: any truncation, trailing byte, unknown format,
   * bad family or invalid field throws.
   *
   * @throws {DnsFormatError} naming what is wrong
   */
  static decode(msg: Uint8Array): NameTable {
    const fail = (why: string): never => {
      throw new DnsFormatError(`Cannot decode name table gossip: ${why}; the sender may run another version`);
    };
    if (msg.length < 5) fail(`${msg.length} bytes are shorter than the 5-byte header`);
    if (msg[0] !== FORMAT_VERSION) fail(`unknown format ${msg[0]}, expected ${FORMAT_VERSION}`);
    const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    const count = view.getUint32(1);
    let pos = 5;
    const need = (n: number) => {
      if (pos + n > msg.length) fail(`truncated at byte ${pos}`);
    };
    const str = (what: string): string => {
      need(1);
      const len = msg[pos];
      need(1 + len);
      try {
        return fromUtf8.decode(msg.subarray(pos + 1, pos + 1 + len));
      } catch {
        return fail(`${what} at byte ${pos} is not UTF-8`);
      } finally {
        pos += 1 + len;
      }
    };
    const entries: NameEntry[] = [];
    for (let i = 0; i < count; i++) {
      const name = str("name");
      need(1);
      const family = msg[pos++];
      if (family !== 4 && family !== 6) fail(`address family ${family} at byte ${pos - 1} is not 4 or 6`);
      const alen = family === 4 ? 4 : 16;
      need(alen);
      const address = formatIP(msg.subarray(pos, pos + alen));
      pos += alen;
      const container = str("container"), origin = str("origin");
      need(12);
      const version = view.getUint32(pos), tombstone = Number(view.getBigUint64(pos + 4));
      pos += 12;
      entries.push({ name, address, container, origin, version, tombstone });
    }
    if (pos !== msg.length) fail(`${msg.length - pos} bytes after entry ${count}`);
    try {
      return new NameTable(entries);
    } catch (e) {
      return fail((e as Error).message);
    }
  }
}
