/**
 * Frame forwarding: where each Ethernet frame goes, from the local bridge or from a peer.
 *
 * From the bridge: a unicast frame to a MAC learned behind a peer goes to that peer's next hop; broadcast,
 * multicast and unknown unicast frames flood along OUR broadcast tree. From a peer: frames addressed to us or
 * to all are written to the bridge (and their source MAC learned); frames for others are relayed to the next
 * hop of their destination peer, floods along the SOURCE's broadcast tree, so each peer gets a flood once.
 *
 * Loops: during bring-up the peers' topology views (and so their broadcast trees and next hops) disagree, and
 * trees from different views can form cycles. Every frame therefore carries a hop limit that each relay
 * lowers (a frame whose limit runs out is delivered but not sent on), and every flood carries its origin's
 * flood sequence number: a relay delivers and sends on each (origin, sequence) once and drops later copies
 * ({@link FloodFilter}). So a flood reaches each peer at most once whatever the views, and exactly once when
 * they agree, and every copy dies within {@link FRAME_HOP_LIMIT} sends.
 *
 * Fastdp: peers in {@link Forwarder.fastPeers} are direct neighbours whose frames from the bridge go over the
 * kernel VXLAN device instead. Frames from the bridge to a MAC behind one of them are left to VXLAN, and a
 * local flood then goes as one unicast-addressed copy to every reachable peer that is not fastdp (relayed
 * hop by hop), so every peer gets it exactly once: by VXLAN or by the sleeve, never both. Relaying for others
 * stays in the sleeve. A frame left to VXLAN is also reported ({@link ForwarderSink.leftToFastdp}, once per
 * MAC per FASTDP_MAC_REPORT_MS): the bridge sent it here either as a flood (VXLAN has its copy) or because it
 * learned the MAC on the sleeve's port from frames the peer sent over the sleeve before its end of the pair
 * switched, and then the bridge sends that MAC's frames nowhere else until the entry goes.
 *
 * Route tables come whole from the control plane ({@link RouteTables}); frames are appended to the next
 * hop's open datagram ({@link PeerLink.add}), which the engine flushes at the end of each wakeup.
 *
 * Offloaded frames (a virtio-net header in the VNET_HEADER_SIZE (constants.ts) bytes before the frame, in the same
 * buffer: TCP super-frames, partial checksums) take the same decisions; on the way to each next hop the
 * {@link Segmenter} cuts a super-frame into TCP segments that each fit that link's path ({@link PeerLink.maxFrame}),
 * as the kernel's GSO does, so every datagram stays within the verified path MTU and the underlay never
 * fragments. To a peer that takes partial checksums ({@link PeerLink.partialChecksums}: its TAP has offloads,
 * negotiated in the handshake) the segments, and frames that came with a partial checksum, travel as
 * {@link RecordKind.offloadFrame} records whose virtio-net header says NEEDS_CSUM: nobody sums the payload, as
 * with the kernel's own VXLAN. To any other peer they are plain {@link RecordKind.frame} records with complete
 * checksums, which every peer understands. A super-frame is never answered with ICMP (it is cut to the path
 * instead), other frames are held to the link MTU. Offloaded super-frames from peers before sleeve v2 are
 * still delivered and relayed (cut the same way).
 *
 * @module
 */
import type { PeerName } from "../../mesh/gossip.ts";
import {
  BROADCAST_PEER,
  ETHERNET_HEADER_SIZE,
  FASTDP_MAC_REPORT_LIMIT,
  FASTDP_MAC_REPORT_MS,
  FRAME_HOP_LIMIT,
  RecordKind,
  STP_GROUP_MAC,
} from "./constants.ts";
import type { Counters } from "./counters.ts";
import { FloodFilter } from "./flood_filter.ts";
import { fragmentationNeeded, isIPv4DontFragment } from "./icmp.ts";
import { isGroupMac, parseMac48, readMac48 } from "./mac48.ts";
import type { MacCache, MacMove } from "./mac_cache.ts";
import type { PeerLink } from "./peer_link.ts";
import { Segmenter } from "./segment.ts";

/** The control plane's routes, replaced whole on every change. */
export interface RouteTables {
  /** Destination peer → next-hop peer (a neighbour), for every reachable peer. */
  unicast: Map<PeerName, PeerName>;
  /** Source peer → the neighbours this peer relays that source's floods to (its broadcast tree), us included. */
  broadcast: Map<PeerName, PeerName[]>;
}

/** True when `a` and `b` hold the same routes (the order of entries aside; broadcast hops in order). */
export function sameRouteTables(a: RouteTables, b: RouteTables): boolean {
  if (a.unicast.size !== b.unicast.size || a.broadcast.size !== b.broadcast.size) return false;
  for (const [dst, hop] of a.unicast) if (b.unicast.get(dst) !== hop) return false;
  for (const [src, hops] of a.broadcast) {
    const other = b.broadcast.get(src);
    if (other === undefined || other.length !== hops.length || hops.some((h, i) => other[i] !== h)) {
      return false;
    }
  }
  return true;
}

/** Route tables keyed by 48-bit names. */
export class Routes {
  readonly #unicast: Map<number, number>;
  readonly #broadcast: Map<number, number[]>;

  /** No routes at all. */
  constructor(unicast = new Map<number, number>(), broadcast = new Map<number, number[]>()) {
    this.#unicast = unicast;
    this.#broadcast = broadcast;
  }

  /**
   * Converts the control plane's tables.
   *
   * @throws {Error} `Invalid peer name 'x': …` for a name that is not six hex pairs
   */
  static from(tables: RouteTables): Routes {
    const name = (n: PeerName) => parseMac48(n, "peer name");
    const unicast = new Map([...tables.unicast].map(([d, h]) => [name(d), name(h)]));
    const broadcast = new Map([...tables.broadcast].map(([s, hs]) => [name(s), hs.map(name)]));
    return new Routes(unicast, broadcast);
  }

  /** The next hop towards `dst`, or undefined. */
  nextHop(dst: number): number | undefined {
    return this.#unicast.get(dst);
  }

  /** Every reachable destination peer. */
  destinations(): IterableIterator<number> {
    return this.#unicast.keys();
  }

  /** The neighbours to relay floods from `src` to. */
  broadcastHops(src: number): readonly number[] {
    return this.#broadcast.get(src) ?? NO_HOPS;
  }
}

const NO_HOPS: readonly number[] = [];

/** What the forwarder hands back to the engine. */
export interface ForwarderSink {
  /**
   * Queues a frame for the local device (valid only during the call: copy or write at once); `offload` is
   * VNET_HEADER_SIZE (constants.ts) when a virtio-net header precedes it in its buffer, else 0.
   */
  deliver(frame: Uint8Array, offload: number): void;
  /** A MAC moved to another owner. */
  moved(move: MacMove): void;
  /** A frame from the bridge for `mac`, behind fastdp neighbour `owner`, was left to VXLAN (see the module comment). */
  leftToFastdp(mac: number, owner: number): void;
}

/** The forwarding decisions of one engine. */
export class Forwarder {
  /** The current routes; replaced by the engine's setRoutes. */
  routes = new Routes();
  /** Neighbours reached over fastdp for frames from the bridge; replaced by the engine's setFastPeers. */
  fastPeers: ReadonlySet<number> = new Set();
  readonly #us: number;
  readonly #links: Map<number, PeerLink>;
  readonly #macs: MacCache;
  readonly #counters: Counters;
  readonly #sink: ForwarderSink;
  readonly #floods = new FloodFilter();
  readonly #segmenter = new Segmenter();
  /** When each MAC was last reported to {@link ForwarderSink.leftToFastdp} (ms). */
  readonly #fastdpReports = new Map<number, number>();
  /**
   * The flood sequence number of our next local flood (unsigned 32-bit, wrapping). It starts at random, so
   * a restarted peer's floods are not taken for copies of its earlier ones.
   */
  #floodSequence = crypto.getRandomValues(new Uint32Array(1))[0];

  /**
   * @param us our 48-bit name
   * @param links the neighbour links by peer
   * @param macs the MAC cache
   * @param counters where drops and relays are counted
   * @param sink device output and MAC move events
   */
  constructor(
    us: number,
    links: Map<number, PeerLink>,
    macs: MacCache,
    counters: Counters,
    sink: ForwarderSink,
  ) {
    this.#us = us;
    this.#links = links;
    this.#macs = macs;
    this.#counters = counters;
    this.#sink = sink;
  }

  /**
   * Forwards a frame read from the local device at `now` (ms); `offload` is VNET_HEADER_SIZE (constants.ts) when a
   * virtio-net header that asks something of the receiver precedes the frame in its buffer, else 0.
   */
  fromDevice(frame: Uint8Array, now: number, offload = 0): void {
    const drops = this.#counters.drops;
    if (frame.length < ETHERNET_HEADER_SIZE) return void drops.decode++;
    const dstMac = readMac48(frame, 0), srcMac = readMac48(frame, 6);
    if (dstMac === STP_GROUP_MAC || isGroupMac(srcMac)) return void drops.invalidMac++;
    this.#learn(srcMac, this.#us, now);
    const owner = isGroupMac(dstMac) ? undefined : this.#macs.lookup(dstMac, now);
    if (owner === undefined) {
      const sequence = this.#floodSequence;
      this.#floodSequence = (sequence + 1) >>> 0;
      return this.#flood(this.#us, frame, undefined, isGroupMac(dstMac), offload, FRAME_HOP_LIMIT, sequence);
    }
    if (owner === this.#us) return void drops.localDestination++;
    if (this.fastPeers.has(owner)) return this.#leftToFastdp(dstMac, owner, now);
    const hop = this.routes.nextHop(owner);
    if (hop === undefined) return void drops.noRoute++;
    this.#send(hop, this.#us, owner, frame, true, offload, FRAME_HOP_LIMIT, 0);
  }

  #leftToFastdp(mac: number, owner: number, now: number): void {
    const last = this.#fastdpReports.get(mac);
    if (last !== undefined && now - last < FASTDP_MAC_REPORT_MS) return;
    if (last === undefined && this.#fastdpReports.size >= FASTDP_MAC_REPORT_LIMIT) {
      this.#fastdpReports.clear();
    }
    this.#fastdpReports.set(mac, now);
    this.#sink.leftToFastdp(mac, owner);
  }

  /**
   * Forwards a frame record that arrived from neighbour `from` at `now` (ms).
   *
   * @param src the peer whose bridge captured the frame
   * @param dst the destination peer, or {@link BROADCAST_PEER}
   * @param offload VNET_HEADER_SIZE (constants.ts) when the frame came with a virtio-net header just before it, else 0
   * @param hops the record's hop limit (1 to 255): it is sent on with one less, and not at all when 1
   * @param sequence the record's flood sequence (for `dst` = {@link BROADCAST_PEER})
   */
  fromPeer(
    from: number,
    src: number,
    dst: number,
    frame: Uint8Array,
    now: number,
    offload = 0,
    hops = FRAME_HOP_LIMIT,
    sequence = 0,
  ): void {
    const drops = this.#counters.drops;
    if (src === this.#us) return void drops.misaddressed++;
    if (dst === BROADCAST_PEER && this.#floods.accept(src, sequence) !== undefined) {
      return void drops.duplicateFlood++;
    }
    if (dst === this.#us || dst === BROADCAST_PEER) {
      const srcMac = readMac48(frame, 6);
      if (isGroupMac(srcMac)) return void drops.invalidMac++;
      if (this.#macs.lookup(srcMac, now) === this.#us) return void drops.ownMac++;
      this.#learn(srcMac, src, now);
      this.#sink.deliver(frame, offload);
      if (dst === this.#us) return;
      return this.#flood(src, frame, from, false, offload, hops - 1, sequence);
    }
    const hop = this.routes.nextHop(dst);
    if (hop === undefined || hop === from) return void drops.noRoute++;
    if (hops <= 1) return void drops.hopLimit++;
    this.#counters.framesRelayed++;
    this.#send(hop, src, dst, frame, false, offload, hops - 1, 0);
  }

  /** Sends a flood from `src` on with hop limit `hops` (a relay's copies are dropped when it is 0). */
  #flood(
    src: number,
    frame: Uint8Array,
    from: number | undefined,
    group: boolean,
    offload: number,
    hops: number,
    sequence: number,
  ): void {
    let icmpSent = false;
    if (from === undefined && this.fastPeers.size > 0) {
      for (const dst of this.routes.destinations()) {
        if (dst === this.#us || this.fastPeers.has(dst)) continue;
        const hop = this.routes.nextHop(dst)!;
        icmpSent = this.#send(hop, src, dst, frame, !group && !icmpSent, offload, hops, 0) || icmpSent;
      }
      return;
    }
    for (const hop of this.routes.broadcastHops(src)) {
      if (hop === from || hop === src || hop === this.#us) continue;
      if (hops === 0) {
        this.#counters.drops.hopLimit++;
        continue;
      }
      if (from !== undefined) this.#counters.framesRelayed++;
      // Unknown unicast may be answered with ICMP; true broadcasts too big are dropped, as in the reference.
      const answer: boolean = from === undefined && !group && !icmpSent;
      icmpSent = this.#send(hop, src, BROADCAST_PEER, frame, answer, offload, hops, sequence) || icmpSent;
    }
  }

  /**
   * Appends the frame to `hop`'s datagram with hop limit `hops` and flood `sequence`; a frame too big is
   * dropped (with ICMP back when `icmp` allows).
   *
   * @returns true when an ICMP "fragmentation needed" was written back
   */
  #send(
    hop: number,
    src: number,
    dst: number,
    frame: Uint8Array,
    icmp: boolean,
    offload: number,
    hops: number,
    sequence: number,
  ): boolean {
    const link = this.#links.get(hop);
    if (link === undefined) {
      this.#counters.drops.noRoute++;
      return false;
    }
    if (offload !== 0) {
      const body = new Uint8Array(frame.buffer, frame.byteOffset - offload, frame.length + offload);
      const seg = this.#segmenter, partial = link.partialChecksums;
      // The pieces of a super-frame go straight into the link's datagrams.
      const kind = partial ? RecordKind.offloadFrame : RecordKind.frame;
      let piece: Uint8Array | undefined;
      try {
        piece = seg.cut(body, link.maxFrame, partial, link.frameSink(kind, src, dst, hops, sequence));
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        this.#counters.drops.tooBig++; // malformed, or its headers do not fit the path
        return false;
      }
      if (piece === undefined) {
        this.#counters.superFramesCut++;
        return false;
      }
      if (seg.headed) {
        link.addFrame(RecordKind.offloadFrame, src, dst, hops, sequence, piece); // it fits: see cut()
        return false;
      }
      frame = piece; // its checksum completed; held to the path below like any frame
    }
    if (frame.length > link.maxFrame) {
      this.#counters.drops.tooBig++;
      if (!icmp || !isIPv4DontFragment(frame)) return false;
      this.#sink.deliver(fragmentationNeeded(frame, link.mtu), 0);
      return true;
    }
    link.addFrame(RecordKind.frame, src, dst, hops, sequence, frame);
    return false;
  }

  #learn(mac: number, owner: number, now: number): void {
    const move = this.#macs.learn(mac, owner, now);
    if (move) this.#sink.moved(move);
  }
}
