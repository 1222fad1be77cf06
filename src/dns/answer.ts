/**
 * The answering core, pure: query bytes + name table + options → response bytes, a decision to forward, or
 * nothing (drop). No I/O, no clock, randomness injected, so every rule is unit-testable.
 *
 * Flow: check the header (responses and runts are dropped: answering them could loop between servers) →
 * decode the one question and walk the other sections strictly (FORMERR on any malformation) → read EDNS0
 * → answer names in the domain (A/AAAA shuffled, the domain's own SOA and NS, NOERROR-empty and NXDOMAIN
 * with the domain's SOA as authority) and registered reverse names (PTR) from the table, forward everything
 * else → build the reply by hand (the question copied, answers pointing at it), cut to the UDP limit with
 * TC set.
 *
 * @module
 */

import {
  EDNS_UDP_SIZE,
  Flag,
  HEADER_SIZE,
  OPCODE_QUERY,
  POINTER_MARK,
  Rcode,
  REVERSE_V4_SUFFIX,
  REVERSE_V6_SUFFIX,
  RRClass,
  RRType,
  TCP_MAX,
  UDP_PLAIN_MAX,
} from "./constants.ts";
import {
  decodeName,
  decodeRecord,
  decodeRecordHeader,
  DnsFormatError,
  encodeName,
  NAME_DATA_TYPES,
  opcodeOf,
} from "./message.ts";
import { parseIP } from "../../base/ip.ts";
import { nameserverOf, nsData, soaData } from "./soa.ts";

/** What the answering core needs from the name table (implemented by NameTable). */
export interface NameLookup {
  /** Live addresses of a lower-case fully qualified name: 4 bytes (IPv4) or 16 (IPv6) each. */
  addressesOf(name: string): readonly Uint8Array[];
  /** Live names registered for an address. */
  namesOf(address: Uint8Array): readonly string[];
}

/** How to answer. */
export interface AnswerOptions {
  /** The served domain, lower case with a trailing dot, e.g. "weave.local.". */
  domain: string;
  /** TTL of table answers in seconds. */
  ttl: number;
  /** The transport the query came on: UDP replies are cut to 512 bytes or the EDNS0 size. */
  transport: "udp" | "tcp";
  /** Uniform random numbers in [0, 1) for shuffling (Math.random, or a seeded PRNG in tests). */
  random: () => number;
  /** This server's address (4 or 16 bytes), the answer for the domain's nameserver name when the table has none. */
  nameserver?: Uint8Array;
}

/** The decision to forward the query to the upstream resolvers unchanged. */
export const FORWARD = "forward";

/** An answer: reply bytes, {@link FORWARD}, or undefined to drop the query silently. */
export type Answer = Uint8Array | typeof FORWARD | undefined;

/** The fixed size of an OPT record with no options. */
const OPT_SIZE = 11;

/** The parts of a query that shape the reply. */
interface Query {
  id: number;
  flags: number;
  /** Offset just after the question (type and class included). */
  questionEnd: number;
  name: string;
  type: number;
  class: number;
  /** Whether the query carried an OPT record. */
  edns: boolean;
  /** The client's EDNS UDP size (512 when none). */
  udpSize: number;
  ednsVersion: number;
}

const u16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
}

/**
 * Decodes the parts of a query that matter, walking every section strictly.
 * @throws {DnsFormatError} on anything malformed, several questions or several OPT records
 */
function parseQuery(q: Uint8Array): Query {
  const qd = u16(q, 4);
  if (qd !== 1) throw new DnsFormatError(`Query has ${qd} questions; exactly one is allowed`);
  if ((q[HEADER_SIZE] & POINTER_MARK) !== 0) throw new DnsFormatError("Question name starts with a pointer");
  const { name, end } = decodeName(q, HEADER_SIZE);
  if (end + 4 > q.length) throw new DnsFormatError(`Truncated question at offset ${end}`);
  const query: Query = {
    id: u16(q, 0),
    flags: u16(q, 2),
    questionEnd: end + 4,
    name,
    type: u16(q, end),
    class: u16(q, end + 2),
    edns: false,
    udpSize: UDP_PLAIN_MAX,
    ednsVersion: 0,
  };
  let pos = query.questionEnd;
  const records = u16(q, 6) + u16(q, 8), additional = u16(q, 10);
  for (let i = 0; i < records + additional; i++) {
    const record = decodeRecordHeader(q, pos);
    if (NAME_DATA_TYPES.has(record.type)) decodeRecord(q, pos); // checks the name in its data
    pos = record.end;
    if (record.type !== RRType.OPT) continue;
    if (i < records || query.edns || record.name !== ".") {
      throw new DnsFormatError("OPT record misplaced, repeated or not owned by the root");
    }
    query.edns = true;
    query.udpSize = Math.max(UDP_PLAIN_MAX, record.class);
    query.ednsVersion = (record.ttl >>> 16) & 0xff;
  }
  if (pos !== q.length) throw new DnsFormatError(`${q.length - pos} bytes after the last record`);
  return query;
}

/** Writes an OPT record advertising our UDP size at `at`; returns its end. */
function putOpt(b: Uint8Array, at: number, extendedRcode: number): number {
  b[at] = 0;
  put16(b, at + 1, RRType.OPT);
  put16(b, at + 3, EDNS_UDP_SIZE);
  b[at + 5] = extendedRcode;
  b.fill(0, at + 6, at + 11);
  return at + OPT_SIZE;
}

/** Response flags: QR, the query's opcode, RD and CD copied, RA set, plus `extra` and the rcode. */
function replyFlags(queryFlags: number, extra: number, rcode: number): number {
  return Flag.qr | (queryFlags & (0x7800 | Flag.rd | Flag.cd)) | Flag.ra | extra | (rcode & 0xf);
}

/**
 * A reply carrying only an error code, for a query that is at least a header long: the question is echoed
 * when it can be parsed, EDNS0 answered when the query had it.
 *
 * @param query the query bytes (at least 12)
 * @param rcode e.g. {@link Rcode}.formErr or servFail; BADVERS (16) sets the extended rcode
 */
export function errorReply(query: Uint8Array, rcode: number): Uint8Array {
  let q: Query | undefined;
  try {
    q = parseQuery(query);
  } catch {
    q = undefined;
  }
  const qLen = q ? q.questionEnd - HEADER_SIZE : 0;
  const out = new Uint8Array(HEADER_SIZE + qLen + (q?.edns ? OPT_SIZE : 0));
  out.set(query.subarray(0, 2));
  put16(out, 2, replyFlags(u16(query, 2), 0, rcode));
  if (q) {
    put16(out, 4, 1);
    out.set(query.subarray(HEADER_SIZE, q.questionEnd), HEADER_SIZE);
    if (q.edns) {
      put16(out, 10, 1);
      putOpt(out, HEADER_SIZE + qLen, rcode >> 4);
    }
  }
  return out;
}

/** The address of a reverse name (in-addr.arpa or ip6.arpa), or undefined when it is not one. */
function reverseAddress(name: string): Uint8Array | undefined {
  let text: string;
  if (name.endsWith("." + REVERSE_V4_SUFFIX)) {
    text = name.slice(0, -REVERSE_V4_SUFFIX.length - 1).split(".").reverse().join(".");
  } else if (name.endsWith("." + REVERSE_V6_SUFFIX)) {
    const nibbles = name.slice(0, -REVERSE_V6_SUFFIX.length - 1).split(".");
    if (nibbles.length !== 32 || nibbles.some((n) => !/^[0-9a-f]$/.test(n))) return undefined;
    nibbles.reverse();
    text = Array.from({ length: 8 }, (_, i) => nibbles.slice(4 * i, 4 * i + 4).join("")).join(":");
  } else return undefined;
  try {
    return parseIP(text);
  } catch {
    return undefined;
  }
}

/** Fisher–Yates shuffle of `items` (in place) with the injected random source. */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** One answer record's type and data. */
interface Rdata {
  type: number;
  data: Uint8Array;
}

/**
 * Builds the reply: header, the copied question, answers owned by the question name, with `negative` the
 * domain's SOA as authority (left out when it does not fit), OPT; cut at `limit`.
 */
function buildReply(
  query: Uint8Array,
  q: Query,
  rcode: number,
  answers: Rdata[],
  o: AnswerOptions,
  negative = false,
): Uint8Array {
  const limit = o.transport === "tcp" ? TCP_MAX : q.edns ? Math.min(q.udpSize, EDNS_UDP_SIZE) : UDP_PLAIN_MAX;
  let soaOwner: Uint8Array | undefined, soa: Uint8Array | undefined;
  if (negative) {
    soaOwner = encodeName(o.domain);
    soa = soaData(o.domain, o.ttl);
    if (q.questionEnd + (q.edns ? OPT_SIZE : 0) + soaOwner.length + 10 + soa.length > limit) soa = undefined;
  }
  const tail = (q.edns ? OPT_SIZE : 0) + (soa ? soaOwner!.length + 10 + soa.length : 0);
  let size = q.questionEnd + tail, n = 0;
  for (; n < answers.length; n++) {
    const next = size + 12 + answers[n].data.length;
    if (next > limit) break;
    size = next;
  }
  const out = new Uint8Array(size);
  for (let i = 0; i < q.questionEnd; i++) out[i] = query[i];
  put16(out, 2, replyFlags(q.flags, Flag.aa | (n < answers.length ? Flag.tc : 0), rcode));
  put16(out, 6, n);
  put16(out, 8, soa ? 1 : 0);
  put16(out, 10, q.edns ? 1 : 0);
  let pos = q.questionEnd;
  const ttl = o.ttl >>> 0;
  const putFixed = (type: number, length: number) => {
    put16(out, pos, type);
    put16(out, pos + 2, RRClass.IN);
    put16(out, pos + 4, ttl >>> 16);
    put16(out, pos + 6, ttl & 0xffff);
    put16(out, pos + 8, length);
    pos += 10;
  };
  for (let i = 0; i < n; i++) {
    const { type, data } = answers[i];
    out[pos] = 0xc0;
    out[pos + 1] = HEADER_SIZE;
    pos += 2;
    putFixed(type, data.length);
    out.set(data, pos);
    pos += data.length;
  }
  if (soa) {
    out.set(soaOwner!, pos);
    pos += soaOwner!.length;
    putFixed(RRType.SOA, soa.length);
    out.set(soa, pos);
    pos += soa.length;
  }
  if (q.edns) putOpt(out, pos, 0);
  return out;
}

/** Answers a name inside the domain from the table. */
function answerName(
  query: Uint8Array,
  q: Query,
  name: string,
  table: NameLookup,
  o: AnswerOptions,
): Uint8Array {
  let addrs = table.addressesOf(name);
  if (addrs.length === 0 && o.nameserver && name === nameserverOf(o.domain)) addrs = [o.nameserver];
  const answers: Rdata[] = [];
  const wants = (type: number) => q.type === type || q.type === RRType.ANY;
  if (name === o.domain) {
    if (wants(RRType.SOA)) answers.push({ type: RRType.SOA, data: soaData(o.domain, o.ttl) });
    if (wants(RRType.NS)) answers.push({ type: RRType.NS, data: nsData(o.domain) });
  }
  for (const a of addrs) {
    const type = a.length === 4 ? RRType.A : RRType.AAAA;
    if (wants(type)) answers.push({ type, data: a });
  }
  if (answers.length === 0) {
    const known = addrs.length > 0 || name === o.domain;
    return buildReply(query, q, known ? Rcode.noError : Rcode.nxDomain, [], o, true);
  }
  return buildReply(query, q, Rcode.noError, shuffle(answers, o.random), o);
}

/**
 * Answers one DNS query.
 *
 * - Dropped (undefined): shorter than a header, or a response (QR set).
 * - NOTIMP: an opcode other than QUERY. FORMERR: not exactly one question, a malformed or compressed
 *   question name, a label over 63 bytes, a compression loop, truncated or trailing bytes, a bad OPT.
 *   BADVERS: EDNS version other than 0.
 * - Names in the domain (any case): A/AAAA/ANY with every address of the name, shuffled; the domain's SOA
 *   and NS (ns.DOMAIN, answered with `nameserver` when the table has no such name); NOERROR with
 *   no answer for other types of a known name and for the domain itself (an NXDOMAIN there would deny the
 *   whole domain to caches, RFC 8020); NXDOMAIN for unknown names; both negative answers carry the
 *   domain's SOA in the authority section (RFC 2308); REFUSED for classes other than IN and ANY. A single-label name known in the domain is answered as if the domain were appended.
 * - PTR for a reverse name (in-addr.arpa, ip6.arpa) of a registered address; otherwise {@link FORWARD}.
 * - Every other name: {@link FORWARD}.
 * - UDP replies over 512 bytes (or the EDNS0 size, at most {@link EDNS_UDP_SIZE}) keep the answers that fit
 *   and set TC; TCP replies are not cut below 65535 bytes.
 *
 * Never throws.
 */
export function answer(query: Uint8Array, table: NameLookup, o: AnswerOptions): Answer {
  if (query.length < HEADER_SIZE || (query[2] & 0x80) !== 0) return undefined;
  if (opcodeOf(u16(query, 2)) !== OPCODE_QUERY) return errorReply(query, Rcode.notImp);
  let q: Query;
  try {
    q = parseQuery(query);
  } catch {
    return errorReply(query, Rcode.formErr);
  }
  if (q.ednsVersion !== 0) return errorReply(query, Rcode.badVers);
  const name = /[A-Z]/.test(q.name) ? q.name.toLowerCase() : q.name;
  const inDomain = name === o.domain || name.endsWith("." + o.domain);
  const single = !inDomain && name.indexOf(".") === name.length - 1 && name !== ".";
  if (inDomain || (single && table.addressesOf(name + o.domain).length > 0)) {
    if (q.class !== RRClass.IN && q.class !== RRClass.ANY) return buildReply(query, q, Rcode.refused, [], o);
    return answerName(query, q, inDomain ? name : name + o.domain, table, o);
  }
  if (q.type === RRType.PTR || q.type === RRType.ANY) {
    const addr = reverseAddress(name);
    const names = addr ? table.namesOf(addr) : [];
    if (names.length > 0) {
      const answers = names.map((n) => ({ type: RRType.PTR, data: encodeName(n) }));
      return buildReply(query, q, Rcode.noError, answers, o);
    }
  }
  return FORWARD;
}
