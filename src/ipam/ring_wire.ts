/**
 * The wire form of an IPAM ring (see ring.ts): JSON with addresses as decimal strings, maps as sorted lists,
 * and its strict validation, which names the first thing wrong and never builds a half-valid ring.
 *
 * @module
 */

import type { PeerName } from "../mesh/gossip.ts";
import { PEER_NAME } from "../../base/mac.ts";
import { MAX_ITEMS, MAX_RING_BYTES, WIRE_VERSION } from "./constants.ts";
import { compareRounds, Ring, type Vote } from "./ring.ts";
import { normalize, type Range } from "./space.ts";

/** The wire form of `ring` as a plain JSON value. */
export function ringToWire(ring: Ring): unknown {
  const addrs = (xs: bigint[]) => xs.map(String);
  const ranges = (rs: Range[]) => rs.map((r) => [String(r.start), String(r.end)]);
  const wire = {
    v: WIRE_VERSION,
    range: ring.range,
    founders: ring.founders,
    removed: [...ring.removed].sort(),
    entries: ring.starts().map((s) => {
      const e = ring.entries.get(s)!;
      return [String(s), e.owner, e.epoch, e.version];
    }),
    reports: [...ring.reports.keys()].sort().map((p) => {
      const r = ring.reports.get(p)!;
      return {
        peer: p,
        version: r.version,
        stamp: r.stamp,
        inUse: addrs(r.inUse),
        claims: addrs(r.claims),
        offers: r.offers.map((o) => [String(o.range.start), String(o.range.end), o.to, o.since]),
        reserve: ranges(r.reserve),
        free: String(r.free),
        acks: Object.keys(r.acks).sort().map((k) => [k, r.acks[k]]),
        backs: [...r.backs].sort(),
      };
    }),
    takeovers: [...ring.takeovers.keys()].sort().map((id) => {
      const t = ring.takeovers.get(id)!;
      const writes = t.writes.map((w) => [String(w.start), w.owner]);
      return {
        id,
        victim: t.victim,
        heir: t.heir,
        epoch: t.epoch,
        ranges: ranges(t.ranges),
        writes,
        admin: t.admin,
      };
    }),
    votes: [...ring.votes.keys()].sort().map((p) => {
      const v = ring.votes.get(p)!;
      return [
        p,
        v.promise.n,
        v.promise.by,
        v.accepted ? [v.accepted.round.n, v.accepted.round.by, v.accepted.value] : null,
      ];
    }),
  };
  return wire;
}

/**
 * Validates a wire value (see {@link ringToWire}) and builds the ring.
 * @throws {Error} `Invalid IP allocation ring: …` naming the first thing wrong
 */
export function ringFromWire(json: unknown): Ring {
  return new Decoder().ring(json);
}

/**
 * Parses and strictly validates one wire message of a ring.
 * @throws {Error} `Invalid IP allocation ring: …` naming the first thing wrong
 */
export function decodeRing(bytes: Uint8Array): Ring {
  return ringFromWire(parseWire(bytes));
}

/**
 * Parses the JSON of a wire message, refusing oversized input.
 * @throws {Error} `Invalid IP allocation ring: …` when too large or not JSON
 */
export function parseWire(bytes: Uint8Array): unknown {
  if (bytes.length > MAX_RING_BYTES) {
    throw new Error(`Invalid IP allocation ring: ${bytes.length} bytes, at most ${MAX_RING_BYTES} allowed`);
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`Invalid IP allocation ring: not JSON (${(e as Error).message})`);
  }
}

/** Strict validation of the decoded JSON, building a Ring. */
class Decoder {
  private ringOf?: Ring;

  /** Decodes the top-level object. */
  ring(j: unknown): Ring {
    const o = this.object(j, "ring");
    if (o.v !== WIRE_VERSION) this.fail(`wire version '${o.v}', expected ${WIRE_VERSION}`);
    if (typeof o.range !== "string") this.fail("range is missing");
    let ring: Ring;
    try {
      ring = new Ring(o.range as string);
    } catch (e) {
      return this.fail((e as Error).message);
    }
    if (ring.range !== o.range) this.fail(`range '${o.range}' has host bits set`);
    this.ringOf = ring;
    const founders = this.list(o.founders, "founders").map((p) => this.peer(p));
    if (founders.join() !== [...new Set(founders)].sort().join()) {
      this.fail("founders are not sorted and unique");
    }
    ring.adoptFounders(founders);
    for (const p of this.list(o.removed, "removed")) ring.remove(this.peer(p));
    for (const e of this.list(o.entries, "entries")) {
      const [s, owner, epoch, version] = this.tuple(e, 4, "entry");
      const start = this.addr(s);
      if (ring.entries.has(start)) this.fail(`token ${ring.format(start)} appears twice`);
      ring.setEntry(start, {
        owner: this.peer(owner),
        epoch: this.count(epoch),
        version: this.count(version),
      });
    }
    if (ring.isInitialised() !== ring.entries.has(ring.universe.start)) {
      this.fail("an initialised ring needs a token at the start of its range, an empty ring none");
    }
    if (!ring.isInitialised() && ring.entries.size > 0) this.fail("tokens without founders");
    for (const r of this.list(o.reports, "reports")) {
      const ro = this.object(r, "report");
      const peer = this.peer(ro.peer);
      if (ring.reports.has(peer)) this.fail(`report of ${peer} appears twice`);
      const acks: Record<PeerName, number> = {};
      for (const a of this.list(ro.acks, "acks")) {
        const [p, v] = this.tuple(a, 2, "ack");
        acks[this.peer(p)] = this.count(v);
      }
      const version = this.count(ro.version), stamp = this.count(ro.stamp);
      if (stamp > version) this.fail(`report of ${peer} has stamp ${stamp} above its version ${version}`);
      ring.setReport(peer, {
        version,
        stamp,
        inUse: this.addrs(ro.inUse),
        claims: this.addrs(ro.claims),
        offers: this.list(ro.offers, "offers").map((x) => {
          const [s, e, to, since] = this.tuple(x, 4, "offer");
          return { range: this.range([s, e]), to: this.peer(to), since: this.count(since) };
        }),
        reserve: this.ranges(ro.reserve),
        free: this.bigCount(ro.free),
        acks,
        backs: this.list(ro.backs, "backs").map((b) => this.id(b)),
      });
    }
    for (const t of this.list(o.takeovers, "takeovers")) {
      const to = this.object(t, "takeover");
      const id = this.id(to.id);
      if (ring.takeovers.has(id)) this.fail(`takeover ${id} appears twice`);
      const heir = this.peer(to.heir);
      if (!id.startsWith(`${heir}/`)) this.fail(`takeover '${id}' is not named after its heir ${heir}`);
      const ranges = this.ranges(to.ranges);
      if (ranges.length === 0) this.fail(`takeover '${id}' takes nothing`);
      const writes = this.list(to.writes, "writes").map((w) => {
        const [s, owner] = this.tuple(w, 2, "write");
        return { start: this.addr(s), owner: this.peer(owner) };
      });
      const victim = this.peer(to.victim);
      if (victim === heir) this.fail(`takeover '${id}' has the same victim and heir`);
      if (typeof to.admin !== "boolean") this.fail(`takeover '${id}' lacks admin`);
      ring.addTakeover({
        id,
        victim,
        heir,
        epoch: this.count(to.epoch),
        ranges,
        writes,
        admin: to.admin,
      });
    }
    for (const v of this.list(o.votes, "votes")) {
      const [p, n, by, acc] = this.tuple(v, 4, "vote");
      const vote: Vote = { promise: { n: this.count(n), by: by === "" ? "" : this.peer(by) } };
      if (acc !== null) {
        const [an, aby, value] = this.tuple(acc, 3, "accepted value");
        vote.accepted = {
          round: { n: this.count(an), by: this.peer(aby) },
          value: this.list(value, "accepted value").map((x) => this.peer(x)),
        };
        if (compareRounds(vote.accepted.round, vote.promise) > 0) {
          this.fail("a vote accepted above its promise");
        }
      }
      ring.setVote(this.peer(p), vote);
    }
    return ring;
  }

  private fail(msg: string): never {
    throw new Error(`Invalid IP allocation ring: ${msg}`);
  }

  private object(j: unknown, what: string): Record<string, unknown> {
    if (typeof j !== "object" || j === null || Array.isArray(j)) this.fail(`${what} is not an object`);
    return j as Record<string, unknown>;
  }

  private list(j: unknown, what: string): unknown[] {
    if (!Array.isArray(j)) this.fail(`${what} is not a list`);
    if (j.length > MAX_ITEMS) this.fail(`${what} has ${j.length} items, at most ${MAX_ITEMS} allowed`);
    return j;
  }

  private tuple(j: unknown, n: number, what: string): unknown[] {
    const l = this.list(j, what);
    if (l.length !== n) this.fail(`${what} has ${l.length} fields, expected ${n}`);
    return l;
  }

  private peer(j: unknown): PeerName {
    if (typeof j !== "string" || !PEER_NAME.test(j)) {
      this.fail(`peer name '${String(j)}' is not like ce:31:e0:06:45:1e`);
    }
    return j;
  }

  private id(j: unknown): string {
    if (typeof j !== "string" || !/^[0-9a-f:]{17}\/\d{1,9}$/.test(j)) {
      this.fail(`takeover id '${String(j)}' is malformed`);
    }
    return j;
  }

  private count(j: unknown): number {
    if (typeof j !== "number" || !Number.isSafeInteger(j) || j < 0) {
      this.fail(`'${String(j)}' is not a count`);
    }
    return j;
  }

  private bigCount(j: unknown): bigint {
    if (typeof j !== "string" || !/^(0|[1-9]\d{0,40})$/.test(j)) this.fail(`'${String(j)}' is not a count`);
    return BigInt(j);
  }

  private addr(j: unknown): bigint {
    const u = this.ringOf!.universe;
    const a = this.bigCount(j);
    if (a < u.start || a >= u.end) this.fail(`address ${j} is outside the range`);
    return a;
  }

  private addrs(j: unknown): bigint[] {
    const xs = this.list(j, "addresses").map((x) => this.addr(x));
    for (let i = 1; i < xs.length; i++) {
      if (xs[i] <= xs[i - 1]) this.fail("addresses are not sorted and unique");
    }
    return xs;
  }

  private range(j: unknown): Range {
    const [s, e] = this.tuple(j, 2, "range");
    const start = this.addr(s), end = this.bigCount(e);
    if (end <= start || end > this.ringOf!.universe.end) {
      this.fail(`range ${s}–${e} is empty or leaves the range`);
    }
    return { start, end };
  }

  private ranges(j: unknown): Range[] {
    return normalize(this.list(j, "ranges").map((r) => this.range(r)));
  }
}
