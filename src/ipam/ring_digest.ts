/**
 * Digests of IPAM rings, exchanged on a new connection instead of whole rings: per ring, a hash of its
 * founders, removals and tokens, and a hash of each report, takeover and vote by key. The answer to a digest
 * is the ring's skeleton (founders, removals, tokens: a ring is valid only with them) with the items the
 * digest lacks or has different; both ends answer each other, and merge keeps the winner of each item.
 *
 * Wire form: JSON, `{"v":1,"rings":[{"range":…,"tokens":hash,"items":[[key, hash], …]}, …]}`.
 *
 * @module
 */

import { MAX_ITEMS } from "./constants.ts";
import { canonical, ITEM_KINDS, type Ring } from "./ring.ts";
import { parseWire } from "./ring_wire.ts";

/** The digest of one ring. */
interface RingDigest {
  range: string;
  tokens: string;
  items: Map<string, string>;
}

/** The digest of `rings`, one message. */
export function encodeDigest(rings: readonly Ring[]): Uint8Array {
  const wire = {
    v: 1,
    rings: rings.map((r) => ({
      range: r.range,
      tokens: tokensHash(r),
      items: ITEM_KINDS.flatMap(({ tag, items }) =>
        [...items(r)].map(([k, v]) => [`${tag} ${k}`, itemHash(v)])
      ),
    })),
  };
  return new TextEncoder().encode(JSON.stringify(wire));
}

/**
 * What of `rings` the sender of `digest` lacks: per ring its skeleton with the items the digest lacks or has
 * different; undefined when it lacks nothing.
 * @throws {Error} `Invalid IP allocation digest: …` when `digest` is malformed or covers other ranges
 */
export function answerDigest(rings: readonly Ring[], digest: Uint8Array): Ring[] | undefined {
  const theirs = decodeDigest(digest);
  const mine = rings.map((r) => r.range).join(" "), other = theirs.map((d) => d.range).join(" ");
  if (mine !== other) fail(`ranges '${other}', here '${mine}'; give every peer the same --ipalloc-range`);
  let lacking = false;
  const out = rings.map((r, i) => {
    const d = theirs[i], a = r.skeleton();
    if (tokensHash(r) !== d.tokens) lacking = true;
    for (const { tag, items, put } of ITEM_KINDS) {
      for (const [k, v] of items(r)) {
        if (d.items.get(`${tag} ${k}`) === itemHash(v)) continue;
        put(a, k, structuredClone(v));
        lacking = true;
      }
    }
    return a;
  });
  return lacking ? out : undefined;
}

function decodeDigest(bytes: Uint8Array): RingDigest[] {
  let j: unknown;
  try {
    j = parseWire(bytes);
  } catch (e) {
    return fail((e as Error).message);
  }
  const o = j as { v?: unknown; rings?: unknown };
  if (typeof o !== "object" || o === null || o.v !== 1 || !Array.isArray(o.rings)) {
    fail("expected an object with v 1 and a list of rings");
  }
  const rings = o.rings as unknown[];
  if (rings.length < 1 || rings.length > 2) fail(`${rings.length} rings, expected one or two`);
  return rings.map((x) => {
    const r = x as { range?: unknown; tokens?: unknown; items?: unknown };
    if (typeof r?.range !== "string" || typeof r.tokens !== "string" || !Array.isArray(r.items)) {
      fail("a ring without range, tokens or items");
    }
    const items = r.items as unknown[];
    if (items.length > 3 * MAX_ITEMS) fail(`${items.length} items, at most ${3 * MAX_ITEMS} allowed`);
    const map = new Map<string, string>();
    for (const it of items) {
      if (!Array.isArray(it) || it.length !== 2 || typeof it[0] !== "string" || typeof it[1] !== "string") {
        fail("an item is not a [key, hash] pair of texts");
      }
      map.set(it[0], it[1]);
    }
    return { range: r.range as string, tokens: r.tokens as string, items: map };
  });
}

/** Item hashes by item object: a ring replaces its items and never changes them, so each is hashed once. */
const hashes = new WeakMap<object, string>();

/** The hash of a ring item's canonical text. */
function itemHash(v: unknown): string {
  if (typeof v !== "object" || v === null) return hash(canonical(v));
  let h = hashes.get(v);
  if (h === undefined) hashes.set(v, h = hash(canonical(v)));
  return h;
}

/** The hash of a ring's founders, removals and tokens, in a canonical order. */
function tokensHash(r: Ring): string {
  return hash(canonical([r.founders, [...r.removed].sort(), r.starts().map((s) => [s, r.entries.get(s)])]));
}

/** Two 32-bit FNV-1a hashes of `text` (different offsets), in base 36: items that differ almost surely hash apart. */
function hash(text: string): string {
  let a = 0x811c9dc5, b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  return `${(a >>> 0).toString(36)}.${(b >>> 0).toString(36)}`;
}

function fail(msg: string): never {
  throw new Error(`Invalid IP allocation digest: ${msg}`);
}
