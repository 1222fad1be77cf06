/**
 * A deterministic in-process network of Ipam peers for property tests: gossip goes through one queue, delivered
 * in seeded random order with seeded loss; partitions, crashes (the peer's containers keep their addresses),
 * restarts from persisted state, permanent deaths with rmpeer, and a virtual clock.
 *
 * The oracle ({@link Sim.check}) looks at every peer that is not dead for good (a crashed peer's last state
 * counts: its containers still hold their addresses) and fails when one address is held twice, or when a
 * peer's in-use address lies in space another peer's ring says was taken from it by a later takeover.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ConflictError } from "../../base/errors.ts";
import type { Gossip, GossipData, PeerName } from "../../src/mesh/gossip.ts";
import { Ipam, type IpamOptions, type RingStatus } from "../../src/ipam/ipam.ts";
import { type Prng, prng } from "../dns/prng.ts";
import { bigIntToIP, formatIP, ipToBigInt, networkOf, parseCIDR, parseIP, sizeOf } from "../../base/ip.ts";

/** A queued message. */
interface Message {
  from: PeerName;
  to: PeerName;
  kind: "gossip" | "unicast" | "digest";
  bytes: Uint8Array;
}

/** One simulated host. */
export interface Node {
  name: PeerName;
  ipam: Ipam;
  /** "up", "crashed" (router down, containers alive) or "dead" (host gone, rmpeer allowed). */
  state: "up" | "crashed" | "dead";
  /** Partition side. */
  side: number;
  /** Persisted state at the crash. */
  saved?: Uint8Array;
  /** When it died for good. */
  diedAt?: number;
}

/** Knobs of a simulation. */
export interface SimOptions {
  peers: number;
  ranges?: string[];
  loss: number;
  reclaimAfterMs: number;
  /** "seed" initialises at once from the founders; "consensus" runs Paxos with count = peers. */
  init: "seed" | "consensus";
  /** How many of the peers found (and vote in) the ring with "seed"; the rest join later. Default all. */
  founders?: number;
}

/** A simulation of `peers` peers without loss, seeded and settled. */
export function quietSim(seed: number, peers: number, ranges = ["10.32.0.0/24"]): Sim {
  const sim = new Sim(prng(seed), { peers, loss: 0, reclaimAfterMs: 10 * 60_000, init: "seed", ranges });
  sim.settle(3);
  return sim;
}

/** Allocates for `id` at `ipam` until ready, settling between tries; fails after ten tries. */
export function readyAddresses(sim: Sim, ipam: Ipam, id: string, subnet?: string): string[] {
  for (let i = 0; i < 10; i++) {
    const a = ipam.allocate(id, subnet);
    if (a.state === "ready") return a.addresses;
    sim.settle(1);
  }
  assert.fail(`${id} never got an address`);
}

/** The name of peer `i`. */
export function peerName(i: number): PeerName {
  return `02:00:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 0xff).toString(16).padStart(2, "0")}`;
}

/** The simulated network. */
export class Sim {
  now = 0;
  nodes: Node[] = [];
  queue: Message[] = [];
  /** Merge or decode errors raised by deliveries: must stay empty. */
  errors: string[] = [];

  constructor(readonly rng: Prng, readonly opts: SimOptions) {
    const names = Array.from({ length: opts.peers }, (_, i) => peerName(i + 1));
    for (const name of names) {
      this.nodes.push({ name, ipam: new Ipam(this.options(name, names)), state: "up", side: 0 });
    }
    this.reach();
  }

  /** The Ipam options of peer `name`. */
  options(name: PeerName, all: PeerName[] = this.nodes.map((n) => n.name)): IpamOptions {
    return {
      name,
      ranges: this.opts.ranges,
      init: this.opts.init === "seed"
        ? { mode: "seed", peers: all }
        : { mode: "consensus", count: all.length },
      now: () => this.now,
      random: () => this.rng.next(),
      reclaimAfterMs: this.opts.reclaimAfterMs,
      gossip: this.gossipOf(name),
    };
  }

  /** The Gossip a peer sends through. */
  gossipOf(from: PeerName): Gossip {
    const send = (to: PeerName, kind: Message["kind"], bytes: Uint8Array) => {
      if (this.rng.next() >= this.opts.loss) this.queue.push({ from, to, kind, bytes });
    };
    const broadcast = (update: GossipData) => {
      const bytes = update.encode()[0];
      for (const n of this.nodes) if (n.name !== from) send(n.name, "gossip", bytes);
    };
    return {
      gossipUnicast: (dst, msg) => send(dst, "unicast", msg),
      gossipBroadcast: broadcast,
      gossipNeighbourSubset: broadcast,
    };
  }

  /** The node named `name`. */
  node(name: PeerName): Node {
    return this.nodes.find((n) => n.name === name)!;
  }

  /** Up nodes. */
  up(): Node[] {
    return this.nodes.filter((n) => n.state === "up");
  }

  /** Tells every up peer which peers it reaches (same side, up). */
  reach(): void {
    for (const n of this.up()) {
      n.ipam.setReachable(this.up().filter((m) => m !== n && m.side === n.side).map((m) => m.name));
    }
  }

  /** Delivers up to `max` queued messages in random order; those crossing a partition or to a down peer drop. */
  deliver(max: number): void {
    for (let i = 0; i < max && this.queue.length > 0; i++) {
      const m = this.queue.splice(this.rng.int(this.queue.length), 1)[0];
      const [from, to] = [this.node(m.from), this.node(m.to)];
      if (to.state !== "up" || from.side !== to.side) continue;
      try {
        if (m.kind === "gossip") to.ipam.onGossip(m.bytes);
        else if (m.kind === "unicast") to.ipam.onGossipUnicast(m.from, m.bytes);
        else this.#answer(to, from, m.bytes);
      } catch (e) {
        this.errors.push(`${m.from} → ${m.to}: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Anti-entropy as the mesh runs it: each up peer sends its anti-entropy digest to one random peer, which
   * answers with what the sender lacks.
   */
  antiEntropy(): void {
    for (const n of this.up()) {
      const peer = this.rng.pick(this.nodes);
      if (peer !== n && this.rng.next() >= this.opts.loss) {
        this.queue.push({ from: n.name, to: peer.name, kind: "digest", bytes: n.ipam.antiEntropyDigest() });
      }
    }
  }

  /** `to` answers the digest `from` sent, as neighbour gossip (subject to loss). */
  #answer(to: Node, from: Node, digest: Uint8Array): void {
    const answer = to.ipam.answerDigest(from.name, digest);
    if (answer !== undefined && this.rng.next() >= this.opts.loss) {
      this.queue.push({ from: to.name, to: from.name, kind: "gossip", bytes: answer.encode()[0] });
    }
  }

  /**
   * Advances the clock and ticks every up peer. A tick that says it changed nothing must leave the persisted
   * state as it was: the router then skips writing it.
   */
  advance(ms: number): void {
    this.now += ms;
    for (const n of this.up()) {
      const before = n.ipam.persist();
      if (!n.ipam.tick() && !sameBytes(before, n.ipam.persist())) {
        throw new Error(`${n.name}: a tick reported no change but changed the persisted state`);
      }
    }
  }

  /** Runs quiet rounds (delivery, anti-entropy, a second of time) so gossip settles. */
  settle(rounds: number): void {
    for (let i = 0; i < rounds; i++) {
      this.antiEntropy();
      this.deliver(this.queue.length);
      this.advance(1000);
      this.check();
    }
  }

  /** Splits the up peers into `sides` random sides. */
  partition(sides: number): void {
    for (const n of this.nodes) n.side = this.rng.int(sides);
    this.reach();
  }

  /** Puts `n`, alone or with a few others, on a side of its own. */
  isolate(n: Node): void {
    const side = 1 + this.rng.int(3);
    for (const m of this.nodes) if (m === n || this.rng.next() < 0.2) m.side = side;
    this.reach();
  }

  /** Joins every side again. */
  heal(): void {
    for (const n of this.nodes) n.side = 0;
    this.reach();
  }

  /** The router of `n` stops; its containers keep their addresses. */
  crash(n: Node): void {
    n.saved = n.ipam.persist();
    n.state = "crashed";
    this.reach();
  }

  /** The router of `n` starts again from its persisted state. */
  restart(n: Node): void {
    n.ipam = Ipam.restore(n.saved!, this.options(n.name));
    n.state = "up";
    this.reach();
    n.ipam.tick();
  }

  /** The host of `n` is gone for good, with its containers. */
  kill(n: Node): void {
    if (n.state === "up") n.saved = n.ipam.persist();
    n.state = "dead";
    n.diedAt = this.now;
    this.reach();
  }

  /**
   * The oracle: no address held twice among peers not dead; no peer's final address lies in space another
   * ring shows taken from it at a higher epoch than the holder knows.
   */
  check(): void {
    assert.deepEqual(this.errors, [], "deliveries raised errors");
    const holders = new Map<string, string>();
    const live = this.nodes.filter((n) => n.state !== "dead");
    for (const n of live) {
      for (const [id, addr] of n.ipam.allocations()) {
        const prev = holders.get(addr);
        assert.equal(prev, undefined, `address ${addr} held by ${prev} and ${n.name}/${id} at t=${this.now}`);
        holders.set(addr, `${n.name}/${id}`);
      }
    }
    const rings = new Map(live.map((n) => [n, tokenTable(n.ipam.status())]));
    for (const n of live) {
      for (const [, addr] of n.ipam.allocations()) {
        const mine = tokenAt(rings.get(n)!, addr);
        if (!mine || mine.owner !== n.name) continue; // a claim of a hand-set address in others' space
        for (const m of this.up()) {
          const theirs = m === n ? undefined : tokenAt(rings.get(m)!, addr);
          if (theirs && theirs.owner !== n.name && theirs.epoch > mine.epoch) {
            assert.fail(
              `${addr} in use at ${n.name} was taken by ${theirs.owner} in ${m.name}'s ring at t=${this.now}`,
            );
          }
        }
      }
    }
  }
}

/** A parsed token of a status. */
interface Token {
  v6: boolean;
  start: bigint;
  end: bigint;
  owner: PeerName;
  epoch: number;
}

/** The tokens of every ring of a status, parsed once per check. */
function tokenTable(status: RingStatus[]): Token[] {
  return status.flatMap((r) =>
    r.tokens.map((t) => ({
      v6: r.range.includes(":"),
      start: ipToBigInt(parseIP(t.start)),
      end: ipToBigInt(parseIP(t.end)),
      owner: t.owner,
      epoch: t.epoch,
    }))
  );
}

/** The token covering address `addr`. */
function tokenAt(tokens: Token[], addr: string): Token | undefined {
  const b = parseIP(addr), a = ipToBigInt(b), v6 = b.length === 16;
  return tokens.find((t) => t.v6 === v6 && t.start <= a && a <= t.end);
}

/** A container that asked for an address. */
interface Want {
  node: Node;
  id: string;
  subnet?: string;
  ready?: string[];
}

/** The IPv4 range of the simulations: small, so space runs short and moves. */
export const V4 = "10.32.0.0/22";
const SUBNETS = [undefined, undefined, undefined, "10.32.1.0/26", "10.32.3.192/27"];

/** A random address of `range` as text. */
function randomAddress(rng: Prng, range: string): string {
  const c = parseCIDR(range);
  const a = networkOf(c) + BigInt(rng.int(Number(sizeOf(c) < 4096n ? sizeOf(c) : 4096n)));
  return `${formatIP(bigIntToIP(a, c.family))}/${c.prefix}`;
}

/**
 * Runs `steps` seeded random operations (allocate, retry, release, claim, partition, heal, crash, restart,
 * kill, rmpeer, time passing, anti-entropy) with message delivery after each, checking the oracle after each.
 * Asking again for a ready container must give the same addresses.
 */
export function run(rng: Prng, steps: number, opts: Partial<SimOptions> = {}): Sim {
  const peers = opts.peers ?? 5 + rng.int(21);
  const init = rng.next() < 0.2 ? "consensus" : "seed";
  opts = { founders: rng.next() < 0.3 ? 3 + rng.int(peers - 2) : peers, init, ...opts };
  const sim = new Sim(rng, {
    peers,
    loss: 0.1,
    reclaimAfterMs: 10 * 60_000,
    init: "seed",
    ranges: [V4],
    ...opts,
  });
  const wants: Want[] = [];
  let next = 0;
  const ask = (w: Want) => {
    if (w.node.state !== "up") return;
    const a = w.node.ipam.allocate(w.id, w.subnet);
    if (a.state !== "ready") return;
    if (w.ready) assert.deepEqual(a.addresses, w.ready, `${w.id} got another address back`);
    w.ready = a.addresses;
  };
  for (let step = 0; step < steps; step++) {
    const r = rng.next();
    const up = sim.up();
    if (r < 0.3 && up.length > 0) {
      const w: Want = { node: rng.pick(up), id: `c${next++}`, subnet: rng.pick(SUBNETS) };
      wants.push(w);
      ask(w);
    } else if (r < 0.5 && wants.length > 0) {
      const w = rng.pick(wants);
      ask(w);
      if (rng.next() < 0.15) sim.isolate(w.node); // cut it off before its news spreads
    } else if (r < 0.6 && wants.length > 0) {
      const w = rng.pick(wants);
      if (w.node.state === "up") {
        w.node.ipam.release(w.id);
        wants.splice(wants.indexOf(w), 1);
      }
    } else if (r < 0.63 && up.length > 0) {
      const node = rng.pick(up);
      const range = rng.pick(sim.opts.ranges ?? [V4]);
      try {
        const a = node.ipam.claim(`h${next++}`, randomAddress(rng, range));
        assert.ok(a.state === "ready" || a.state === "pending");
      } catch (e) {
        assert.match((e as Error).message, /^Cannot claim /);
      }
    } else if (r < 0.66) {
      sim.partition(2 + rng.int(2));
    } else if (r < 0.7) {
      sim.heal();
    } else if (r < 0.73 && up.length > 2) {
      sim.crash(rng.pick(up));
    } else if (r < 0.77) {
      const crashed = sim.nodes.filter((n) => n.state === "crashed");
      if (crashed.length > 0) sim.restart(rng.pick(crashed));
    } else if (r < 0.78 && sim.nodes.filter((n) => n.state === "dead").length < peers / 4 && up.length > 3) {
      const n = rng.pick(up);
      sim.kill(n);
      for (const w of wants.filter((w) => w.node === n)) wants.splice(wants.indexOf(w), 1);
    } else if (r < 0.8) {
      const dead = sim.nodes.filter((n) => n.state === "dead" && n.diedAt! + 60_000 < sim.now);
      if (dead.length > 0 && up.length > 0) {
        const n = rng.pick(dead);
        try {
          rng.pick(up).ipam.rmpeer(n.name);
          n.diedAt = Infinity; // once
        } catch (err) {
          // a peer restarted less than RMPEER_QUIET_MS ago has not yet seen the dead one gone long enough
          if (!(err instanceof ConflictError)) throw err;
        }
      }
    } else if (r < 0.92) {
      sim.advance(1 + rng.int(4 * 60_000));
    } else {
      sim.antiEntropy();
    }
    sim.deliver(rng.int(2 * peers));
    sim.check();
  }
  return sim;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
