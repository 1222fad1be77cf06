/**
 * IPAM in the router: the pure {@link Ipam} bound to the mesh's "IPallocation" gossip channel, persisted in
 * the data directory, and answering the API.
 *
 * Flow: every call that can change the state (allocate, claim, release, rmpeer, a merged gossip, the 1 s
 * tick with the reachable peers) marks the state dirty, and the gossip it causes is held. Once per turn of the
 * event loop (a zero timer) the state is written crash-safely, once, and only then does the held gossip leave
 * (the ring sets merged into one, space requests in order), so a peer never tells others about an allocation it could
 * forget in a crash, and concurrent requests share one write (group commit) instead of one fsync each. An
 * answer is written before it is returned. Allocation waits (bounded) while the ring is not ready or an
 * address awaits a majority's acknowledgement, as the reference's `POST /ip/{id}` blocks; a waiter rechecks
 * its allocation cheaply on every change instead of running the IPAM's steps again.
 *
 * @module
 */
import { type Allocation, Ipam, type RingStatus } from "../ipam/ipam.ts";
import { Channel } from "../mesh/constants.ts";
import { contains, parseCIDR } from "../../base/ip.ts";
import type { DigestGossiper, Gossip, GossipData, PeerName } from "../mesh/gossip.ts";
import type { MeshCore } from "../mesh/mesh_core.ts";
import type { RouterConfig } from "./config.ts";
import type { DataDir } from "./data_dir.ts";

const FILE = "ipam.json";
/** How often the IPAM's timed work runs, in milliseconds. */
const TICK_MS = 1000;
/** How often a waiting allocation asks again at the latest, in milliseconds; it also retries on every change. */
const RETRY_MS = 100;
/** How long an allocation waits for the ring before it fails, in milliseconds. */
export const ALLOCATE_TIMEOUT_MS = 30_000;

/** The container id under which the host's own bridge address (`expose`) is allocated, as the reference. */
export const EXPOSE_ID = "weave:expose";

/** The router's IPAM. */
export class IpamService implements DigestGossiper {
  /** The pure IPAM state machine. */
  readonly ipam: Ipam;
  #dir: DataDir;
  #core: MeshCore;
  #ticker?: ReturnType<typeof setInterval>;
  #saved?: Uint8Array;
  /** A call may have changed the state since the last write. */
  #dirty = false;
  /** The zero timer that writes the state and sends the held gossip. */
  #flushTimer?: ReturnType<typeof setTimeout>;
  /** Gossip held until the state is written, in order. */
  #held: ((g: Gossip) => void)[] = [];
  #gossip?: Gossip;
  /** Resolved (and replaced) whenever the state changes, so waiting allocations retry at once. */
  #changed = Promise.withResolvers<void>();
  #stopped = false;

  /**
   * Restores the persisted state (or starts empty) and joins the gossip channel.
   *
   * @throws {Error} when the persisted state is corrupt or belongs to other ranges, saying what to do
   */
  constructor(config: RouterConfig, name: PeerName, dir: DataDir, core: MeshCore) {
    this.#dir = dir;
    this.#core = core;
    const opts = {
      name,
      ranges: config.ipallocRanges,
      init: config.ipallocInit,
      now: () => Date.now(),
      random: Math.random,
      reclaimAfterMs: config.ipallocReclaimAfterMs,
    };
    const saved = dir.read(FILE);
    this.ipam = saved ? Ipam.restore(saved, opts) : new Ipam(opts);
    this.#gossip = core.newGossip(Channel.ipam, this);
    this.ipam.attach(this.#persisting());
    core.onTopologyChange(() => this.#call(() => this.ipam.setReachable(this.#reachable())));
  }

  /** Starts the 1 s tick. */
  start(): void {
    this.#call(() => this.ipam.setReachable(this.#reachable()));
    this.#ticker = setInterval(() => {
      // An idle tick changes nothing to write: serialising the whole state every second to find that out was
      // most of an idle router's IPAM cost at 40 peers (perf).
      if (!this.ipam.tick()) return;
      this.#dirty = true;
      this.#flush(); // now, in this turn: nothing else can join it, and a zero timer would be a second wakeup
    }, TICK_MS);
  }

  /** Stops the tick, writes the state once more and ends every waiting allocation and prime with an error. */
  stop(): void {
    clearInterval(this.#ticker);
    this.#flush();
    this.#stopped = true;
    this.#changed.resolve(); // waiting allocations and primes end now, so the API can shut down
  }

  /**
   * Allocates for container `id` (in `subnet`, else the default subnet of each range), waiting up to
   * {@link ALLOCATE_TIMEOUT_MS} for the ring.
   *
   * @returns the addresses as CIDR
   * @throws {Error} when the subnet is outside every range, or the wait times out (saying why it waited)
   */
  async allocate(id: string, subnet?: string, timeoutMs = ALLOCATE_TIMEOUT_MS): Promise<string[]> {
    return await this.#wait(
      id,
      () => this.ipam.allocate(id, subnet),
      () => this.ipam.allocation(id, subnet) ?? this.ipam.allocate(id, subnet),
      timeoutMs,
    );
  }

  /**
   * Claims a hand-set address so it is never given to anyone else, waiting like {@link allocate}.
   *
   * @throws {Error} when another container or peer has it
   */
  async claim(id: string, cidr: string, timeoutMs = ALLOCATE_TIMEOUT_MS): Promise<string[]> {
    const attempt = () => this.ipam.claim(id, cidr);
    return await this.#wait(id, attempt, attempt, timeoutMs);
  }

  /**
   * Waits until every ring is initialised, asking for consensus now (`meshnet prime`).
   *
   * @throws {Error} when it is not ready within `timeoutMs`, with each ring's state
   */
  async prime(timeoutMs = ALLOCATE_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.#call(() => this.ipam.prime());
    for (;;) {
      const rings = this.ipam.status();
      if (rings.every((r) => r.state === "ready")) return;
      if (Date.now() > deadline) {
        throw new Error(`IPAM is not ready: ${rings.map((r) => `${r.range} ${r.state}`).join("; ")}`);
      }
      await this.#changeOrTimeout();
    }
  }

  /** Releases the addresses of `id` (only `address` when given). */
  release(id: string, address?: string): void {
    this.#call(() => this.ipam.release(id, address));
  }

  /** The ready addresses of `id`. */
  lookup(id: string): string[] {
    return this.ipam.lookup(id);
  }

  /** Takes over a dead peer's space; returns how many addresses were proposed. */
  rmpeer(name: PeerName): bigint {
    return this.#call(() => this.ipam.rmpeer(name));
  }

  /** Per-range status. */
  status(): RingStatus[] {
    return this.ipam.status();
  }

  /** Whether `cidr`'s address lies inside one of the ranges IPAM manages. */
  manages(cidr: string): boolean {
    const c = parseCIDR(cidr, 0);
    return this.ipam.rings().some((r) => contains(r.cidr, c.address));
  }

  // ---- Gossiper: persist after every merge ----

  /** Full state for the anti-entropy timer. */
  gossip(): GossipData | undefined {
    return this.ipam.gossip();
  }

  /** The digest of the rings, for a new neighbour. */
  digest(): Uint8Array {
    return this.ipam.digest();
  }

  /** Answers a new neighbour's digest with what it lacks (reads only: nothing to persist). */
  answerDigest(src: PeerName, digest: Uint8Array): GossipData | undefined {
    return this.ipam.answerDigest(src, digest);
  }

  /** Merges neighbour gossip. */
  onGossip(msg: Uint8Array): GossipData | undefined {
    return this.#call(() => this.ipam.onGossip(msg));
  }

  /** Merges a broadcast. */
  onGossipBroadcast(src: PeerName, update: Uint8Array): GossipData | undefined {
    return this.#call(() => this.ipam.onGossipBroadcast(src, update));
  }

  /** Answers a space request. */
  onGossipUnicast(src: PeerName, msg: Uint8Array): void {
    this.#call(() => this.ipam.onGossipUnicast(src, msg));
  }

  /** Runs `attempt`, then `recheck` after each change until ready; the answer is on disk when returned. */
  async #wait(
    id: string,
    attempt: () => Allocation,
    recheck: () => Allocation,
    timeoutMs: number,
  ): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (let first = true;; first = false) {
      const r = this.#call(first ? attempt : recheck);
      if (r.state === "ready") {
        this.#flush();
        return r.addresses;
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `Cannot allocate an address for ${id} within ${
            timeoutMs / 1000
          } s: ${r.reason}; see 'meshnet status ipam'`,
        );
      }
      await this.#changeOrTimeout();
    }
  }

  /**
   * Resolves at the next state change (a merge, a call) or after {@link RETRY_MS}, whichever is first.
   *
   * @throws {Error} once {@link stop} was called, so no request waits on a stopped router
   */
  async #changeOrTimeout(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (!this.#stopped) {
      await Promise.race([this.#changed.promise, new Promise<void>((r) => timer = setTimeout(r, RETRY_MS))]);
      clearTimeout(timer);
    }
    if (this.#stopped) throw new Error("meshnet is stopping; retry once it runs again");
  }

  /** Runs `fn` on the IPAM and schedules the write (and the gossip it held) for the end of this turn. */
  #call<T>(fn: () => T): T {
    try {
      return fn();
    } finally {
      this.#dirty = true;
      this.#flushTimer ??= setTimeout(() => this.#flush(), 0);
    }
  }

  /** Writes the state when dirty, then sends the held gossip. */
  #flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#dirty) this.#save();
    const held = this.#held;
    this.#held = [];
    for (const send of held) send(this.#gossip!);
  }

  #save(): void {
    this.#dirty = false;
    const bytes = this.ipam.persist();
    if (this.#saved && equal(bytes, this.#saved)) return;
    this.#dir.write(FILE, bytes);
    this.#saved = bytes;
    const changed = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    changed.resolve();
  }

  #reachable(): PeerName[] {
    return [this.#core.name, ...this.#core.routing.unicastAllTable().keys()];
  }

  /**
   * A channel that holds what the IPAM sends until the state is on disk (see {@link IpamService.#flush});
   * ring sets broadcast meanwhile are merged into one (each is a fresh delta or copy the IPAM hands over).
   */
  #persisting(): Gossip {
    const hold = (send: (g: Gossip) => void) => {
      this.#held.push(send);
      this.#flushTimer ??= setTimeout(() => this.#flush(), 0);
    };
    let latest: GossipData | undefined;
    return {
      gossipUnicast: (dst, msg) => hold((g) => g.gossipUnicast(dst, msg)),
      gossipBroadcast: (update) => {
        if (latest === undefined) {
          hold((g) => {
            const u = latest!;
            latest = undefined;
            g.gossipBroadcast(u);
          });
        }
        latest = latest === undefined ? update : latest.merge(update);
      },
      gossipNeighbourSubset: (update) => hold((g) => g.gossipNeighbourSubset(update)),
    };
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
