/**
 * A lane: one ring with this peer's local state for it (its own report, the allocations it holds), and the
 * deltas broadcast from it: every token, with only the reports, takeovers and votes changed since they were
 * last broadcast or heard.
 *
 * @module
 */

import type { PeerName } from "../mesh/gossip.ts";
import { canonical, emptyReport, ITEM_KINDS, type Report, Ring } from "./ring.ts";

/** A container's address in one ring, as this peer holds it. */
export interface Held {
  /** The container id. */
  id: string;
  /** The subnet, canonical CIDR text. */
  subnet: string;
  /** The address, once picked. */
  address?: bigint;
  /** The own report version that first carried the address. */
  since?: number;
  /** True once the address may be used. */
  final: boolean;
  /** True when it came from the reserve. */
  reserve: boolean;
  /** True for a claimed hand-set address. */
  claim: boolean;
}

/** One ring with this peer's local state for it. */
export interface Lane {
  /** The ring. */
  ring: Ring;
  /** This peer's own report, as it last wrote it. */
  own: Report;
  /** The allocations held here. */
  held: Held[];
  /** The own report stamp that first carried the reserve. */
  reserveSince?: number;
  /** When space was last asked for. */
  lastRequest?: number;
  /** A subnet whose main space ran out while a majority was reachable: ask for space, spare the reserve. */
  short?: string;
  /** Reports, takeovers and votes as last broadcast or heard, by kind and key: what a delta may leave out. */
  sent: Map<string, string>;
  /**
   * The item objects whose text {@link sent} holds, by the same keys: the ring never changes an item it
   * holds (it replaces it), so the same object needs no new text (an idle tick then costs no JSON).
   */
  sentItems: Map<string, unknown>;
}

/**
 * A lane over a new empty ring over `range`.
 * @throws {Error} when `range` is not a valid range
 */
export function newLane(range: string): Lane {
  return { ring: new Ring(range), own: emptyReport(), held: [], sent: new Map(), sentItems: new Map() };
}

/**
 * The ring of `l` as a delta: founders, removals and every token (few, and a ring is valid only with them),
 * with the reports, takeovers and votes that changed since they were last broadcast or heard, which are
 * marked sent; undefined when none changed and the tokens did not either, unless `always`. With `writer`,
 * every item that peer wrote goes too, changed or not (a peer that became reachable missed them).
 */
export function delta(l: Lane, always = false, writer?: PeerName): Ring | undefined {
  const d = l.ring.skeleton();
  return sweep(l, writer, d) || always ? d : undefined;
}

/** Marks every item and the tokens of `l`'s ring as sent: a broadcast of the whole ring carried them. */
export function markSent(l: Lane): void {
  sweep(l, undefined);
}

/**
 * Marks what changed in `l`'s ring since it was last sent (and, with `writer`, every item that peer wrote) as
 * sent, putting a copy of each into `into` when given; true when any item or the tokens changed.
 */
function sweep(l: Lane, writer: PeerName | undefined, into?: Ring): boolean {
  let changed = false;
  for (const { tag, items, put, writer: writerOf } of ITEM_KINDS) {
    for (const [k, v] of items(l.ring)) {
      const key = `${tag} ${k}`, forced = writer !== undefined && writerOf(k, v) === writer;
      if (!forced && l.sentItems.get(key) === v) continue;
      const text = canonical(v);
      l.sentItems.set(key, v);
      if (!forced && l.sent.get(key) === text) continue;
      if (into !== undefined) put(into, k, structuredClone(v));
      l.sent.set(key, text);
      changed = true;
    }
  }
  const tokens = tokensText(into ?? l.ring.skeleton());
  if (l.sent.get("tokens") !== tokens) {
    l.sent.set("tokens", tokens);
    changed = true;
  }
  return changed;
}

/** The founders, removals and tokens of a ring skeleton as text, to see whether they changed. */
function tokensText(skeleton: Ring): string {
  return canonical([skeleton.founders, [...skeleton.removed], [...skeleton.entries]]);
}

/**
 * Marks the items of `ring` (merged into `l`'s ring) that `l`'s ring now holds as they are as sent: their
 * broadcast is passed on by the mesh, so this peer's deltas need not carry them again.
 */
export function heard(l: Lane, ring: Ring): void {
  for (const { tag, items } of ITEM_KINDS) {
    const mine = items(l.ring);
    for (const [k, v] of items(ring)) {
      const text = canonical(v);
      const held = mine.get(k);
      if (held === undefined || canonical(held) !== text) continue;
      l.sent.set(`${tag} ${k}`, text);
      l.sentItems.set(`${tag} ${k}`, held);
    }
  }
}
