/**
 * Routes over the topology: breadth-first search with neighbours visited in name order, so every peer
 * with the same view computes the same trees.
 *
 * - unicast: next hop per destination from us, over established, symmetric connections (the data plane);
 * - unicastAll: the same over every reported connection (the control plane: gossip rides TCP);
 * - broadcast(src) / broadcastAll(src): our children in the BFS tree rooted at `src`, so in a stable
 *   topology a broadcast from `src` reaches each peer exactly once. Computed lazily per source and cached
 *   until the next {@link Routes.calculate}.
 *
 * @module
 */

import type { PeerName } from "./gossip.ts";
import type { Peer } from "./peer.ts";
import { GOSSIP_FANOUT_LOG_FACTOR } from "./constants.ts";

/** Looks a peer up by name; undefined when unknown. */
export type PeerLookup = (name: PeerName) => Peer | undefined;

/** Which connections a search may use. */
export type Mode = "symmetric" | "all";

/**
 * Breadth-first search from `start` over the connections of known peers.
 *
 * In "symmetric" mode a connection counts only when both ends report it and both report it established.
 *
 * @returns each reached peer's parent in the tree (`start` maps to itself), in visiting order
 */
export function bfs(lookup: PeerLookup, start: PeerName, mode: Mode): Map<PeerName, PeerName> {
  const parent = new Map<PeerName, PeerName>([[start, start]]);
  if (lookup(start) === undefined) return parent;
  const queue: PeerName[] = [start];
  for (let head = 0; head < queue.length; head++) {
    const cur = queue[head];
    const peer = lookup(cur)!;
    for (const c of peer.connections) {
      if (parent.has(c.name)) continue;
      const remote = lookup(c.name);
      if (remote === undefined) continue;
      if (mode === "symmetric" && !(c.established && reportsEstablished(remote, cur))) continue;
      parent.set(c.name, cur);
      queue.push(c.name);
    }
  }
  return parent;
}

function reportsEstablished(peer: Peer, remote: PeerName): boolean {
  return peer.connections.some((c) => c.name === remote && c.established);
}

function nextHops(parent: Map<PeerName, PeerName>, start: PeerName): Map<PeerName, PeerName> {
  const hop = new Map<PeerName, PeerName>();
  for (const [name, p] of parent) {
    if (name === start) continue;
    hop.set(name, p === start ? name : hop.get(p)!);
  }
  return hop;
}

/** The read-only side of {@link Routes}, for data-plane forwarding and status. */
export interface RouteLookup {
  /** Next hop towards `dst` over established symmetric connections; undefined when unreachable. */
  unicast(dst: PeerName): PeerName | undefined;
  /** Next hop towards `dst` over all connections; undefined when unreachable. */
  unicastAll(dst: PeerName): PeerName | undefined;
  /** Every destination reachable over established symmetric connections, with its next hop. */
  unicastTable(): ReadonlyMap<PeerName, PeerName>;
  /** Every destination reachable over all connections, with its next hop. */
  unicastAllTable(): ReadonlyMap<PeerName, PeerName>;
  /** Peers to relay a broadcast from `src` to (our children in its tree), over established symmetric connections. */
  broadcast(src: PeerName): readonly PeerName[];
  /** Peers to relay a broadcast from `src` to, over all connections. */
  broadcastAll(src: PeerName): readonly PeerName[];
}

/** Routes from one peer ("us"), recalculated from a topology view on demand. */
export class Routes implements RouteLookup {
  readonly #us: PeerName;
  #lookup: PeerLookup = () => undefined;
  #unicast = new Map<PeerName, PeerName>();
  #unicastAll = new Map<PeerName, PeerName>();
  #broadcast = new Map<string, PeerName[]>();
  /** Each next hop over all connections with the number of destinations behind it, sorted by name. */
  #hopWeights: [PeerName, number][] = [];

  /** @param us our own peer name */
  constructor(us: PeerName) {
    this.#us = us;
  }

  /** Recomputes unicast routes from `lookup` and forgets cached broadcast trees. */
  calculate(lookup: PeerLookup): void {
    this.#lookup = lookup;
    this.#unicast = nextHops(bfs(lookup, this.#us, "symmetric"), this.#us);
    this.#unicastAll = nextHops(bfs(lookup, this.#us, "all"), this.#us);
    this.#broadcast.clear();
    const weight = new Map<PeerName, number>();
    for (const hop of this.#unicastAll.values()) weight.set(hop, (weight.get(hop) ?? 0) + 1);
    this.#hopWeights = [...weight].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  /** Next hop towards `dst` over established symmetric connections; undefined when unreachable. */
  unicast(dst: PeerName): PeerName | undefined {
    return this.#unicast.get(dst);
  }

  /** Next hop towards `dst` over all connections; undefined when unreachable. */
  unicastAll(dst: PeerName): PeerName | undefined {
    return this.#unicastAll.get(dst);
  }

  /** Every destination reachable over established symmetric connections, with its next hop. */
  unicastTable(): ReadonlyMap<PeerName, PeerName> {
    return this.#unicast;
  }

  /** Every destination reachable over all connections, with its next hop. */
  unicastAllTable(): ReadonlyMap<PeerName, PeerName> {
    return this.#unicastAll;
  }

  /** Peers to relay a broadcast from `src` to (our children in its tree), over established symmetric connections. */
  broadcast(src: PeerName): readonly PeerName[] {
    return this.#children(src, "symmetric");
  }

  /** Peers to relay a broadcast from `src` to, over all connections. */
  broadcastAll(src: PeerName): readonly PeerName[] {
    return this.#children(src, "all");
  }

  #children(src: PeerName, mode: Mode): readonly PeerName[] {
    const key = `${mode} ${src}`;
    let hops = this.#broadcast.get(key);
    if (hops === undefined) {
      hops = [];
      for (const [name, p] of bfs(this.#lookup, src, mode)) {
        if (p === this.#us && name !== src) hops.push(name);
      }
      hops.sort();
      this.#broadcast.set(key, hops);
    }
    return hops;
  }

  /**
   * Picks neighbours for gossip: about 2·log2(peers) of them, at most the number of distinct next hops,
   * each chosen with weight equal to the number of destinations routed through it (over all connections).
   *
   * Direct neighbours the last calculation did not know yet (a connection made within the recalculation
   * deferral) are candidates too, with weight 1: a new neighbour must not miss the deltas that arrive between
   * its full state and the next recalculation, or it waits for the anti-entropy round.
   *
   * Unweighted, every candidate is equally likely: anti-entropy uses that, because weighting starves the
   * neighbours with few destinations behind them (a leaf behind a hub), and a leaf that missed a delta has
   * no other source than that hub.
   *
   * @param except a neighbour never to pick (the one the gossip came from), if any
   * @param random uniform in [0, 1)
   * @param direct the neighbours connected now
   * @param weighted weigh candidates by destinations (true) or pick them uniformly (false)
   */
  randomNeighbours(
    except: PeerName | undefined,
    random: () => number,
    direct: Iterable<PeerName> = [],
    weighted = true,
  ): PeerName[] {
    const candidates = this.#hopWeights
      .filter(([hop]) => hop !== except)
      .map(([hop, w]): [PeerName, number] => [hop, weighted ? w : 1]);
    for (const n of direct) {
      if (n !== except && !candidates.some(([hop]) => hop === n)) candidates.push([n, 1]);
    }
    const peers = this.#unicastAll.size + 1;
    const want = Math.min(Math.ceil(GOSSIP_FANOUT_LOG_FACTOR * Math.log2(peers)), candidates.length);
    let total = candidates.reduce((s, [, w]) => s + w, 0);
    const picked: PeerName[] = [];
    while (picked.length < want) {
      let x = random() * total;
      let i = 0;
      while (i < candidates.length - 1 && x >= candidates[i][1]) x -= candidates[i++][1];
      const [name, w] = candidates.splice(i, 1)[0];
      total -= w;
      picked.push(name);
    }
    return picked;
  }
}
