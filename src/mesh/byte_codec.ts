/**
 * A minimal length-prefixed binary codec for gossip envelopes and topology updates: big-endian integers,
 * strings as u16 length + UTF-8, byte blobs as u32 length + bytes.
 *
 * Decoding is for untrusted input: every read checks bounds and throws a clear Error, never reads past the end.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
/** Strings up to this many bytes are decoded by hand when ASCII (faster than TextDecoder for names). */
const SHORT_STRING = 64;

/** Interned short strings by FNV-1a hash of their bytes; cleared when it reaches {@link MAX_INTERNED}. */
const interned = new Map<number, string>();
const MAX_INTERNED = 1 << 16;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Growable writer of big-endian fields. */
export class ByteWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  /** @param capacity initial buffer size in bytes; it grows as needed */
  constructor(capacity = 64) {
    this.#buf = new Uint8Array(capacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** Number of bytes written so far. */
  get length(): number {
    return this.#len;
  }

  /** Writes one byte (0..255). */
  u8(v: number): this {
    this.#reserve(1);
    this.#buf[this.#len++] = v;
    return this;
  }

  /** Writes an unsigned 16-bit integer. */
  u16(v: number): this {
    this.#reserve(2);
    this.#view.setUint16(this.#len, v);
    this.#len += 2;
    return this;
  }

  /** Writes an unsigned 32-bit integer. */
  u32(v: number): this {
    this.#reserve(4);
    this.#view.setUint32(this.#len, v);
    this.#len += 4;
    return this;
  }

  /** Writes an unsigned 64-bit integer. */
  u64(v: bigint): this {
    this.#reserve(8);
    this.#view.setBigUint64(this.#len, v);
    this.#len += 8;
    return this;
  }

  /**
   * Writes a string as u16 byte length + UTF-8.
   * @throws {Error} when the UTF-8 form is longer than 65535 bytes
   */
  str(s: string): this {
    if (s.length <= 0xffff && isAscii(s)) {
      this.u16(s.length);
      this.#reserve(s.length);
      for (let i = 0; i < s.length; i++) this.#buf[this.#len++] = s.charCodeAt(i);
      return this;
    }
    const b = encoder.encode(s);
    if (b.length > 0xffff) throw new Error(`Cannot encode string of ${b.length} bytes: the limit is 65535`);
    this.u16(b.length);
    return this.raw(b);
  }

  /** Writes a byte blob as u32 length + bytes. */
  bytes(b: Uint8Array): this {
    this.u32(b.length);
    return this.raw(b);
  }

  /** Writes bytes with no length prefix. */
  raw(b: Uint8Array): this {
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** The bytes written, as a view: write nothing more afterwards. */
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}

/**
 * Bounds-checked reader of the fields {@link ByteWriter} writes.
 *
 * Every read throws `Error("Cannot decode <what>: ...")` on truncated or invalid input.
 */
export class ByteReader {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;
  #what: string;

  /**
   * @param buf the bytes to read
   * @param what what is being decoded, for error messages (e.g. "gossip message")
   */
  constructor(buf: Uint8Array, what: string) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#what = what;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  /** Throws a decode error with `detail`. */
  fail(detail: string): never {
    throw new Error(
      `Cannot decode ${this.#what}: ${detail}; the sender is incompatible or the data is corrupt`,
    );
  }

  #need(n: number, field: string): void {
    if (this.#pos + n > this.#buf.length) {
      this.fail(`'${field}' needs ${n} bytes at offset ${this.#pos} but only ${this.remaining} remain`);
    }
  }

  /** Reads one byte. */
  u8(field: string): number {
    this.#need(1, field);
    return this.#buf[this.#pos++];
  }

  /** Reads an unsigned 16-bit integer. */
  u16(field: string): number {
    this.#need(2, field);
    const v = this.#view.getUint16(this.#pos);
    this.#pos += 2;
    return v;
  }

  /** Reads an unsigned 32-bit integer. */
  u32(field: string): number {
    this.#need(4, field);
    const v = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return v;
  }

  /** Reads an unsigned 64-bit integer. */
  u64(field: string): bigint {
    this.#need(8, field);
    const v = this.#view.getBigUint64(this.#pos);
    this.#pos += 8;
    return v;
  }

  /** Reads a u16-length-prefixed UTF-8 string. */
  str(field: string): string {
    const n = this.u16(field);
    this.#need(n, field);
    const start = this.#pos;
    this.#pos += n;
    return n <= SHORT_STRING ? this.#short(start, n, field) : this.#utf8(start, n, field);
  }

  /** Short strings repeat (peer names, addresses), so ASCII ones are interned by a hash of their bytes. */
  #short(start: number, n: number, field: string): string {
    const b = this.#buf;
    let h = 0x811c9dc5;
    for (let i = start; i < start + n; i++) {
      if (b[i] > 0x7f) return this.#utf8(start, n, field);
      h = Math.imul(h ^ b[i], 0x01000193);
    }
    const cached = interned.get(h);
    if (cached !== undefined && cached.length === n) {
      let same = true;
      for (let i = 0; i < n && same; i++) same = cached.charCodeAt(i) === b[start + i];
      if (same) return cached;
    }
    const s = String.fromCharCode.apply(null, b.subarray(start, start + n) as unknown as number[]);
    if (interned.size >= MAX_INTERNED) interned.clear();
    interned.set(h, s);
    return s;
  }

  #utf8(start: number, n: number, field: string): string {
    const b = this.#buf.subarray(start, start + n);
    try {
      return decoder.decode(b);
    } catch {
      return this.fail(`'${field}' is not valid UTF-8`);
    }
  }

  /** Reads a u32-length-prefixed byte blob (a view, not a copy). */
  bytes(field: string): Uint8Array {
    return this.raw(this.u32(field), field);
  }

  /** Reads `n` bytes (a view, not a copy). */
  raw(n: number, field: string): Uint8Array {
    this.#need(n, field);
    const b = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return b;
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing bytes`);
  }
}
