/**
 * IPAM in the router: the pure {@link Ipam} bound to the mesh's "IPallocation" gossip channel, persisted in
 * the data directory, and answering the API.
 *
 * Flow: every call that can change the state (allocate, claim, release, rmpeer, a merged gossip, the 1 s
 * tick with the reachable peers) is followed by a crash-safe write of the whole state, and the state is also
 * written before any gossip leaves, so a peer never tells others about an allocation it could forget in a
 * crash. Allocation waits (bounded) while the ring is not ready or an address awaits a majority's
 * acknowledgement, as the reference's `POST /ip/{id}` blocks.
 *
 * @module
 */
import { Ipam, type RingStatus } from "../ipam/ipam.ts";
import { Channel } from "../mesh/constants.ts";
import { contains, parseCIDR } from "../net/ip.ts";
import type { Gossip, GossipData, Gossiper, PeerName } from "../mesh/gossip.ts";
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
export class IpamService implements Gossiper {
  /** The pure IPAM state machine. */
  readonly ipam: Ipam;
  #dir: DataDir;
  #core: MeshCore;
  #ticker?: ReturnType<typeof setInterval>;
  #saved?: Uint8Array;
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
    const gossip = core.newGossip(Channel.ipam, this);
    this.ipam.attach(this.#persisting(gossip));
    core.onTopologyChange(() => this.#call(() => this.ipam.setReachable(this.#reachable())));
  }

  /** Starts the 1 s tick. */
  start(): void {
    this.#call(() => this.ipam.setReachable(this.#reachable()));
    this.#ticker = setInterval(() => this.#call(() => this.ipam.tick()), TICK_MS);
  }

  /** Stops the tick, writes the state once more and ends every waiting allocation and prime with an error. */
  stop(): void {
    clearInterval(this.#ticker);
    this.#save();
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
    return await this.#wait(id, () => this.ipam.allocate(id, subnet), timeoutMs);
  }

  /**
   * Claims a hand-set address so it is never given to anyone else, waiting like {@link allocate}.
   *
   * @throws {Error} when another container or peer has it
   */
  async claim(id: string, cidr: string, timeoutMs = ALLOCATE_TIMEOUT_MS): Promise<string[]> {
    return await this.#wait(id, () => this.ipam.claim(id, cidr), timeoutMs);
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

  /** Full state for a new neighbour or the anti-entropy timer. */
  gossip(): GossipData | undefined {
    return this.ipam.gossip();
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

  async #wait(id: string, attempt: () => ReturnType<Ipam["allocate"]>, timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.#call(attempt);
      if (r.state === "ready") return r.addresses;
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

  #call<T>(fn: () => T): T {
    try {
      return fn();
    } finally {
      this.#save();
    }
  }

  #save(): void {
    const bytes = this.ipam.persist();
    if (this.#saved && equal(bytes, this.#saved)) return;
    this.#dir.write(FILE, bytes);
    this.#saved = bytes;
    const changed = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    changed.resolve();
  }

  #reachable(): PeerName[] {
    return [this.#core.name, ...Object.keys(this.#core.routes().unicastAll)];
  }

  /** Wraps the channel so the state is on disk before anything about it leaves this peer. */
  #persisting(g: Gossip): Gossip {
    return {
      gossipUnicast: (dst, msg) => {
        this.#save();
        g.gossipUnicast(dst, msg);
      },
      gossipBroadcast: (update) => {
        this.#save();
        g.gossipBroadcast(update);
      },
      gossipNeighbourSubset: (update) => {
        this.#save();
        g.gossipNeighbourSubset(update);
      },
    };
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
