/**
 * The pure core of the mesh control plane: us, the topology, routes and gossip channels, with no sockets,
 * clocks or randomness of its own. The TCP layer reports connections and received messages, supplies
 * `send`, `now` and `random`, and calls {@link MeshCore.tick} when {@link MeshCore.nextTimer} is due.
 *
 * Flow: receive → decode the envelope → unicast: deliver or relay raw along unicastAll; broadcast: the
 * channel's gossiper merges and the delta is relayed along the source's tree; gossip: the delta goes on to
 * random neighbours. Local connection changes bump our topology version; routes are recalculated (and
 * unreachable peers collected) 100 ms after a change, our changed entries go out 1 s after a local change
 * (entries new here, with ours when changed, 100 ms after they arrived: see topology.ts), IPAM broadcasts of
 * our own within 100 ms of the last are merged and go together, and every channel's full state (topology and
 * IPAM: a digest, answered with what the sender lacks, and by the topology with a request for what the sender
 * holds newer) goes to random neighbours every 30 s, at a random phase per core: peers started together must not run anti-entropy
 * in lockstep, or a full state always crosses the repairs of the same round and a lost delta stays lost for
 * rounds.
 *
 * Topology changes travel as neighbour gossip (a peer sends its own changes to every neighbour, and passes
 * what is new to it on to the neighbours not linked to the entry's owner, which hear from the owner, when it
 * is one of the peers designated for that pair), as field-level deltas where the receiver's version is known
 * (see topology.ts), not along broadcast trees: a tree computed from a view that
 * predates a partition or heal routes through links that are gone or unknown, and the peers below them miss
 * the change until anti-entropy (in the pump, a zone of 40 of 400 peers cut off was collected only after the
 * next anti-entropy round with trees, after 1.5 s with gossip). Other channels use trees as designed. A new connection gets the digest of
 * every channel that has one (topology, IPAM), else its full state, at once; each side answers the other's
 * digest with the entries it lacks. Single-threaded and synchronous: `send` must not call back into the core.
 *
 * @module
 */

import type { Gossip, Gossiper, PeerName } from "./gossip.ts";
import type { Peer } from "./peer.ts";
import { type RouteLookup, Routes } from "./routes.ts";
import { Topology } from "./topology.ts";
import { type ChannelHost, GossipChannel } from "./gossip_channel.ts";
import { decodeGossipMessage, type GossipTag } from "./gossip_message.ts";
import {
  Channel,
  GOSSIP_INTERVAL_MS,
  IPAM_BROADCAST_DEFER_MS,
  MESH_PORT,
  ROUTE_RECALC_DEFER_MS,
  Tag,
  TOPOLOGY_BROADCAST_DEFER_MS,
  TOPOLOGY_RELAY_DEFER_MS,
} from "./constants.ts";
import { isIP } from "../../base/ip.ts";

/** How the core is wired to the outside world. */
export interface MeshCoreOptions {
  /** Our peer name (a MAC address). */
  name: PeerName;
  nickname: string;
  /** Random 64-bit id of this process run. */
  uid: bigint;
  /** Writes one message (tag + payload) to a directly connected neighbour; must not call back into the core. */
  send(neighbour: PeerName, tag: number, payload: Uint8Array): void;
  /** Uniform in [0, 1). */
  random(): number;
  /** The current time in milliseconds (any epoch, never decreasing). */
  now(): number;
  /** Send full state wherever a delta would go; a baseline for benchmarks only. */
  fullStateOnly?: boolean;
  /**
   * Called when the core set a timer: {@link MeshCore.nextTimer} may be sooner than before, so a driver that
   * sleeps until it needs not poll. Must not call back into the core.
   */
  scheduled?(): void;
}

/** A new direct connection, as the handshake reports it. */
export interface ConnectionInfo {
  name: PeerName;
  nickname: string;
  uid: bigint;
  /** The neighbour's TCP address as "host:port" ("[v6]:port" for IPv6). */
  address: string;
  /** True when we dialled it. */
  outbound: boolean;
}

/** Gossip traffic of one channel, envelope included. */
export interface GossipCounters {
  sentBytes: number;
  sentMessages: number;
  receivedBytes: number;
  receivedMessages: number;
}

/** Routes for status output. */
export interface RoutesView {
  /** Next hop per destination over established symmetric connections (data plane). */
  unicast: Record<PeerName, PeerName>;
  /** Next hop per destination over all connections (gossip). */
  unicastAll: Record<PeerName, PeerName>;
  /** Per source: the neighbours we relay its data-plane broadcasts to. */
  broadcast: Record<PeerName, PeerName[]>;
  /** Per source: the neighbours we relay its gossip broadcasts to. */
  broadcastAll: Record<PeerName, PeerName[]>;
}

/** An address some peer reports a connection to, where we have no connection to that peer. */
export interface DiscoveryTarget {
  /** The peer reported at that address. */
  name: PeerName;
  /** "host:port" to dial; an inbound connection's ephemeral port is replaced by the mesh port. */
  address: string;
}

/** Counters key for traffic on channels we do not know (relayed only). */
export const OTHER_CHANNELS = "(other)";

/**
 * The mesh control plane of one peer.
 *
 * @example
 * ```ts
 * const core = new MeshCore({ name, nickname, uid, send, random: Math.random, now: Date.now });
 * const ipam = core.newGossip(Channel.ipam, ring);
 * core.connectionAdded({ name: "ce:31:e0:06:45:1e", nickname: "b", uid: 7n, address: "10.0.0.2:6783", outbound: true });
 * setTimeout(() => core.tick(), core.nextTimer() - Date.now());
 * ```
 */
export class MeshCore {
  /** Our peer name. */
  readonly name: PeerName;
  readonly #opts: MeshCoreOptions;
  readonly #topology: Topology;
  readonly #routes: Routes;
  readonly #channels = new Map<string, GossipChannel>();
  readonly #counters = new Map<string, GossipCounters>();
  readonly #congested = new Set<PeerName>();
  readonly #peerRemoved: ((name: PeerName) => void)[] = [];
  readonly #topologyChanged: (() => void)[] = [];
  readonly #host: ChannelHost;
  #recalcAt: number | undefined;
  #updateAt: number | undefined;
  #gossipAt: number;

  /** Creates the core with only ourselves in the topology; the topology channel is registered. */
  constructor(opts: MeshCoreOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.#routes = new Routes(opts.name);
    this.#topology = new Topology(opts, {
      changed: () => {
        this.#recalcAt ??= opts.now() + ROUTE_RECALC_DEFER_MS;
        opts.scheduled?.();
      },
      selfChanged: () => {
        this.#updateAt ??= opts.now() + TOPOLOGY_BROADCAST_DEFER_MS;
        opts.scheduled?.();
      },
      relayPending: () => {
        this.#updateAt = Math.min(this.#updateAt ?? Infinity, opts.now() + TOPOLOGY_RELAY_DEFER_MS);
        opts.scheduled?.();
      },
    }, opts.now);
    this.#routes.calculate((n) => this.#topology.peers.get(n));
    this.#gossipAt = opts.now() + GOSSIP_INTERVAL_MS * (1 - opts.random());
    this.#host = {
      us: opts.name,
      routes: this.#routes,
      random: opts.random,
      congested: (n) => this.#congested.has(n),
      neighbours: () => this.#topology.self.connections.map((c) => c.name),
      transmit: (n, tag, bytes, channel) => this.#transmit(n, tag, bytes, channel),
    };
    this.newGossip(Channel.topology, this.#topology);
  }

  /**
   * Registers the gossiper of `channel` and returns the handle to send on it.
   * @throws {Error} when `channel` is already registered
   */
  newGossip(channel: string, g: Gossiper): Gossip {
    if (this.#channels.has(channel)) {
      throw new Error(`Cannot register gossip channel '${channel}': already registered`);
    }
    const throttle = channel === Channel.ipam
      ? { ms: IPAM_BROADCAST_DEFER_MS, now: this.#opts.now, held: () => this.#opts.scheduled?.() }
      : undefined;
    const c = new GossipChannel(channel, g, this.#host, this.#opts.fullStateOnly, throttle);
    this.#channels.set(channel, c);
    this.#counter(channel);
    return c;
  }

  /**
   * A direct connection finished its handshake: it is recorded (not yet established) and gets the digest or
   * full state of every channel (see {@link GossipChannel.sendFullState}); the topology answers its digest with
   * our entry, and the next update carries the entries it lacks that we are to pass on to it (see
   * {@link Topology.onDigestAnswering}).
   * @throws {Error} when `c.name` is ours or already connected
   */
  connectionAdded(c: ConnectionInfo): void {
    this.#topology.addConnection(c);
    for (const ch of this.#channels.values()) ch.sendFullState(c.name);
  }

  /**
   * The data-plane path to neighbour `name` works both ways.
   * @throws {Error} when there is no connection to `name`
   */
  connectionEstablished(name: PeerName): void {
    this.#topology.establishConnection(name);
  }

  /**
   * The connection to neighbour `name` is gone; what was pending for it is dropped.
   * @throws {Error} when there is no connection to `name`
   */
  connectionRemoved(name: PeerName): void {
    this.#topology.removeConnection(name);
    this.#congested.delete(name);
    for (const ch of this.#channels.values()) ch.drop(name);
  }

  /**
   * Backpressure from the TCP layer: while `congested`, gossip for `name` is held and merged; when cleared,
   * it is sent as one message per channel (and per broadcast source).
   * @throws {Error} when there is no connection to `name`
   */
  connectionCongested(name: PeerName, congested: boolean): void {
    if (!this.#topology.connected(name)) throw new Error(`Cannot mark '${name}' congested: not connected`);
    if (congested) return void this.#congested.add(name);
    this.#congested.delete(name);
    for (const ch of this.#channels.values()) ch.flush(name);
  }

  /**
   * Handles a gossip message (tag 4, 5, 6 or 8) from neighbour `from`.
   * @throws {Error} when `from` is not connected, or the envelope or the payload cannot be decoded; state is
   *   unchanged then (the caller drops the message and logs)
   */
  receive(from: PeerName, tag: number, payload: Uint8Array): void {
    if (!this.#topology.connected(from)) {
      throw new Error(
        `Cannot accept gossip from '${from}': not a connected neighbour; add the connection first`,
      );
    }
    const m = decodeGossipMessage(tag, payload);
    const ch = this.#channels.get(m.channel);
    const counter = this.#counter(ch === undefined ? OTHER_CHANNELS : m.channel);
    counter.receivedBytes += payload.length;
    counter.receivedMessages++;
    if (m.src === this.name) return;
    try {
      if (tag === Tag.gossipUnicast) {
        if (m.dst !== this.name) this.#relayUnicast(m.dst!, payload, m.channel);
        else ch?.gossiper.onGossipUnicast(m.src, m.payload);
      } else if (tag === Tag.gossipBroadcast) {
        if (ch !== undefined) ch.deliverBroadcast(m);
        else this.#relayRawBroadcast(m.src, payload);
      } else if (tag === Tag.gossipDigest) ch?.deliverDigest(from, m);
      else ch?.deliverGossip(from, m);
    } catch (e) {
      throw new Error(`Cannot apply gossip on '${m.channel}' from '${m.src}': ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** Runs every timer that is due at `now()`: route recalculation, topology update, anti-entropy, held broadcasts. */
  tick(): void {
    const now = this.#opts.now();
    if (this.#recalcAt !== undefined && this.#recalcAt <= now) this.#recalculate();
    if (this.#updateAt !== undefined && this.#updateAt <= now) {
      this.#updateAt = undefined;
      if (this.#recalcAt !== undefined) this.#recalculate();
      this.#sendUpdate();
    }
    if (this.#gossipAt <= now) {
      this.#gossipAt = now + GOSSIP_INTERVAL_MS;
      for (const ch of this.#channels.values()) ch.gossipFullState();
    }
    for (const ch of this.#channels.values()) ch.sendHeld(now);
  }

  /** When {@link MeshCore.tick} next has work, in the `now()` time base. */
  nextTimer(): number {
    const held = [...this.#channels.values()].map((ch) => ch.heldDueAt() ?? Infinity);
    return Math.min(this.#gossipAt, this.#recalcAt ?? Infinity, this.#updateAt ?? Infinity, ...held);
  }

  /** Calls `listener` with each peer garbage-collected as unreachable. */
  onPeerRemoved(listener: (name: PeerName) => void): void {
    this.#peerRemoved.push(listener);
  }

  /** Calls `listener` after each route recalculation (the topology changed). */
  onTopologyChange(listener: () => void): void {
    this.#topologyChanged.push(listener);
  }

  /** The entry of peer `name`, or undefined when unknown. */
  peer(name: PeerName): Peer | undefined {
    return this.#topology.peers.get(name);
  }

  /** Every known peer with the connections it reports, sorted by name. */
  peers(): readonly Peer[] {
    return this.#topology.peers.list();
  }

  /** Route lookups for forwarding (as of the last recalculation; cheap, per-source broadcast trees cached). */
  get routing(): RouteLookup {
    return this.#routes;
  }

  /** Every route, for status output (as of the last recalculation; computes every source's broadcast tree). */
  routes(): RoutesView {
    const r = this.#routes;
    const view: RoutesView = {
      unicast: Object.fromEntries(r.unicastTable()),
      unicastAll: Object.fromEntries(r.unicastAllTable()),
      broadcast: {},
      broadcastAll: {},
    };
    for (const p of this.#topology.peers.list()) {
      view.broadcast[p.name] = [...r.broadcast(p.name)];
      view.broadcastAll[p.name] = [...r.broadcastAll(p.name)];
    }
    return view;
  }

  /**
   * What the data plane forwards by, over established symmetric connections: the next hop per destination,
   * and per source the neighbours we relay its floods to (a fresh copy; {@link routes} without the gossip
   * routes, which cost as much again).
   */
  dataPlaneRoutes(): { unicast: Map<PeerName, PeerName>; broadcast: Map<PeerName, PeerName[]> } {
    const r = this.#routes;
    const broadcast = new Map<PeerName, PeerName[]>();
    for (const p of this.#topology.peers.list()) broadcast.set(p.name, [...r.broadcast(p.name)]);
    return { unicast: new Map(r.unicastTable()), broadcast };
  }

  /** Addresses other peers report connections to, for peers we are not connected to; sorted by address. */
  discovery(): DiscoveryTarget[] {
    const found = new Map<string, DiscoveryTarget>();
    for (const p of this.#topology.peers.list()) {
      if (p.name === this.name) continue;
      for (const c of p.connections) {
        if (c.name === this.name || this.#topology.connected(c.name)) continue;
        const address = c.outbound ? c.address : withPort(c.address, MESH_PORT);
        if (address !== undefined && splitHostPort(address) !== undefined) {
          found.set(address, { name: c.name, address });
        }
      }
    }
    return [...found.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  /** Gossip traffic per channel name ({@link OTHER_CHANNELS} for relayed unknown channels). */
  counters(): ReadonlyMap<string, Readonly<GossipCounters>> {
    return this.#counters;
  }

  #counter(channel: string): GossipCounters {
    let c = this.#counters.get(channel);
    if (c === undefined) {
      c = { sentBytes: 0, sentMessages: 0, receivedBytes: 0, receivedMessages: 0 };
      this.#counters.set(channel, c);
    }
    return c;
  }

  #transmit(neighbour: PeerName, tag: GossipTag, bytes: Uint8Array, channel: string): void {
    if (!this.#topology.connected(neighbour)) return;
    const c = this.#counter(this.#channels.has(channel) ? channel : OTHER_CHANNELS);
    c.sentBytes += bytes.length;
    c.sentMessages++;
    this.#opts.send(neighbour, tag, bytes);
  }

  #relayUnicast(dst: PeerName, bytes: Uint8Array, channel: string): void {
    const hop = this.#routes.unicastAll(dst);
    if (hop !== undefined) this.#transmit(hop, Tag.gossipUnicast, bytes, channel);
  }

  #relayRawBroadcast(src: PeerName, bytes: Uint8Array): void {
    for (const hop of this.#routes.broadcastAll(src)) {
      this.#transmit(hop, Tag.gossipBroadcast, bytes, OTHER_CHANNELS);
    }
  }

  /**
   * Our changed entry to every direct neighbour whose digest we answered; entries new here, and those owed to
   * a new neighbour, to each neighbour we are to pass them on to (see {@link Topology.toPassOn}); each as a
   * delta from what the neighbour holds where we know it (see {@link Topology.updateFor}).
   */
  #sendUpdate(): void {
    const ch = this.#channels.get(Channel.topology)!;
    const { own, relay, before } = this.#topology.takeUpdate();
    const direct = [...this.#host.neighbours()].filter((n) =>
      this.#opts.fullStateOnly === true || this.#topology.introduced(n)
    );
    if (own !== undefined) {
      for (const n of direct) {
        const u = this.#topology.updateFor(n, own.list());
        if (u !== undefined) ch.gossipTo(n, u);
      }
    }
    for (const hop of direct) {
      const owed = this.#topology.takeOwed(hop);
      const pending = relay === undefined
        ? owed
        : [...relay.list(), ...owed.filter((p) => relay.get(p.name) === undefined)];
      const u = this.#topology.updateFor(hop, this.#topology.toPassOn(hop, pending), before);
      if (u !== undefined) ch.gossipTo(hop, u);
    }
  }

  #recalculate(): void {
    this.#recalcAt = undefined;
    const peers = this.#topology.peers;
    const removed = this.#topology.collect();
    this.#routes.calculate((n) => peers.get(n));
    for (const p of removed) for (const l of this.#peerRemoved) l(p.name);
    for (const l of this.#topologyChanged) l();
  }
}

/** Splits "host:port" or "[v6]:port"; undefined when it is not an IP address with a port. */
function splitHostPort(address: string): { host: string; port: number } | undefined {
  const i = address.lastIndexOf(":");
  if (i < 0) return undefined;
  let host = address.slice(0, i);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  else if (host.includes(":")) return undefined;
  const port = Number(address.slice(i + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535 || !isIP(host)) return undefined;
  return { host, port };
}

function withPort(address: string, port: number): string | undefined {
  const hp = splitHostPort(address);
  if (hp === undefined) return undefined;
  return hp.host.includes(":") ? `[${hp.host}]:${port}` : `${hp.host}:${port}`;
}
