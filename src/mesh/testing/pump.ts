/**
 * A deterministic in-process pump for many {@link MeshCore}s: no sockets, one simulated clock, one seeded
 * random generator. Messages between connected peers arrive after a fixed latency in FIFO order per link
 * (as over TCP), unless lost at random; timers run when {@link MeshCore.nextTimer} is due. Links can be cut
 * (both ends see the connection removed, in-flight messages vanish) and restored.
 *
 * Flow: one event heap ordered by (time, sequence) holds message deliveries and timer wake-ups; `run*`
 * pops events in order, advancing the clock. Single-threaded; identical seeds give identical runs.
 *
 * @module
 */

import type { PeerName } from "../gossip.ts";
import { MeshCore } from "../mesh_core.ts";
import { MESH_PORT } from "../constants.ts";
import { SeededRandom } from "../../../testing/seeded_random.ts";

/** How the simulated network behaves. */
export interface PumpOptions {
  /** Seeds all randomness (cores and loss). */
  seed: number;
  /** One-way delay of every message (ms); 5 unless given. */
  latencyMs?: number;
  /** Probability in [0, 1) that a message is lost; 0 unless given. */
  loss?: number;
  /** Passed to every core: full state wherever a delta would go. */
  fullStateOnly?: boolean;
}

interface Event {
  time: number;
  seq: number;
  /** Receiver of a message, or the core whose timer is due. */
  to: PeerName;
  from?: PeerName;
  tag?: number;
  payload?: Uint8Array;
  /** The link generation a message was sent on; stale after the link is cut. */
  generation?: number;
  /** Marks the connection from `to` to `from` established instead of delivering a message. */
  establish?: boolean;
}

/** Per-peer traffic delivered by the pump. */
export interface PeerTraffic {
  sentBytes: number;
  receivedBytes: number;
  messages: number;
}

/**
 * Simulated mesh of cores.
 *
 * @example
 * ```ts
 * const pump = new Pump({ seed: 1, loss: 0.05 });
 * pump.addPeer("02:00:00:00:00:01"); pump.addPeer("02:00:00:00:00:02");
 * pump.connect("02:00:00:00:00:01", "02:00:00:00:00:02");
 * pump.runFor(5_000);
 * ```
 */
export class Pump {
  /** The simulated time (ms). */
  now = 0;
  /** The randomness shared by cores and the network. */
  readonly rng: SeededRandom;
  /** When false, every message is dropped (to set up state cheaply). */
  deliver = true;
  readonly #cores = new Map<PeerName, MeshCore>();
  readonly #ips = new Map<PeerName, string>();
  readonly #uids = new Map<PeerName, bigint>();
  readonly #links = new Map<string, number>();
  readonly #traffic = new Map<PeerName, PeerTraffic>();
  readonly #timerAt = new Map<PeerName, number>();
  readonly #heap: Event[] = [];
  readonly #latency: number;
  readonly #loss: number;
  readonly #fullStateOnly: boolean;
  #seq = 0;
  #generation = 0;

  /** @param opts see {@link PumpOptions} */
  constructor(opts: PumpOptions) {
    this.rng = new SeededRandom(opts.seed);
    this.#latency = opts.latencyMs ?? 5;
    this.#loss = opts.loss ?? 0;
    this.#fullStateOnly = opts.fullStateOnly ?? false;
  }

  /**
   * Adds a peer with a fresh core (a restart when `name` existed: new uid, links must be re-made).
   * @throws {Error} when `name` still has links
   */
  addPeer(name: PeerName): MeshCore {
    if (this.neighbours(name).length > 0) throw new Error(`Cannot add peer '${name}': it still has links`);
    const i = this.#ips.get(name) ??
      `10.${(this.#ips.size >> 16) & 255}.${(this.#ips.size >> 8) & 255}.${this.#ips.size & 255}`;
    this.#ips.set(name, i);
    const uid = this.rng.u64();
    this.#uids.set(name, uid);
    const core = new MeshCore({
      name,
      nickname: `host-${i}`,
      uid,
      send: (to, tag, payload) => this.#send(name, to, tag, payload),
      random: () => this.rng.next(),
      now: () => this.now,
      fullStateOnly: this.#fullStateOnly,
    });
    this.#cores.set(name, core);
    this.#traffic.set(name, { sentBytes: 0, receivedBytes: 0, messages: 0 });
    this.#wake(name);
    return core;
  }

  /** The core of `name`. @throws {Error} when unknown */
  core(name: PeerName): MeshCore {
    const c = this.#cores.get(name);
    if (c === undefined) throw new Error(`No peer '${name}' in the pump; add it first`);
    return c;
  }

  /** Every core, in insertion order. */
  cores(): MeshCore[] {
    return [...this.#cores.values()];
  }

  /**
   * Connects `a` (dialling) to `b`: both add the connection now and mark it established after
   * `establishAfterMs` (at `a`, at `b`; both at once unless given), as the sleeve does once its UDP path works.
   * @throws {Error} when they are already linked
   */
  connect(a: PeerName, b: PeerName, establishAfterMs: readonly [number, number] = [0, 0]): void {
    const key = linkKey(a, b);
    if (this.#links.has(key)) throw new Error(`Cannot connect '${a}' and '${b}': already linked`);
    this.#links.set(key, ++this.#generation);
    const ca = this.core(a), cb = this.core(b);
    const ephemeral = 32768 + (this.#generation % 28000);
    ca.connectionAdded({ ...this.#identity(b), address: `${this.#ips.get(b)}:${MESH_PORT}`, outbound: true });
    cb.connectionAdded({
      ...this.#identity(a),
      address: `${this.#ips.get(a)}:${ephemeral}`,
      outbound: false,
    });
    this.#establishAfter(a, b, establishAfterMs[0]);
    this.#establishAfter(b, a, establishAfterMs[1]);
    this.#wake(a);
    this.#wake(b);
  }

  /** Cuts the link between `a` and `b` (both see it removed; in-flight messages are lost). */
  disconnect(a: PeerName, b: PeerName): void {
    if (!this.#links.delete(linkKey(a, b))) {
      throw new Error(`Cannot disconnect '${a}' and '${b}': not linked`);
    }
    this.core(a).connectionRemoved(b);
    this.core(b).connectionRemoved(a);
    this.#wake(a);
    this.#wake(b);
  }

  /** Whether `a` and `b` are linked. */
  linked(a: PeerName, b: PeerName): boolean {
    return this.#links.has(linkKey(a, b));
  }

  /** The peers linked to `name`, sorted. */
  neighbours(name: PeerName): PeerName[] {
    const out: PeerName[] = [];
    for (const key of this.#links.keys()) {
      const [x, y] = key.split("|");
      if (x === name) out.push(y);
      else if (y === name) out.push(x);
    }
    return out.sort();
  }

  /** Bytes and messages each peer sent and received since the last {@link Pump.resetTraffic}. */
  traffic(): ReadonlyMap<PeerName, Readonly<PeerTraffic>> {
    return this.#traffic;
  }

  /** Zeroes {@link Pump.traffic}. */
  resetTraffic(): void {
    for (const t of this.#traffic.values()) Object.assign(t, { sentBytes: 0, receivedBytes: 0, messages: 0 });
  }

  /** Runs every event up to `now + ms`, then sets the clock there. */
  runFor(ms: number): void {
    for (const name of this.#cores.keys()) this.#wake(name); // timers set from outside, e.g. by an IPAM tick
    const end = this.now + ms;
    while (this.#heap.length > 0 && this.#heap[0].time <= end) this.#step();
    this.now = end;
  }

  /**
   * Runs until `done()` holds, checking every `checkEveryMs` of simulated time.
   * @returns the simulated time it took (ms), or undefined when `maxMs` passed first
   */
  runUntil(done: () => boolean, maxMs: number, checkEveryMs = 50): number | undefined {
    const start = this.now;
    while (this.now - start < maxMs) {
      if (done()) return this.now - start;
      this.runFor(checkEveryMs);
    }
    return done() ? this.now - start : undefined;
  }

  #identity(name: PeerName): { name: PeerName; nickname: string; uid: bigint } {
    return { name, nickname: `host-${this.#ips.get(name)}`, uid: this.#uids.get(name)! };
  }

  #establishAfter(at: PeerName, remote: PeerName, ms: number): void {
    if (ms <= 0) return this.core(at).connectionEstablished(remote);
    const generation = this.#links.get(linkKey(at, remote));
    pushHeap(this.#heap, {
      time: this.now + ms,
      seq: this.#seq++,
      to: at,
      from: remote,
      establish: true,
      generation,
    });
  }

  #step(): void {
    const e = popHeap(this.#heap);
    this.now = e.time;
    if (e.establish) {
      if (this.#links.get(linkKey(e.from!, e.to)) === e.generation) {
        this.core(e.to).connectionEstablished(e.from!);
      }
    } else if (e.from === undefined) {
      if (this.#timerAt.get(e.to) !== e.time) return;
      this.#timerAt.delete(e.to);
      this.core(e.to).tick();
    } else {
      if (this.#links.get(linkKey(e.from, e.to)) !== e.generation) return;
      const t = this.#traffic.get(e.to)!;
      t.receivedBytes += e.payload!.length + 1;
      this.core(e.to).receive(e.from, e.tag!, e.payload!);
    }
    this.#wake(e.to);
  }

  #send(from: PeerName, to: PeerName, tag: number, payload: Uint8Array): void {
    const t = this.#traffic.get(from)!;
    t.sentBytes += payload.length + 1;
    t.messages++;
    if (!this.deliver || (this.#loss > 0 && this.rng.next() < this.#loss)) return;
    const generation = this.#links.get(linkKey(from, to));
    pushHeap(this.#heap, {
      time: this.now + this.#latency,
      seq: this.#seq++,
      to,
      from,
      tag,
      payload,
      generation,
    });
  }

  /** Makes sure the heap holds a wake-up for `name`'s next timer. */
  #wake(name: PeerName): void {
    const at = this.core(name).nextTimer();
    const time = Math.max(at, this.now);
    const cur = this.#timerAt.get(name);
    if (cur !== undefined && cur <= time) return;
    this.#timerAt.set(name, time);
    pushHeap(this.#heap, { time, seq: this.#seq++, to: name });
  }
}

/** A simulated peer's name for index `i`, as a MAC address: 02:00:00:xx:xx:xx. */
export function simulatedPeerName(i: number): PeerName {
  const hex = (n: number) => n.toString(16).padStart(2, "0");
  return `02:00:00:${hex((i >> 16) & 255)}:${hex((i >> 8) & 255)}:${hex(i & 255)}`;
}

/** A random connected graph on `n` nodes: a random tree plus up to `extra` random edges, as index pairs. */
export function randomMesh(rng: SeededRandom, n: number, extra: number): [number, number][] {
  const edges = new Set<string>();
  const out: [number, number][] = [];
  const add = (a: number, b: number) => {
    const key = a < b ? `${a} ${b}` : `${b} ${a}`;
    if (a === b || edges.has(key)) return;
    edges.add(key);
    out.push([a, b]);
  };
  for (let i = 1; i < n; i++) add(i, rng.int(i));
  for (let i = 0; i < extra; i++) add(rng.int(n), rng.int(n));
  return out;
}

function linkKey(a: PeerName, b: PeerName): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function before(a: Event, b: Event): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

function pushHeap(h: Event[], e: Event): void {
  h.push(e);
  for (let i = h.length - 1; i > 0;) {
    const p = (i - 1) >> 1;
    if (!before(h[i], h[p])) break;
    [h[i], h[p]] = [h[p], h[i]];
    i = p;
  }
}

function popHeap(h: Event[]): Event {
  const top = h[0];
  const last = h.pop()!;
  if (h.length === 0) return top;
  h[0] = last;
  for (let i = 0;;) {
    const l = 2 * i + 1, r = l + 1;
    let m = i;
    if (l < h.length && before(h[l], h[m])) m = l;
    if (r < h.length && before(h[r], h[m])) m = r;
    if (m === i) break;
    [h[i], h[m]] = [h[m], h[i]];
    i = m;
  }
  return top;
}
