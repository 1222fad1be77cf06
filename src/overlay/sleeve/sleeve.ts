/**
 * The sleeve engine: one loop that moves Ethernet frames between a {@link FrameDevice} (the TAP on the bridge)
 * and a {@link PacketConn} (the UDP socket), for one peer of the mesh.
 *
 * Flow of one wakeup ({@link Sleeve.pump}), all synchronous on one thread into reused buffers:
 * 1. Device: read up to {@link DRAIN_LIMIT} frames; learn source MACs; route each to its next hop's open
 *    datagram (forwarder.ts). A device with offloads (TAP with a virtio-net header) hands over TCP
 *    super-frames of up to 64 KiB; the forwarder cuts each into TCP segments that fit the next hop's path
 *    (user-space GSO, segment.ts), so no datagram is ever larger than the path MTU and none is fragmented.
 *    Each datagram is built (and sealed) in place in its link's {@link SendBatch}.
 * 2. Socket: receive up to {@link DRAIN_LIMIT} buffers (recvmmsg where the socket has it); with UDP GRO a
 *    buffer holds several datagrams of one sender, split at the reported segment size and read where they lie
 *    (offsets, no view per datagram). Per datagram: decode the header, find the sender's link, check the
 *    replay window and open the seal in place (the records replace the box), validate every record, then act
 *    on them: frames for us are queued for the device (views into the receive buffers, which stay untouched
 *    until the device writes), frames for others are re-sealed onto the next hop's datagram, link records
 *    (heartbeats, probes, acks) are answered.
 * 3. Device writes: the queued frames are coalesced (user-space GRO, coalesce.ts) into super-frames when the
 *    device has offloads, and written, once per wakeup. TCP segments from a peer
 *    we offered {@link PARTIAL_CHECKSUMS} carry partial checksums, which nobody sums: the coalescer merges
 *    them unchecked and the device's kernel completes the checksum only if the frame leaves the host.
 * 4. Flush: every link's open datagram is sealed, then each link's batch goes in one UDP GSO send (sendmmsg
 *    or one send per datagram where the kernel refuses GSO).
 *
 * {@link Sleeve.run} pumps back to back while there is work; out of work, it first blocks its own thread in
 * one poll(2) over both fds for {@link BRIEF_WAIT_MS} (during a stream the next frame comes sooner, and this
 * wakeup skips the thread pool's hop), then waits with one pending `readable()` per fd (each one poll(2) on
 * the thread pool) and pumps whenever either fires. After {@link DRAIN_ROUNDS} wakeups in a row, or
 * {@link DRAIN_BUDGET_MS} since its event loop last ran, it yields to the event loop (event_loop_yield.ts)
 * before draining on, so under any load (a broadcast storm) control calls (setPeer, setRoutes, stats: Worker
 * messages) still run between wakeups on the same thread. The engine has one timer (heartbeats, PMTU probes,
 * lost links, MAC expiry, on the injected clock), armed for the earliest of those deadlines (heartbeats of
 * links due about together share a wakeup), so an idle engine wakes about once per heartbeat period, not every
 * {@link TICK_MS}; a busy loop fires it itself before each yield once it is overdue, since Deno runs timers
 * seldom while the event loop turns only through such yields.
 *
 * @module
 */
import type { Endpoint, PacketConn } from "../../../ffi/packet_conn.ts";
import type { FrameDevice } from "../../../ffi/frame_device.ts";
import { BlockingPoll } from "../../../ffi/fd_poller.ts";
import { SyscallError } from "../../../ffi/libc.ts";
import { type Cipher, KEY_BYTES, type SecretBox } from "../../../ffi/sodium.ts";
import { type Clock, systemClock, type TimerId } from "../../mesh/clock.ts";
import type { PeerName } from "../../mesh/gossip.ts";
import {
  ASSUMED_DATAGRAM,
  BRIEF_WAIT_MS,
  DRAIN_BUDGET_MS,
  DRAIN_LIMIT,
  DRAIN_ROUNDS,
  ETHERNET_HEADER_SIZE,
  HEARTBEAT_BODY_SIZE,
  MAC_CACHE_LIMIT,
  MAC_EXPIRY_MS,
  MAC_SWEEP_MS,
  MAX_DATAGRAM,
  MIN_DATAGRAM,
  PARTIAL_CHECKSUMS,
  PMTU_BODY_SIZE,
  RECORD_HEADER_SIZE,
  RecordKind,
  SUPER_DRAIN_LIMIT,
  TICK_MS,
  VNET_HEADER_SIZE,
} from "./constants.ts";
import { type Counters, newCounters } from "./counters.ts";
import {
  DatagramBuilder,
  DatagramError,
  type DatagramHeader,
  linkKey,
  openBody,
  readHeader,
  RecordReader,
  type RecordVisitor,
} from "./datagram.ts";
import { Coalescer } from "./coalesce.ts";
import { Forwarder, Routes, type RouteTables } from "./forwarder.ts";
import { EventLoopYield } from "./event_loop_yield.ts";
import { formatMac48, parseMac48 } from "./mac48.ts";
import { MacCache } from "./mac_cache.ts";
import { MemoMap } from "./memo_map.ts";
import { PeerLink } from "./peer_link.ts";
import type { SendBatch } from "./send_batch.ts";
import { isPlainVnetHeader, isSuperFrame, partialTcpChecksumStart } from "./vnet_header.ts";
import { Segmenter } from "./segment.ts";

const EMSGSIZE = 90;
/** Errors of a UDP GSO send that mean the kernel or device cannot segment: send without GSO from then on. */
const NO_GSO = new Set([22, 5, 95]); // EINVAL, EIO, EOPNOTSUPP
/** Ethernet header plus a VLAN tag: a frame's bytes beyond the device MTU. */
const MAX_FRAME_OVERHEAD = ETHERNET_HEADER_SIZE + 4;
/** Frame buffers hold at least this MTU, so raising the TAP MTU to jumbo size later truncates nothing. */
const FRAME_BUFFER_MTU = 9000;
/** The largest IP packet, the size of a TCP super-frame's packet at most (with offloads). */
const MAX_IP_PACKET = 65535;

/** How to reach one neighbour peer. */
export interface PeerConfig {
  /** Its UDP address (the sleeve port on its host). */
  endpoint: Endpoint;
  /** The 32-byte session key of the mesh connection; omitted for a plain (unencrypted) link. */
  sessionKey?: Uint8Array;
  /** True when we dialled the mesh connection (our nonces carry the polarity bit). Default false. */
  outbound?: boolean;
  /** The cipher both ends chose in the handshake (src/mesh/features.ts). Default `xsalsa20poly1305`. */
  cipher?: Cipher;
  /**
   * The peer offered {@link PARTIAL_CHECKSUMS} in its handshake: TCP segments go to it with partial
   * checksums (RecordKind.offloadFrame). Default false: complete checksums in plain frame records.
   */
  partialChecksums?: boolean;
}

/** What the engine reports to the control plane. */
export type SleeveEvent =
  /** Our heartbeats to the peer are acknowledged: UDP works both ways. */
  | { type: "established"; peer: PeerName }
  /**
   * No acknowledgement for {@link LOST_AFTER_MS} (for `silentMs`; `quiet`: {@link LOST_QUIET_MS} while the
   * peer is on fastdp); heartbeats continue.
   */
  | { type: "lost"; peer: PeerName; silentMs: number; quiet: boolean }
  /** The link's datagram limit changed: `maxDatagram` UDP payload bytes, `mtu` the overlay IP MTU it allows. */
  | { type: "mtu"; peer: PeerName; maxDatagram: number; mtu: number }
  /** A MAC moved from one peer to another (`from`/`to` may be us). */
  | { type: "macMoved"; mac: string; from: PeerName; to: PeerName }
  /**
   * A frame from the bridge for `mac`, behind fastdp neighbour `peer`, was left to VXLAN: an entry the bridge
   * holds for `mac` on the sleeve's port is stale and must go (forwarder.ts). At most once per MAC per
   * FASTDP_MAC_REPORT_MS (constants.ts).
   */
  | { type: "leftToFastdp"; mac: string; peer: PeerName };

/** One link in {@link SleeveStats}. */
export interface LinkStats {
  /** The neighbour's name. */
  peer: PeerName;
  /** Its UDP address key, e.g. `198.18.0.2:6783`. */
  endpoint: string;
  /** True when its datagrams are sealed. */
  sealed: boolean;
  /** The cipher that seals them, when sealed. */
  cipher?: Cipher;
  /** True while heartbeats are acknowledged. */
  established: boolean;
  /** The largest datagram sent to it, in bytes. */
  maxDatagram: number;
  /** True when {@link maxDatagram} was verified by path MTU discovery. */
  pmtuVerified: boolean;
  /** The overlay MTU the link allows, in bytes. */
  mtu: number;
  /** True when TCP segments go to it with partial checksums (it offered {@link PARTIAL_CHECKSUMS}). */
  partialChecksums: boolean;
}

/** A snapshot of {@link Sleeve.stats}. */
export interface SleeveStats extends Counters {
  /** The neighbour links. */
  links: LinkStats[];
  /** MAC cache entries. */
  macs: number;
  /** `libsodium` or `tweetnacl`, when a box is in use. */
  crypto?: string;
  /** What seals AES-256-GCM links (`libgcrypt`, `openssl` or `libsodium`), when the CPU has AES-NI. */
  gcm?: string;
  /**
   * Set when the data plane Worker did not answer in time (sleeve_worker.ts): these are the last stats it
   * sent, this many ms old.
   */
  staleMs?: number;
}

/** Options for a {@link Sleeve}. */
export interface SleeveOptions {
  /** Our peer name, e.g. `ce:31:e0:06:45:1e`. */
  us: PeerName;
  /** The frame device; the engine owns it and closes it. */
  device: FrameDevice;
  /** The UDP socket; the engine owns it and closes it. */
  conn: PacketConn;
  /** Secretbox for sealed links (ffi/sodium.ts); required before a peer with a session key is set. */
  box?: SecretBox;
  /** AES-256-GCM for links that chose it (ffi/sodium.ts `aes256gcm()`); absent where the CPU lacks AES-NI. */
  gcm?: SecretBox;
  /** Time and timers. Default {@link systemClock}. */
  clock?: Clock;
  /** The largest datagram PMTU discovery tries, in bytes. Default {@link MAX_DATAGRAM}. */
  maxDatagram?: number;
  /** The datagram size used until a peer's PMTU is verified, in bytes. Default {@link ASSUMED_DATAGRAM}. */
  assumedDatagram?: number;
  /** Receives events, synchronously, on the engine's thread. */
  onEvent?: (event: SleeveEvent) => void;
}

/**
 * The sleeve data plane of one peer.
 *
 * @example
 * ```ts ignore
 * const sleeve = new Sleeve({ us, device: openTap("weave-tap"), conn: openUdp("0.0.0.0", 6783, { dontFragment: true }),
 *   box: sodium(), onEvent: (e) => log.info(e.type, e) });
 * sleeve.setPeer("ce:31:e0:06:45:1e", { endpoint: endpoint("198.18.0.2", 6783), sessionKey, outbound: true });
 * sleeve.setRoutes({ unicast, broadcast });
 * await sleeve.run(); // until close()
 * ```
 */
export class Sleeve {
  readonly #us: number;
  readonly #device: FrameDevice;
  readonly #conn: PacketConn;
  readonly #box: SecretBox | undefined;
  readonly #gcm: SecretBox | undefined;
  readonly #clock: Clock;
  readonly #ceiling: number;
  readonly #assumed: number;
  readonly #onEvent: (event: SleeveEvent) => void;
  /** The neighbour links by peer; a run of datagrams from one sender finds its link without hashing. */
  readonly #links = new MemoMap<number, PeerLink>();
  readonly #macs = new MacCache(MAC_EXPIRY_MS, MAC_CACHE_LIMIT);
  readonly #counters = newCounters();
  readonly #forwarder: Forwarder;
  // Reused buffers.
  readonly #frameBufs: Uint8Array[];
  readonly #frameSizes: number[];
  readonly #rxBufs: Uint8Array[];
  readonly #rxSizes: number[];
  readonly #rxSources: Endpoint[] = [];
  readonly #rxSegments: number[];
  /** False once the kernel refused a UDP GSO send (or the conn cannot): datagrams go one by one. */
  #gso: boolean;
  readonly #coalescer = new Coalescer();
  /** Completes partial checksums of frames for a device without offloads. */
  readonly #complete = new Segmenter();
  /** Frames to coalesce for the device this wakeup (views, valid until written). */
  readonly #plainFrames: Uint8Array[] = [];
  /** Per {@link #plainFrames} frame: where its partial TCP checksum starts, or −1 (see Coalescer.coalesce). */
  readonly #plainPartial: number[] = [];
  readonly #header: DatagramHeader = { sender: 0, sealed: false, sequence: 0, bodyOffset: 0 };
  readonly #toDevice: Uint8Array[] = [];
  /** Per {@link #toDevice} frame: the bytes of virtio-net header before it in its buffer (0 or 10). */
  readonly #toDeviceOffload: number[] = [];
  /**
   * Per {@link #toDevice} frame: where its partial TCP checksum starts when its header asks for nothing
   * else (partialTcpChecksumStart), or −1.
   */
  readonly #toDevicePartial: number[] = [];
  /** The device's virtio-net header size (0 or 10). */
  readonly #vnet: number;
  readonly #one: Uint8Array[] = [new Uint8Array(0)];
  readonly #heartbeat = new Uint8Array(HEARTBEAT_BODY_SIZE);
  readonly #pmtuBody = new Uint8Array(PMTU_BODY_SIZE);
  readonly #probe: DatagramBuilder;
  readonly #visit: RecordVisitor;
  readonly #transmit = (link: PeerLink) => this.#sendBatch(link, link.batch);
  // The datagram being handled by #visit.
  #from!: PeerLink;
  #records!: Uint8Array;
  #size = 0;
  #now = 0;
  /** The partial TCP checksum start of the offloaded frame record being handled, or −1. */
  #recordPartial = -1;
  #timer: TimerId | undefined;
  /** When {@link #timer} fires (ms on the clock), or Infinity when no timer is armed. */
  #timerAt = Infinity;
  /** When the MAC cache was last swept (ms on the clock). */
  #sweptAt = 0;
  #wake: (() => void) | undefined;
  #closed = false;

  /**
   * @throws {Error} `Invalid peer name 'x': …` when `us` is not a MAC-style name
   * @throws {RangeError} naming the value when a datagram size option is outside 548–65507
   */
  constructor(options: SleeveOptions) {
    this.#us = parseMac48(options.us, "peer name");
    this.#device = options.device;
    this.#conn = options.conn;
    this.#box = options.box;
    this.#gcm = options.gcm;
    this.#clock = options.clock ?? systemClock;
    this.#ceiling = datagramSize(options.maxDatagram ?? MAX_DATAGRAM, "maxDatagram");
    this.#assumed = Math.min(
      datagramSize(options.assumedDatagram ?? ASSUMED_DATAGRAM, "assumedDatagram"),
      this.#ceiling,
    );
    this.#onEvent = options.onEvent ?? (() => {});
    this.#forwarder = new Forwarder(this.#us, this.#links, this.#macs, this.#counters, {
      deliver: (frame, offload) => {
        this.#toDevice.push(frame);
        this.#toDeviceOffload.push(offload);
        this.#toDevicePartial.push(offload === 0 ? -1 : this.#recordPartial);
      },
      moved: (m) =>
        this.#onEvent({
          type: "macMoved",
          mac: formatMac48(m.mac),
          from: formatMac48(m.from),
          to: formatMac48(m.to),
        }),
      leftToFastdp: (mac, owner) =>
        this.#onEvent({ type: "leftToFastdp", mac: formatMac48(mac), peer: formatMac48(owner) }),
    });
    this.#vnet = this.#device.vnetHeaderSize ?? 0;
    const frameSize = this.#vnet + MAX_FRAME_OVERHEAD +
      (this.#vnet ? MAX_IP_PACKET : Math.max(this.#device.mtu(), FRAME_BUFFER_MTU));
    const frames = Math.min(this.#device.batchSize, this.#vnet ? SUPER_DRAIN_LIMIT : DRAIN_LIMIT);
    this.#frameBufs = Array.from({ length: frames }, () => new Uint8Array(frameSize));
    this.#frameSizes = new Array(frames).fill(0);
    const datagrams = Math.min(
      this.#conn.batchSize,
      this.#conn.receiveBatch ? SUPER_DRAIN_LIMIT : DRAIN_LIMIT,
    );
    this.#rxBufs = Array.from({ length: datagrams }, () => new Uint8Array(MAX_DATAGRAM));
    this.#rxSizes = new Array(datagrams).fill(0);
    this.#rxSegments = new Array(datagrams).fill(0);
    this.#gso = this.#conn.sendSegments !== undefined;
    this.#probe = new DatagramBuilder(this.#ceiling);
    this.#visit = (kind, src, dst, start, end, hops, sequence) =>
      this.#record(kind, src, dst, start, end, hops, sequence);
    this.#sweptAt = this.#clock.now();
  }

  /** Our UDP address. */
  get local(): Endpoint {
    return this.#conn.local;
  }

  /**
   * The offloads to offer peers in the handshake (features `offloads`): {@link PARTIAL_CHECKSUMS} when the
   * device has offloads, so TCP segments to us need not be checksummed (its kernel does not check them).
   */
  get offloads(): string[] {
    return this.#vnet ? [PARTIAL_CHECKSUMS] : [];
  }

  /**
   * Adds or updates a neighbour. A new endpoint restarts heartbeats and PMTU discovery (reporting `lost` when
   * the link was established); a new key restarts sequence numbers and the replay window.
   *
   * @throws {Error} `Invalid peer name 'x': …`, when naming ourselves, or for an endpoint of the other IP family
   * @throws {RangeError} when the session key is not 32 bytes
   * @throws {Error} when a session key is given but the engine has no box for its cipher
   */
  setPeer(name: PeerName, config: PeerConfig): void {
    const peer = parseMac48(name, "peer name");
    if (peer === this.#us) throw new Error(`Cannot set peer '${name}': it is this peer; pass a neighbour`);
    const key = config.sessionKey;
    if (key !== undefined && key.length !== KEY_BYTES) {
      throw new RangeError(
        `Invalid session key for peer '${name}': ${key.length} bytes, expected ${KEY_BYTES}`,
      );
    }
    if (config.endpoint.family !== this.#conn.local.family) {
      throw new Error(
        `Cannot set peer '${name}' at ${config.endpoint.key}: the sleeve socket ${this.#conn.local.key} is IPv${this.#conn.local.family}; use an IPv${this.#conn.local.family} endpoint`,
      );
    }
    const cipher = config.cipher ?? "xsalsa20poly1305";
    const box = cipher === "aes256gcm" ? this.#gcm : this.#box;
    if (key !== undefined && box === undefined) {
      throw new Error(
        `Cannot seal the link to peer '${name}' with ${cipher}: the sleeve has no box for it; pass options.${
          cipher === "aes256gcm" ? "gcm" : "box"
        }`,
      );
    }
    let link = this.#links.get(peer);
    if (link === undefined) {
      link = new PeerLink(
        this.#us,
        peer,
        config.endpoint,
        this.#ceiling,
        this.#assumed,
        this.#transmit,
        this.#clock.wallOffset,
      );
      link.setQuiet(this.#forwarder.fastPeers.has(peer), this.#clock.now());
      this.#links.set(peer, link);
    } else if (link.endpoint.key !== config.endpoint.key) {
      link.endpoint = config.endpoint;
      if (link.established) this.#onEvent({ type: "lost", peer: name, silentMs: 0, quiet: link.quiet });
      link.resetPath();
    }
    const outbound = config.outbound ?? false;
    const old = link.key;
    const same = old === undefined
      ? key === undefined
      : key !== undefined && old.outbound === outbound && old.box === box && sameBytes(old.session, key);
    if (!same) link.rekey(key ? linkKey(box!, key, outbound) : undefined);
    link.partialChecksums = config.partialChecksums ?? false;
    this.#tickLink(link, this.#clock.now());
    this.#armFor(link);
  }

  /**
   * Forgets a neighbour and the MACs learned behind it. Unknown names are ignored.
   *
   * @throws {Error} `Invalid peer name 'x': …`
   */
  removePeer(name: PeerName): void {
    const peer = parseMac48(name, "peer name");
    this.#links.delete(peer);
    this.#macs.forget(peer);
  }

  /**
   * Replaces the route tables.
   *
   * @throws {Error} `Invalid peer name 'x': …` for a malformed name in either table
   */
  setRoutes(tables: RouteTables): void {
    this.#forwarder.routes = Routes.from(tables);
  }

  /**
   * Sets the neighbours reached over fastdp (the kernel VXLAN device): frames from the bridge neither flood
   * nor unicast to them through the sleeve, so each frame takes exactly one path per pair (forwarder.ts).
   * Their links heartbeat every {@link HEARTBEAT_QUIET_MS} (fastdp's heartbeats watch the path meanwhile);
   * a link leaving the set heartbeats at once and is lost after {@link LOST_AFTER_MS} without an ack.
   *
   * @throws {Error} `Invalid peer name 'x': …`
   */
  setFastPeers(names: Iterable<PeerName>): void {
    const fast = new Set([...names].map((n) => parseMac48(n, "peer name")));
    this.#forwarder.fastPeers = fast;
    const now = this.#clock.now();
    for (const link of this.#links.values()) {
      link.setQuiet(fast.has(link.peer), now); // heartbeats slow down on fastdp, resume at once off it
      this.#armFor(link);
    }
  }

  /** A snapshot of the counters and links. */
  stats(): SleeveStats {
    const c = this.#counters;
    return {
      ...c,
      drops: { ...c.drops },
      links: [...this.#links.values()].map((l) => ({
        peer: formatMac48(l.peer),
        endpoint: l.endpoint.key,
        sealed: l.key !== undefined,
        cipher: l.key?.box.cipher,
        established: l.established,
        maxDatagram: l.pmtu.maxDatagram,
        pmtuVerified: l.pmtu.verified,
        mtu: l.mtu,
        partialChecksums: l.partialChecksums,
      })),
      macs: this.#macs.size,
      crypto: this.#box?.backend,
      gcm: this.#gcm?.backend,
    };
  }

  /**
   * One synchronous round: drain the device and the socket (each up to the batch), forward, flush.
   *
   * @returns frames plus datagrams handled; 0 when both were idle
   * @throws {SyscallError} when the device or the socket fails
   */
  pump(): number {
    const now = this.#clock.now();
    const frames = this.#device.read(this.#frameBufs, this.#frameSizes);
    const c = this.#counters, vnet = this.#vnet;
    for (let i = 0; i < frames; i++) {
      const buf = this.#frameBufs[i], frame = buf.subarray(vnet, this.#frameSizes[i]);
      c.framesFromDevice++;
      c.bytesFromDevice += frame.length;
      this.#forwarder.fromDevice(frame, now, vnet === 0 || isPlainVnetHeader(buf) ? 0 : vnet);
      this.#writeDevice(); // ICMP answers, if any
    }
    const conn = this.#conn, bufs = this.#rxBufs, sizes = this.#rxSizes, segments = this.#rxSegments;
    const n = conn.receiveBatch
      ? conn.receiveBatch(bufs, sizes, this.#rxSources, segments)
      : conn.receive(bufs, sizes, this.#rxSources);
    for (let i = 0; i < n; i++) {
      const size = sizes[i], step = conn.receiveBatch && segments[i] > 0 ? segments[i] : size;
      const buf = bufs[i];
      let at = 0;
      do {
        this.#receive(buf, at, Math.min(at + step, size), now);
        at += step;
      } while (at < size);
    }
    this.#writeDevice();
    this.#flush();
    return frames + n;
  }

  /**
   * Runs the timers due now: heartbeats, lost links, PMTU probes and MAC expiry; then arms the engine's one
   * timer for the earliest thing due next (no sooner than {@link TICK_MS}), so an idle engine with no links
   * does not wake at all and one with links wakes about once per heartbeat period. When the timer fired late,
   * our engine was stalled (a CPU-starved host) and acks waited in our own socket: the lateness is not charged
   * to the links (see {@link PeerLink.stalled}).
   */
  tick(): void {
    const now = this.#clock.now();
    let next = Infinity;
    for (const link of this.#links.values()) {
      this.#tickLink(link, now);
      next = Math.min(next, this.#dueAt(link));
    }
    if (now - this.#sweptAt >= MAC_SWEEP_MS) {
      this.#macs.sweep(now);
      this.#sweptAt = now;
    }
    if (this.#macs.size > 0) next = Math.min(next, this.#sweptAt + MAC_SWEEP_MS);
    this.#arm(next);
  }

  /**
   * Moves frames until {@link close}: waits for either fd, then {@link pump}s.
   *
   * @throws {SyscallError} when the device or socket fails (the engine is closed then)
   */
  async run(): Promise<void> {
    let deviceWaiting = false, connWaiting = false;
    let failure: unknown;
    const yielder = new EventLoopYield();
    const brief = this.#briefWait();
    // When the event loop last ran: a brief wait does not let it, so the drain budget counts from here.
    let loopRan = performance.now();
    const woken = () => this.#wake?.();
    const failed = (e: unknown) => {
      failure ??= e;
      woken();
    };
    try {
      while (!this.#closed && failure === undefined) {
        const more = this.#drain(loopRan);
        if (more || (brief?.wait(BRIEF_WAIT_MS) && !this.#closed)) {
          if (more || performance.now() - loopRan >= DRAIN_BUDGET_MS) {
            this.#fireOverdue();
            await yielder.next();
            loopRan = performance.now();
          }
          continue;
        }
        if (this.#closed) break;
        const wait = new Promise<void>((resolve) => (this.#wake = resolve));
        if (!deviceWaiting) {
          deviceWaiting = true;
          this.#device.readable().then(() => (deviceWaiting = false, woken()), failed);
        }
        if (!connWaiting) {
          connWaiting = true;
          this.#conn.readable().then(() => (connWaiting = false, woken()), failed);
        }
        await wait;
        loopRan = performance.now();
      }
    } finally {
      yielder.close();
      this.close();
    }
    if (failure !== undefined && !(failure instanceof Deno.errors.BadResource)) throw failure;
  }

  /**
   * Pumps back to back until idle or closed, within the drain budget counted from `since` (when the event loop
   * last ran).
   *
   * @returns true when it stopped for the budget with work left
   */
  #drain(since: number): boolean {
    for (let rounds = 1; !this.#closed && this.pump() > 0; rounds++) {
      if (rounds >= DRAIN_ROUNDS || performance.now() - since >= DRAIN_BUDGET_MS) return !this.#closed;
    }
    return false;
  }

  /** A poll over the device's and the socket's fds on this thread, when both have one (real ones do). */
  #briefWait(): BlockingPoll | undefined {
    const device = this.#device.pollFd, conn = this.#conn.pollFd;
    return device === undefined || conn === undefined ? undefined : new BlockingPoll([device, conn]);
  }

  /** Stops the loop and the timers and closes the device and the socket. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#device.close();
    this.#conn.close();
    this.#wake?.();
  }

  /** When `link` next needs the timer: its heartbeat or expiry, and while established its PMTU search. */
  #dueAt(link: PeerLink): number {
    return link.established ? Math.min(link.dueAt, link.pmtu.dueAt) : link.dueAt;
  }

  /** Makes sure the timer fires by the time `link` needs it (after its state changed). */
  #armFor(link: PeerLink): void {
    this.#arm(this.#dueAt(link));
  }

  /**
   * Arms the timer for `at` (ms on the clock; Infinity: nothing due), at least {@link TICK_MS} from now so
   * close deadlines share a wakeup, unless one already fires sooner.
   */
  #arm(at: number): void {
    if (this.#closed || at === Infinity) return;
    const now = this.#clock.now();
    at = Math.max(at, now + TICK_MS);
    if (at >= this.#timerAt) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#fire(at), at - now);
  }

  /** The timer's work, armed for `at`: charges lateness to no link (see {@link tick}), then ticks. */
  #fire(at: number): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#closed) return;
    const late = this.#clock.now() - at;
    if (late > 0) { for (const link of this.#links.values()) link.stalled(late); }
    this.tick();
  }

  /**
   * Fires the timer here when it is overdue. A loop that always finds work (or a ready fd in its own-thread
   * wait) turns its event loop only through {@link EventLoopYield}, and Deno then runs timers seldom: in
   * sleeve_storm_test.ts a 200 ms timer fired after 2.6 s of yields every 20 ms.
   */
  #fireOverdue(): void {
    if (this.#timer === undefined || this.#clock.now() < this.#timerAt) return;
    this.#clock.clearTimeout(this.#timer);
    this.#fire(this.#timerAt);
  }

  #tickLink(link: PeerLink, now: number): void {
    if (link.expired(now)) {
      const peer = formatMac48(link.peer);
      this.#onEvent({ type: "lost", peer, silentMs: link.silentFor(now), quiet: link.quiet });
    }
    if (link.heartbeatDue(now)) {
      link.heartbeatSent(now, this.#heartbeat);
      link.add(RecordKind.heartbeat, this.#us, link.peer, this.#heartbeat);
    }
    this.#flushLink(link);
    if (link.established) this.#probePath(link, now);
  }

  /** Sends the probes the link's PMTU search asks for; each is a datagram of exactly the probed size. */
  #probePath(link: PeerLink, now: number): void {
    for (let size = link.pmtu.next(now); size !== undefined; size = link.pmtu.next(now)) {
      const body = size - link.overhead - RECORD_HEADER_SIZE;
      if (body < PMTU_BODY_SIZE) {
        link.pmtu.tooBig(size);
        continue;
      }
      this.#pmtuBody[0] = size >>> 8;
      this.#pmtuBody[1] = size;
      this.#probe.begin(this.#us, size, link.key, link.key ? link.sendSequence++ : 0);
      this.#probe.add(RecordKind.pmtuProbe, this.#us, link.peer, this.#pmtuBody, body);
      if (!this.#send(link, this.#probe.finish())) break;
    }
    this.#reportMtu(link);
  }

  #reportMtu(link: PeerLink): void {
    this.#armFor(link); // a probe went out, or a refusal restarted the search
    if (!link.pmtu.verified || link.mtu === link.reportedMtu) return;
    link.reportedMtu = link.mtu;
    this.#onEvent({
      type: "mtu",
      peer: formatMac48(link.peer),
      maxDatagram: link.pmtu.maxDatagram,
      mtu: link.mtu,
    });
  }

  #flush(): void {
    for (const link of this.#links.values()) this.#flushLink(link);
  }

  /** Seals the link's open datagram and sends its batch. */
  #flushLink(link: PeerLink): void {
    link.flush();
    if (link.batch.count > 0) this.#sendBatch(link, link.batch);
  }

  /**
   * Sends and clears a batch: one datagram by {@link #send}, more by one UDP GSO send. On EMSGSIZE the
   * link's PMTU search learns the size; when the kernel cannot do GSO, this and later batches go without.
   */
  #sendBatch(link: PeerLink, batch: SendBatch): void {
    const c = this.#counters, count = batch.count;
    try {
      if (count === 1 || !this.#gso) {
        for (let i = 0; i < count; i++) this.#sendOne(link, batch.datagram(i));
        return;
      }
      const length = batch.length;
      try {
        if (this.#conn.sendSegments!(batch.buffer, length, batch.segmentSize, link.endpoint)) {
          c.gsoSends++;
          c.datagramsSent += count;
          c.bytesSent += length;
        } else {
          c.drops.sendFailed += count;
        }
        return;
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e;
        if (e.errno === EMSGSIZE) {
          link.pmtu.tooBig(batch.segmentSize);
          c.drops.tooBig += count;
          return this.#reportMtu(link);
        }
        if (!NO_GSO.has(e.errno)) return void (c.drops.sendFailed += count);
        this.#gso = false;
      }
      this.#sendEach(link, batch);
    } finally {
      batch.clear();
    }
  }

  /** Sends a batch's datagrams without GSO: sendmmsg where the conn has it, else one by one. */
  #sendEach(link: PeerLink, batch: SendBatch): void {
    const c = this.#counters, count = batch.count;
    if (!this.#conn.sendBatch) {
      for (let i = 0; i < count; i++) this.#sendOne(link, batch.datagram(i));
      return;
    }
    const datagrams = Array.from({ length: count }, (_, i) => batch.datagram(i));
    let sent = 0;
    try {
      sent = this.#conn.sendBatch(datagrams, link.endpoint);
    } catch (e) {
      if (e instanceof SyscallError && e.errno === EMSGSIZE) {
        link.pmtu.tooBig(batch.segmentSize);
        c.drops.tooBig += count;
        return this.#reportMtu(link);
      }
    }
    for (let i = 0; i < sent; i++) c.bytesSent += datagrams[i].length;
    c.datagramsSent += sent;
    c.drops.sendFailed += count - sent;
  }

  /** Sends one datagram; a refusal for its size lowers the link's MTU, which is then reported. */
  #sendOne(link: PeerLink, datagram: Uint8Array): void {
    if (!this.#send(link, datagram)) this.#reportMtu(link);
  }

  /**
   * Sends one datagram; on EMSGSIZE tells the link's PMTU search. Returns false when it was not sent.
   */
  #send(link: PeerLink, datagram: Uint8Array): boolean {
    const c = this.#counters;
    try {
      if (this.#conn.send([datagram], link.endpoint) === 1) {
        c.datagramsSent++;
        c.bytesSent += datagram.length;
        return true;
      }
    } catch (e) {
      // Any refusal (no route, family mismatch) drops this datagram only; the data plane keeps running.
      if (e instanceof SyscallError && e.errno === EMSGSIZE) {
        link.pmtu.tooBig(datagram.length);
        c.drops.tooBig++;
        return false;
      }
    }
    c.drops.sendFailed++;
    return false;
  }

  /** Handles the datagram `bytes[start, end)`. */
  #receive(bytes: Uint8Array, start: number, end: number, now: number): void {
    const c = this.#counters, size = end - start;
    c.datagramsReceived++;
    c.bytesReceived += size;
    let to = end, link: PeerLink | undefined;
    const h = this.#header;
    try {
      readHeader(bytes, h, start, end);
      link = this.#links.get(h.sender);
      if (link === undefined) return void c.drops.unknownPeer++;
      if (h.sealed !== (link.key !== undefined)) return void c.drops.auth++;
      if (link.key !== undefined) {
        if (!link.replay.check(h.sequence)) return void c.drops.replay++;
        const opened = openBody(bytes, h, end, link.key); // in place: the records replace the box
        if (opened < 0) return void c.drops.auth++;
        link.replay.accept(h.sequence);
        to = h.bodyOffset + opened;
      }
      RecordReader.validate(bytes, h.bodyOffset, to);
    } catch (e) {
      if (!(e instanceof DatagramError)) throw e;
      return void c.drops.decode++;
    }
    this.#from = link;
    this.#records = bytes;
    this.#size = size;
    this.#now = now;
    RecordReader.forEach(bytes, this.#visit, h.bodyOffset, to);
  }

  #record(
    kind: RecordKind,
    src: number,
    dst: number,
    start: number,
    end: number,
    hops: number,
    sequence: number,
  ): void {
    const link = this.#from, records = this.#records, f = this.#forwarder;
    if (kind === RecordKind.frame) {
      return f.fromPeer(link.peer, src, dst, records.subarray(start, end), this.#now, 0, hops, sequence);
    }
    if (kind === RecordKind.offloadFrame) {
      this.#recordPartial = partialTcpChecksumStart(records, start);
      const frame = records.subarray(start + VNET_HEADER_SIZE, end);
      return f.fromPeer(link.peer, src, dst, frame, this.#now, VNET_HEADER_SIZE, hops, sequence);
    }
    const body = records.subarray(start, end);
    if (src !== link.peer || dst !== this.#us) return void this.#counters.drops.misaddressed++;
    switch (kind) {
      case RecordKind.heartbeat:
        link.add(RecordKind.heartbeatAck, this.#us, link.peer, body);
        break;
      case RecordKind.heartbeatAck:
        if (link.acked(body, this.#now)) {
          this.#onEvent({ type: "established", peer: formatMac48(link.peer) });
          this.#probePath(link, this.#now);
        }
        break;
      case RecordKind.pmtuProbe:
        this.#pmtuBody[0] = this.#size >>> 8;
        this.#pmtuBody[1] = this.#size;
        link.add(RecordKind.pmtuAck, this.#us, link.peer, this.#pmtuBody);
        break;
      case RecordKind.pmtuAck:
        link.pmtu.acked(body[0] << 8 | body[1]);
        if (link.established) this.#probePath(link, this.#now);
        break;
    }
  }

  /**
   * Writes the queued frames to the device and frees the arena: frames that came with a virtio-net header
   * that asks more than a partial TCP checksum with it, in order; then the others, coalesced into
   * super-frames on a device with offloads (each output has its header), else as they are (partial
   * checksums completed first). A frame the device refuses is dropped alone.
   */
  #writeDevice(): void {
    const frames = this.#toDevice, offloads = this.#toDeviceOffload, partials = this.#toDevicePartial;
    const plain = this.#plainFrames, partial = this.#plainPartial;
    if (frames.length === 0) return;
    const c = this.#counters, vnet = this.#vnet;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i], offload = offloads[i];
      if (offload === 0 || (vnet !== 0 && partials[i] !== -1)) {
        plain.push(frame);
        partial.push(partials[i]);
        continue;
      }
      const body = new Uint8Array(frame.buffer, frame.byteOffset - offload, frame.length + offload);
      if (vnet !== 0) {
        this.#writeOne(body, offload);
      } else if (isSuperFrame(body)) {
        c.drops.offload++;
      } else {
        plain.push(this.#complete.segment(body, body.length)[0]);
        partial.push(-1);
      }
    }
    frames.length = 0;
    offloads.length = 0;
    partials.length = 0;
    if (plain.length === 0) return;
    if (vnet === 0) {
      for (const frame of plain) this.#writeOne(frame, 0);
    } else {
      for (const out of this.#coalescer.coalesce(plain, partial)) {
        if (isSuperFrame(out)) c.superFramesCoalesced++;
        this.#writeOne(out, vnet);
      }
    }
    plain.length = 0;
    partial.length = 0;
  }

  /** Writes one frame (`header` bytes of virtio-net header first) to the device and counts it. */
  #writeOne(bytes: Uint8Array, header: number): void {
    const c = this.#counters, one = this.#one;
    one[0] = bytes;
    let written = 0;
    try {
      written = this.#device.write(one);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
    }
    if (written === 1) {
      c.framesToDevice++;
      c.bytesToDevice += bytes.length - header;
    } else {
      c.drops.deviceFull++;
    }
  }
}

function datagramSize(n: number, what: string): number {
  if (!Number.isInteger(n) || n < MIN_DATAGRAM || n > MAX_DATAGRAM) {
    throw new RangeError(
      `Invalid ${what} '${n}': use a datagram size from ${MIN_DATAGRAM} to ${MAX_DATAGRAM} bytes`,
    );
  }
  return n;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
