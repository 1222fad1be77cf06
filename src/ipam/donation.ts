/**
 * Space donation: a peer without free space asks a peer that advertises free space; the donor offers part of
 * its main space in its report, and once a majority acknowledged the offer, rewrites its tokens so the
 * requester owns it. Pure functions over one Ring.
 *
 * @module
 */

import type { PeerName } from "../mesh/gossip.ts";
import type { Ring } from "./ring.ts";
import { usedByAll } from "./allocator.ts";
import { intersect, type Range, subtract, total } from "./space.ts";

/** The unicast asking a peer for space inside `within` of the ring over `range`. */
export interface SpaceRequest {
  /** Message kind. */
  t: "space-request";
  /** The universe, e.g. "10.32.0.0/12". */
  range: string;
  /** The addresses wanted, as decimal strings [start, end). */
  within: [string, string];
}

/** Encodes a space request. */
export function encodeSpaceRequest(range: string, within: Range): Uint8Array {
  const msg: SpaceRequest = { t: "space-request", range, within: [String(within.start), String(within.end)] };
  return new TextEncoder().encode(JSON.stringify(msg));
}

/**
 * Decodes and validates a space request.
 * @throws {Error} `Invalid space request: …`
 */
export function decodeSpaceRequest(bytes: Uint8Array): { range: string; within: Range } {
  let j: unknown;
  try {
    j = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`Invalid space request: not JSON (${(e as Error).message})`);
  }
  const o = j as Partial<SpaceRequest> | null;
  const num = /^(0|[1-9]\d{0,40})$/;
  if (
    typeof o !== "object" || o === null || o.t !== "space-request" || typeof o.range !== "string" ||
    !Array.isArray(o.within) || o.within.length !== 2 ||
    !o.within.every((x) => typeof x === "string" && num.test(x))
  ) throw new Error("Invalid space request: expected {t: 'space-request', range, within: [start, end]}");
  const within = { start: BigInt(o.within[0]), end: BigInt(o.within[1]) };
  if (within.end <= within.start) throw new Error(`Invalid space request: empty range ${o.within.join("–")}`);
  return { range: o.range, within };
}

/** The range a donor gives from its free main space inside `within`: the top half of its largest free run. */
export function planDonation(free: Range[], within: Range): Range | undefined {
  const runs = intersect(free, [within]);
  if (runs.length === 0) return undefined;
  const best = runs.reduce((a, b) => (b.end - b.start > a.end - a.start ? b : a));
  const half = (best.end - best.start + 1n) / 2n;
  return { start: best.end - half, end: best.end };
}

/**
 * Rewrites `giver`'s tokens so `to` owns `range` (within one epoch, version + 1), splitting tokens at the
 * range's ends.
 * @throws {Error} when `giver` does not own all of `range`
 */
export function giveRange(ring: Ring, giver: PeerName, range: Range, to: PeerName): void {
  if (
    intersect(ring.ownedBy(giver), [range]).reduce((n, r) => n + r.end - r.start, 0n) !==
      range.end - range.start
  ) {
    throw new Error(
      `Cannot give ${ring.format(range.start)}–${ring.format(range.end - 1n)}: not all owned by ${giver}`,
    );
  }
  const covering = (x: bigint) => ring.tokens().find((t) => x >= t.range.start && x < t.range.end)!.entry;
  if (range.end < ring.universe.end && !ring.entries.has(range.end)) {
    const c = covering(range.end);
    ring.setEntry(range.end, { owner: c.owner, epoch: c.epoch, version: c.version + 1 });
  }
  const c = covering(range.start);
  ring.setEntry(range.start, { owner: to, epoch: c.epoch, version: c.version + 1 });
  for (const [s, e] of ring.entries) {
    if (s > range.start && s < range.end) {
      ring.setEntry(s, { owner: to, epoch: e.epoch, version: e.version + 1 });
    }
  }
}

/**
 * Picks a donor among `candidates`, weighted by the free space they advertise; undefined when none has any.
 * With `within` (the addresses wanted, e.g. a subnet's), a peer whose main space (outside its reserve) holds
 * addresses there that no report uses is picked first, weighted by how many: any other peer could only
 * answer that it has none there, and the next request waits SPACE_REQUEST_RETRY_MS (constants.ts).
 */
export function pickDonor(
  ring: Ring,
  candidates: PeerName[],
  random: () => number,
  within?: Range,
): PeerName | undefined {
  if (within !== undefined) {
    const used = usedByAll(ring);
    const there = candidates.map((p) => {
      const mainThere = subtract(intersect(ring.ownedBy(p), [within]), ring.report(p).reserve);
      return { p, free: total(subtract(mainThere, used)) };
    });
    const donor = weightedPick(there, random);
    if (donor !== undefined) return donor;
  }
  return weightedPick(candidates.map((p) => ({ p, free: ring.report(p).free })), random);
}

/** Picks one of `weighted` with probability proportional to its `free`; undefined when all are 0. */
function weightedPick(all: { p: PeerName; free: bigint }[], random: () => number): PeerName | undefined {
  const weighted = all.filter((x) => x.free > 0n);
  const sum = weighted.reduce((n, x) => n + x.free, 0n);
  if (sum === 0n) return undefined;
  let r = BigInt(Math.floor(random() * 2 ** 52)) * sum / 2n ** 52n;
  for (const x of weighted) {
    if (r < x.free) return x.p;
    r -= x.free;
  }
  return weighted[weighted.length - 1].p;
}
