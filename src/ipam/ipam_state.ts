/**
 * One peer's IPAM state on disk: its rings (wire form), allocations, reserve stamps, takeover counter and
 * whether the rings were asked for, as JSON. Restoring refuses another peer's state or other ranges.
 *
 * @module
 */

import type { PeerName } from "../mesh/gossip.ts";
import type { Held } from "./lane.ts";
import { Ring } from "./ring.ts";
import type { Steps } from "./steps.ts";

/** Persisted state as parsed, checked to belong to the peer (see {@link decodeState}). */
export type PersistedState = Record<string, unknown>;

/** The whole state of `steps`, of peer `name`, to persist. */
export function persistState(name: PeerName, steps: Steps): Uint8Array {
  const state = {
    v: 1,
    name,
    seq: steps.seq,
    wanted: steps.wanted,
    rings: steps.lanes.map((l) => l.ring.toWire()),
    lanes: steps.lanes.map((l) => ({
      reserveSince: l.reserveSince ?? null,
      held: l.held.map((h) => ({ ...h, address: h.address === undefined ? null : String(h.address) })),
    })),
  };
  return new TextEncoder().encode(JSON.stringify(state));
}

/**
 * Parses {@link persistState} output of peer `name`.
 * @throws {Error} when the bytes are not JSON, of an unknown version, or belong to another peer
 */
export function decodeState(bytes: Uint8Array, name: PeerName): PersistedState {
  let s: PersistedState;
  try {
    s = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return bad("not JSON");
  }
  if (s?.v !== 1) bad("unknown version");
  if (s.name !== name) bad(`it belongs to peer ${s.name}, not ${name}`);
  return s;
}

/**
 * Puts the persisted state `s` into the fresh engine `steps` (configured with the same ranges).
 * @throws {Error} when the state holds other ranges or malformed rings or allocations
 */
export function restoreState(s: PersistedState, steps: Steps): void {
  const rings = s.rings as unknown[], lanes = s.lanes as { reserveSince: number | null; held: unknown[] }[];
  if (!Array.isArray(rings) || !Array.isArray(lanes) || rings.length !== steps.lanes.length) {
    bad("wrong number of ranges");
  }
  steps.lanes.forEach((l, i) => {
    const ring = Ring.fromWire(rings[i]);
    if (ring.range !== l.ring.range) bad(`range ${ring.range}, configured ${l.ring.range}`);
    l.ring = ring;
    l.own = structuredClone(ring.report(s.name as PeerName));
    l.reserveSince = lanes[i].reserveSince ?? undefined;
    l.held = lanes[i].held.map(held);
  });
  steps.seq = typeof s.seq === "number" ? s.seq : 0;
  steps.wanted = s.wanted === true;
}

/** One persisted allocation. */
function held(x: unknown): Held {
  const h = x as Record<string, unknown>;
  if (typeof h.id !== "string" || typeof h.subnet !== "string") {
    bad("an allocation without id or subnet");
  }
  return {
    id: h.id as string,
    subnet: h.subnet as string,
    address: typeof h.address === "string" ? BigInt(h.address) : undefined,
    since: typeof h.since === "number" ? h.since : undefined,
    final: h.final === true,
    reserve: h.reserve === true,
    claim: h.claim === true,
  };
}

/** Throws the error for invalid persisted state, saying `why`. */
function bad(why: string): never {
  throw new Error(
    `Invalid persisted IPAM state: ${why}; remove the data directory's IPAM file to start afresh`,
  );
}
