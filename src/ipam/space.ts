/**
 * Sets of addresses as sorted, disjoint, non-adjacent half-open bigint ranges [start, end): the arithmetic
 * under ring ownership, reserves, takeovers and free space. Every function is pure and returns a
 * normalised set.
 *
 * @module
 */

/** Addresses start ≤ a < end, as bigints (see ipToBigInt in base/ip.ts). */
export interface Range {
  /** First address. */
  start: bigint;
  /** One past the last address. */
  end: bigint;
}

/** Sorts, drops empty ranges and joins overlapping or adjacent ones. */
export function normalize(ranges: readonly Range[]): Range[] {
  const sorted = ranges.filter((r) => r.end > r.start).sort((a, b) => cmp(a.start, b.start));
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** Compares two bigints for sorting. */
export function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The set of single addresses, as ranges. */
export function ofAddresses(addrs: Iterable<bigint>): Range[] {
  return normalize([...addrs].map((a) => ({ start: a, end: a + 1n })));
}

/** The addresses in both sets. */
export function intersect(a: readonly Range[], b: readonly Range[]): Range[] {
  const out: Range[] = [];
  const [x, y] = [normalize(a), normalize(b)];
  let i = 0, j = 0;
  while (i < x.length && j < y.length) {
    const s = x[i].start > y[j].start ? x[i].start : y[j].start;
    const e = x[i].end < y[j].end ? x[i].end : y[j].end;
    if (s < e) out.push({ start: s, end: e });
    if (x[i].end < y[j].end) i++;
    else j++;
  }
  return out;
}

/** The addresses in `a` and not in `b`. */
export function subtract(a: readonly Range[], b: readonly Range[]): Range[] {
  const out: Range[] = [];
  const y = normalize(b);
  for (const r of normalize(a)) {
    let s = r.start;
    for (const h of y) {
      if (h.end <= s || h.start >= r.end) continue;
      if (h.start > s) out.push({ start: s, end: h.start });
      s = h.end;
      if (s >= r.end) break;
    }
    if (s < r.end) out.push({ start: s, end: r.end });
  }
  return out;
}

/** The addresses in either set. */
export function union(a: readonly Range[], b: readonly Range[]): Range[] {
  return normalize([...a, ...b]);
}

/** The number of addresses in the set. */
export function total(ranges: readonly Range[]): bigint {
  return ranges.reduce((n, r) => n + (r.end > r.start ? r.end - r.start : 0n), 0n);
}

/** True when address `x` lies in the set. */
export function includes(ranges: readonly Range[], x: bigint): boolean {
  return ranges.some((r) => x >= r.start && x < r.end);
}

/** True when the two sets share an address. */
export function meets(a: readonly Range[], b: readonly Range[]): boolean {
  return intersect(a, b).length > 0;
}

/** True when the two sets hold the same addresses. */
export function same(a: readonly Range[], b: readonly Range[]): boolean {
  const [x, y] = [normalize(a), normalize(b)];
  return x.length === y.length && x.every((r, i) => r.start === y[i].start && r.end === y[i].end);
}

/** The lowest address of the set, or undefined when it is empty. */
export function lowest(ranges: readonly Range[]): bigint | undefined {
  return normalize(ranges)[0]?.start;
}

/**
 * The top `count` addresses of the set (fewer when it is smaller): where reserves and donations are cut,
 * far from the low end where allocation starts.
 */
export function topSlice(ranges: readonly Range[], count: bigint): Range[] {
  const out: Range[] = [];
  let left = count;
  for (const r of normalize(ranges).reverse()) {
    if (left <= 0n) break;
    const n = r.end - r.start < left ? r.end - r.start : left;
    out.push({ start: r.end - n, end: r.end });
    left -= n;
  }
  return normalize(out);
}
