/**
 * IPv4 and IPv6 addresses and CIDR prefixes: parsing with clear errors, formatting (RFC 5952 for IPv6),
 * and conversion to bigint for address arithmetic (IPAM) and to bytes for the wire (netlink, DNS).
 *
 * @module
 */

/** An address family: 4 or 6. */
export type Family = 4 | 6;

/** A parsed CIDR: the address as written (host bits kept) and the prefix length. */
export interface Cidr {
  /** 4 or 6. */
  family: Family;
  /** The address bytes, 4 or 16 long, host bits as written. */
  address: Uint8Array;
  /** Prefix length in bits: 0–32 for IPv4, 0–128 for IPv6. */
  prefix: number;
}

/** Parses a dotted-quad IPv4 address into 4 bytes, or returns undefined. */
function parseV4(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9]\d{0,2})$/.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** Parses an IPv6 address (with :: and an optional trailing dotted quad) into 16 bytes, or returns undefined. */
function parseV6(s: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.length > 45) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === "") return [];
    const out: number[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseV4(p);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1 && head.length !== 8) return undefined;
  if (halves.length === 2 && head.length + tail.length > 7) return undefined;
  const all = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * Parses an IPv4 or IPv6 address.
 *
 * @returns 4 bytes for IPv4, 16 for IPv6
 * @throws {Error} `Invalid IP address 'x': expected …`
 */
export function parseIP(s: string): Uint8Array {
  const b = s.includes(":") ? parseV6(s) : parseV4(s);
  if (!b) {
    throw new Error(`Invalid IP address '${s}': expected dotted IPv4 like 10.32.0.1 or IPv6 like fd00::1`);
  }
  return b;
}

/** True when `s` is a valid IPv4 or IPv6 address. */
export function isIP(s: string): boolean {
  return (s.includes(":") ? parseV6(s) : parseV4(s)) !== undefined;
}

/**
 * Formats 4 or 16 address bytes: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as ::).
 *
 * @throws {Error} when `b` is neither 4 nor 16 bytes long
 */
export function formatIP(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new Error(`Invalid IP address bytes: length ${b.length}, expected 4 or 16`);
  const g = Array.from({ length: 8 }, (_, i) => (b[2 * i] << 8) | b[2 * i + 1]);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}

/**
 * Parses `ADDRESS/PREFIX`. A bare address is refused unless `defaultPrefix` says what it means.
 *
 * @throws {Error} `Invalid CIDR 'x': …` naming what is wrong
 */
export function parseCIDR(s: string, defaultPrefix?: number): Cidr {
  const slash = s.indexOf("/");
  const addrText = slash < 0 ? s : s.slice(0, slash);
  const b = addrText.includes(":") ? parseV6(addrText) : parseV4(addrText);
  if (!b) throw new Error(`Invalid CIDR '${s}': '${addrText}' is not an IP address`);
  const family: Family = b.length === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  let prefix: number;
  if (slash < 0) {
    if (defaultPrefix === undefined) {
      throw new Error(`Invalid CIDR '${s}': add a prefix length, e.g. '${s}/24'`);
    }
    prefix = defaultPrefix;
  } else {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
      throw new Error(`Invalid CIDR '${s}': prefix length '${p}' must be 0 to ${max}`);
    }
    prefix = Number(p);
  }
  return { family, address: b, prefix };
}

/** Formats a {@link Cidr} as `address/prefix`. */
export function formatCIDR(c: Cidr): string {
  return `${formatIP(c.address)}/${c.prefix}`;
}

/** The address bytes as an unsigned bigint (big-endian). */
export function ipToBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

/**
 * The bigint `n` as 4 (family 4) or 16 (family 6) address bytes.
 *
 * @throws {RangeError} when `n` does not fit the family
 */
export function bigIntToIP(n: bigint, family: Family): Uint8Array {
  const len = family === 4 ? 4 : 16;
  if (n < 0n || n >= 1n << BigInt(len * 8)) throw new RangeError(`Address ${n} does not fit IPv${family}`);
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** The network (first) address of a CIDR, host bits cleared, as a bigint. */
export function networkOf(c: Cidr): bigint {
  const bits = BigInt(c.address.length * 8);
  const host = bits - BigInt(c.prefix);
  return (ipToBigInt(c.address) >> host) << host;
}

/** The number of addresses a CIDR covers (2^(bits − prefix)). */
export function sizeOf(c: Cidr): bigint {
  return 1n << BigInt(c.address.length * 8 - c.prefix);
}

/** True when two CIDRs share at least one address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const [na, nb] = [networkOf(a), networkOf(b)];
  return na < nb + sizeOf(b) && nb < na + sizeOf(a);
}

/** True when `addr` (bytes of the same family) lies inside `c`. */
export function contains(c: Cidr, addr: Uint8Array): boolean {
  if (addr.length !== c.address.length) return false;
  const n = ipToBigInt(addr), net = networkOf(c);
  return n >= net && n < net + sizeOf(c);
}
