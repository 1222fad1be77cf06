/**
 * The DNS wire codec (RFC 1035 §4, EDNS0 from RFC 6891): header, questions and resource records, name
 * compression on encode, decompression with loop and bounds protection on decode. Strict: anything that is
 * not a well-formed message throws {@link DnsFormatError} saying where and why.
 *
 * Names are text with a trailing dot ("x.weave.local.", root "."), case as written; bytes outside printable
 * ASCII, "." and "\" inside a label are escaped as in zone files ("\.", "\\", "\DDD").
 *
 * @module
 */

import {
  HEADER_SIZE,
  MAX_LABEL_LENGTH,
  MAX_NAME_LENGTH,
  POINTER_MARK,
  RRType,
  TCP_MAX,
} from "./constants.ts";

/** A DNS message that is not well formed: truncated, a bad name, a compression loop, trailing bytes. */
export class DnsFormatError extends Error {
  /** @param message what is wrong and where */
  constructor(message: string) {
    super(message);
    this.name = "DnsFormatError";
  }
}

/** One entry of the question section. */
export interface Question {
  /** The queried name, e.g. "x.weave.local.". */
  name: string;
  /** Record type, see {@link RRType}. */
  type: number;
  /** Record class, usually 1 (IN). */
  class: number;
}

/** One resource record of the answer, authority or additional section. */
export interface ResourceRecord {
  /** Owner name. */
  name: string;
  /** Record type, see {@link RRType}. */
  type: number;
  /** Class; for OPT the sender's UDP payload size. */
  class: number;
  /** Time to live in seconds; for OPT the extended rcode, version and flags. */
  ttl: number;
  /** The record data: a name for NS, CNAME and PTR, raw bytes for every other type. */
  data: Uint8Array | string;
}

/** A whole DNS message. */
export interface Message {
  /** Query id, 0–65535. */
  id: number;
  /** The 16-bit flags word: QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode (see {@link Flag}). */
  flags: number;
  /** Question section. */
  questions: Question[];
  /** Answer section. */
  answers: ResourceRecord[];
  /** Authority section. */
  authorities: ResourceRecord[];
  /** Additional section (where the EDNS0 OPT record lives). */
  additionals: ResourceRecord[];
}

/** The EDNS0 parameters carried by an OPT record. */
export interface Edns {
  /** The sender's largest UDP payload in bytes (values under 512 mean 512). */
  udpSize: number;
  /** EDNS version; only 0 exists. */
  version: number;
  /** Upper 8 bits of the 12-bit response code. */
  extendedRcode: number;
  /** DNSSEC OK bit. */
  dnssecOk: boolean;
}

/** The opcode (4 bits) of a flags word. */
export function opcodeOf(flags: number): number {
  return (flags >> 11) & 0xf;
}

/** The (header) rcode (low 4 bits) of a flags word. */
export function rcodeOf(flags: number): number {
  return flags & 0xf;
}

/** Types whose record data is a single domain name, which may be compressed (RFC 3597 §4). */
export const NAME_DATA_TYPES: ReadonlySet<number> = new Set([RRType.NS, RRType.CNAME, RRType.PTR]);

// ---- Names ----

/** Appends one label to `out` in presentation form (escapes as in zone files). */
function labelText(buf: Uint8Array, start: number, len: number): string {
  let s = "";
  for (let i = start; i < start + len; i++) {
    const c = buf[i];
    if (c === 0x2e || c === 0x5c) s += "\\" + String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += "\\" + String(c).padStart(3, "0");
  }
  return s;
}

/**
 * Decodes a possibly compressed name at `offset`.
 *
 * Every compression pointer must point before the start of the segment it was found in, so the decoder
 * always moves backwards and cannot loop; the expanded name must fit 255 bytes.
 *
 * @returns the name and the offset just after it (after the first pointer when there is one)
 * @throws {DnsFormatError} on a truncated name, a forward or looping pointer, a label over 63 bytes,
 *   a reserved label type or a name over 255 bytes
 */
export function decodeName(buf: Uint8Array, offset: number): { name: string; end: number } {
  let pos = offset, segment = offset, end = -1, wire = 1, name = "";
  for (;;) {
    if (pos >= buf.length) throw new DnsFormatError(`Truncated name at offset ${offset}`);
    const len = buf[pos];
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { name: name === "" ? "." : name, end };
    }
    const mark = len & POINTER_MARK;
    if (mark === POINTER_MARK) {
      if (pos + 1 >= buf.length) throw new DnsFormatError(`Truncated compression pointer at offset ${pos}`);
      const target = ((len & 0x3f) << 8) | buf[pos + 1];
      if (target >= segment) {
        throw new DnsFormatError(
          `Compression pointer at offset ${pos} to ${target} does not point backwards`,
        );
      }
      if (end < 0) end = pos + 2;
      pos = segment = target;
      continue;
    }
    if (mark !== 0) throw new DnsFormatError(`Reserved label type 0x${len.toString(16)} at offset ${pos}`);
    wire += len + 1;
    if (wire > MAX_NAME_LENGTH) throw new DnsFormatError(`Name at offset ${offset} is longer than 255 bytes`);
    if (pos + 1 + len > buf.length) throw new DnsFormatError(`Truncated label at offset ${pos}`);
    name += labelText(buf, pos + 1, len) + ".";
    pos += 1 + len;
  }
}

/**
 * Splits a name in presentation form into its labels' bytes (the root is none).
 *
 * @throws {DnsFormatError} on an empty label, a label over 63 bytes, a bad escape, a non-ASCII character,
 *   or a name over 255 wire bytes
 * @example
 * ```ts
 * nameLabels("x.weave.local."); // [Uint8Array "x", "weave", "local"]
 * ```
 */
export function nameLabels(name: string): Uint8Array[] {
  if (name === "." || name === "") return [];
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let wire = 1;
  const finish = () => {
    if (cur.length === 0) {
      throw new DnsFormatError(`Invalid DNS name '${name}': empty label; remove the extra dot`);
    }
    if (cur.length > MAX_LABEL_LENGTH) {
      throw new DnsFormatError(`Invalid DNS name '${name}': a label is longer than 63 bytes; shorten it`);
    }
    wire += cur.length + 1;
    labels.push(Uint8Array.from(cur));
    cur = [];
  };
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i);
    if (ch === 0x2e) finish();
    else if (ch === 0x5c) {
      const digits = name.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(digits) && Number(digits) <= 255) {
        cur.push(Number(digits));
        i += 3;
      } else if (i + 1 < name.length && !/\d/.test(name[i + 1])) cur.push(name.charCodeAt(++i));
      else {throw new DnsFormatError(
          `Invalid DNS name '${name}': bad escape at character ${i}; use \\DDD or \\X`,
        );}
    } else if (ch > 0x7e || ch < 0x20) {
      throw new DnsFormatError(`Invalid DNS name '${name}': character ${i} is not ASCII; use punycode`);
    } else cur.push(ch);
  }
  if (cur.length > 0) finish();
  if (wire > MAX_NAME_LENGTH) throw new DnsFormatError(`Invalid DNS name '${name}': longer than 255 bytes`);
  return labels;
}

/**
 * The uncompressed wire form of a name.
 *
 * @throws {DnsFormatError} as {@link nameLabels}
 */
export function encodeName(name: string): Uint8Array {
  const labels = nameLabels(name);
  const out = new Uint8Array(labels.reduce((n, l) => n + l.length + 1, 1));
  let pos = 0;
  for (const l of labels) {
    out[pos] = l.length;
    out.set(l, pos + 1);
    pos += l.length + 1;
  }
  return out;
}

/**
 * The canonical form of a name for comparisons: lower case (ASCII only, RFC 4343) with a trailing dot.
 *
 * @throws {DnsFormatError} as {@link nameLabels}
 */
export function canonicalName(name: string): string {
  const n = name.endsWith(".") ? name : name + ".";
  nameLabels(n);
  return n.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

// ---- Encoding ----

/** A growing output buffer that compresses names against the names written before. */
class Writer {
  #buf = new Uint8Array(512);
  #view = new DataView(this.#buf.buffer);
  #names = new Map<string, number>();
  length = 0;

  #reserve(n: number): void {
    if (this.length + n > TCP_MAX) throw new DnsFormatError(`Message is longer than ${TCP_MAX} bytes`);
    if (this.length + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.length + n));
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u16(v: number): void {
    this.#reserve(2);
    this.#view.setUint16(this.length, v);
    this.length += 2;
  }

  u32(v: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.length, v >>> 0);
    this.length += 4;
  }

  bytes(b: Uint8Array): void {
    this.#reserve(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
  }

  setU16(at: number, v: number): void {
    this.#view.setUint16(at, v);
  }

  name(name: string): void {
    const labels = nameLabels(name);
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).map((l) => String.fromCharCode(l.length, ...l)).join("");
      const at = this.#names.get(key);
      if (at !== undefined) return this.u16(0xc000 | at);
      if (this.length < 0x4000) this.#names.set(key, this.length);
      this.bytes(Uint8Array.of(labels[i].length));
      this.bytes(labels[i]);
    }
    this.bytes(Uint8Array.of(0));
  }

  done(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

function checkU16(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new DnsFormatError(`${what} ${v} does not fit 16 bits`);
  }
}

function writeRecord(w: Writer, rr: ResourceRecord): void {
  checkU16(rr.type, "Record type");
  checkU16(rr.class, "Record class");
  if (!Number.isInteger(rr.ttl) || rr.ttl < 0 || rr.ttl > 0xffffffff) {
    throw new DnsFormatError(`Record TTL ${rr.ttl} does not fit 32 bits`);
  }
  w.name(rr.name);
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl);
  const lengthAt = w.length;
  w.u16(0);
  if (typeof rr.data === "string") {
    if (!NAME_DATA_TYPES.has(rr.type)) {
      throw new DnsFormatError(`Record type ${rr.type} carries bytes, not the name '${rr.data}'`);
    }
    w.name(rr.data);
  } else w.bytes(rr.data);
  const len = w.length - lengthAt - 2;
  w.setU16(lengthAt, len);
}

/**
 * Encodes a message, compressing repeated names.
 *
 * @throws {DnsFormatError} when a name is invalid, a field does not fit, or the message exceeds 65535 bytes
 * @example
 * ```ts
 * const q = encodeMessage({
 *   id: 1, flags: Flag.rd, questions: [{ name: "x.weave.local.", type: RRType.A, class: RRClass.IN }],
 *   answers: [], authorities: [], additionals: [],
 * });
 * ```
 */
export function encodeMessage(m: Message): Uint8Array {
  checkU16(m.id, "Message id");
  checkU16(m.flags, "Message flags");
  const w = new Writer();
  w.u16(m.id);
  w.u16(m.flags);
  for (const n of [m.questions.length, m.answers.length, m.authorities.length, m.additionals.length]) {
    checkU16(n, "Section count");
    w.u16(n);
  }
  for (const q of m.questions) {
    checkU16(q.type, "Question type");
    checkU16(q.class, "Question class");
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of [...m.answers, ...m.authorities, ...m.additionals]) writeRecord(w, rr);
  return w.done();
}

// ---- Decoding ----

/** A resource record's owner and fixed fields, with the bounds of its data. */
export interface RecordHeader {
  /** Owner name. */
  name: string;
  /** Record type. */
  type: number;
  /** Class (for OPT the UDP payload size). */
  class: number;
  /** TTL (for OPT the extended rcode, version and flags). */
  ttl: number;
  /** Offset of the record data. */
  dataStart: number;
  /** Offset just after the record. */
  end: number;
}

const u16At = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];

/**
 * Reads the owner and fixed fields of the record at `offset`, checking that its data lies inside `buf`
 * (the data itself is not looked at; {@link decodeRecord} does that).
 *
 * @throws {DnsFormatError} when the owner name is malformed or the record is truncated
 */
export function decodeRecordHeader(buf: Uint8Array, offset: number): RecordHeader {
  const { name, end: nameEnd } = decodeName(buf, offset);
  if (nameEnd + 10 > buf.length) throw new DnsFormatError(`Truncated record header at offset ${nameEnd}`);
  const len = u16At(buf, nameEnd + 8), dataStart = nameEnd + 10, end = dataStart + len;
  if (end > buf.length) {
    throw new DnsFormatError(
      `Record data at offset ${dataStart} claims ${len} bytes but ${buf.length - dataStart} follow`,
    );
  }
  return {
    name,
    type: u16At(buf, nameEnd),
    class: u16At(buf, nameEnd + 2),
    ttl: ((u16At(buf, nameEnd + 4) << 16) | u16At(buf, nameEnd + 6)) >>> 0,
    dataStart,
    end,
  };
}

/**
 * Reads the resource record at `offset` with its bounds checked.
 *
 * @returns the record and the offset after it
 * @throws {DnsFormatError} when the record is truncated or its data is malformed
 */
export function decodeRecord(buf: Uint8Array, offset: number): { record: ResourceRecord; end: number } {
  const { name, type, class: cls, ttl, dataStart: start, end } = decodeRecordHeader(buf, offset);
  let data: Uint8Array | string;
  if (NAME_DATA_TYPES.has(type)) {
    const target = decodeName(buf.subarray(0, end), start);
    if (target.end !== end) {
      throw new DnsFormatError(`Record data at offset ${start} has bytes after its name`);
    }
    data = target.name;
  } else data = buf.slice(start, end);
  return { record: { name, type, class: cls, ttl, data }, end };
}

/**
 * Decodes a whole message. The section counts must match the records present, with no bytes left over.
 *
 * @throws {DnsFormatError} on any malformation (message shorter than the header, truncated sections,
 *   bad names, compression loops, trailing bytes)
 */
export function decodeMessage(buf: Uint8Array): Message {
  if (buf.length < HEADER_SIZE) {
    throw new DnsFormatError(`Message of ${buf.length} bytes is shorter than the ${HEADER_SIZE}-byte header`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const m: Message = {
    id: view.getUint16(0),
    flags: view.getUint16(2),
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
  };
  let pos = HEADER_SIZE;
  for (let i = view.getUint16(4); i > 0; i--) {
    const { name, end } = decodeName(buf, pos);
    if (end + 4 > buf.length) throw new DnsFormatError(`Truncated question at offset ${end}`);
    m.questions.push({ name, type: view.getUint16(end), class: view.getUint16(end + 2) });
    pos = end + 4;
  }
  for (const [section, count] of [[m.answers, 6], [m.authorities, 8], [m.additionals, 10]] as const) {
    for (let i = view.getUint16(count); i > 0; i--) {
      const { record, end } = decodeRecord(buf, pos);
      section.push(record);
      pos = end;
    }
  }
  if (pos !== buf.length) throw new DnsFormatError(`${buf.length - pos} bytes after the last record`);
  return m;
}

/**
 * The EDNS0 parameters of a message, or undefined when it has no OPT record.
 *
 * @throws {DnsFormatError} when there are several OPT records or the OPT owner is not the root
 */
export function ednsOf(m: Message): Edns | undefined {
  const opts = m.additionals.filter((r) => r.type === RRType.OPT);
  if (opts.length === 0) return undefined;
  if (opts.length > 1) {
    throw new DnsFormatError(`Message has ${opts.length} OPT records; at most one is allowed`);
  }
  const opt = opts[0];
  if (opt.name !== ".") throw new DnsFormatError(`OPT record owner '${opt.name}' must be the root '.'`);
  return {
    udpSize: opt.class,
    version: (opt.ttl >>> 16) & 0xff,
    extendedRcode: opt.ttl >>> 24,
    dnssecOk: (opt.ttl & 0x8000) !== 0,
  };
}
