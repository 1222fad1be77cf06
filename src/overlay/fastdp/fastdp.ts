/**
 * The fast datapath of one router: per neighbour, decides between fastdp (the kernel VXLAN device) and the
 * sleeve, and programs the VXLAN forwarding entries to match.
 *
 * Flow: a connection comes up ({@link FastDp.peerUp}) → when fastdp is on, unencrypted, and both ends offer
 * it, the peer becomes a candidate: its heartbeat entry goes into the VXLAN table and a heartbeat (a frame the
 * size of the overlay MTU, heartbeat.ts) goes to it every {@link HEARTBEAT_MS} through the device; it answers
 * each with an ack of the same size → {@link ACKS_TO_USE} acks in a row put the pair on fastdp: its flood
 * entry is added, the bridge forgets what it learned on the sleeve's port (so conversations move over), and
 * {@link FastDpOptions.onChange} tells the sleeve to leave the peer to VXLAN → no ack for
 * {@link FALLBACK_AFTER_MS} puts it back on sleeve: the sleeve is told first, then the peer's flood entry
 * and learned MACs go and the bridge forgets what it learned on the VXLAN port. Heartbeats continue, so the
 * pair returns when they are answered again.
 *
 * Concurrency: everything runs on the router's event loop from one timer every {@link DRAIN_MS} (drain the
 * heartbeat socket without blocking) that also sends heartbeats every {@link HEARTBEAT_MS}; netlink and the
 * socket are synchronous FFI calls. Frames themselves never pass through here: the kernel moves them.
 *
 * @module
 */
import type { NetlinkSocket } from "../../../ffi/netlink/socket.ts";
import { type Clock, systemClock, type TimerId } from "../../mesh/clock.ts";
import type { PeerName } from "../../mesh/gossip.ts";
import { parseIP } from "../../net/ip.ts";
import { logger } from "../../log.ts";
import { formatMac48, parseMac48 } from "../sleeve/mac48.ts";
import {
  ACKS_TO_USE,
  ETHERNET_HEADER_SIZE,
  FALLBACK_AFTER_MS,
  FASTDP_OVERLAY,
  HEARTBEAT_ETHERTYPE,
  HEARTBEAT_MS,
  HeartbeatKind,
  VXLAN_DEVICE,
  VXLAN_OVERHEAD,
  VXLAN_PORT,
} from "./constants.ts";
import { type FdbWanted, planFdb } from "./fdb_plan.ts";
import { decodeHeartbeat, encodeHeartbeat, HeartbeatError } from "./heartbeat.ts";
import { PacketSocket } from "../../../ffi/packet_socket.ts";
import { PairHealth } from "./pair_health.ts";
import { VxlanDevice } from "./vxlan_device.ts";

const log = logger("fastdp");

/** How often the heartbeat socket is drained, in ms. */
export const DRAIN_MS = 50;

/** What fastdp does to the outside world; the kernel's by {@link FastDp.open}, a double in tests. */
export interface FastDpIo {
  /** Sends one heartbeat frame through VXLAN; false when it was refused. */
  send(frame: Uint8Array): boolean;
  /** Receives one queued heartbeat frame into `buf`; its length, or undefined when none. */
  receive(buf: Uint8Array): number | undefined;
  /** Makes the VXLAN table match `wanted` (fdb_plan.ts). */
  program(wanted: FdbWanted): void;
  /** A pair switched: the bridge forgets what it learned on the port the pair left (`fast` → the sleeve's). */
  switched(fast: boolean): void;
  /** Releases the device and the socket. */
  close(): void;
}

/** Options of a {@link FastDp}. */
export interface FastDpOptions {
  /** Our peer name. */
  us: PeerName;
  /** The overlay MTU in bytes: heartbeats are frames of this MTU plus the Ethernet header. */
  mtu: number;
  /** False when `--no-fastdp` was given: every connection is sleeve. */
  enabled: boolean;
  /** True when the mesh has a password: every connection is sleeve. */
  encrypted: boolean;
  /** Time and timers. Default {@link systemClock}. */
  clock?: Clock;
  /** Called with the peers on fastdp whenever that set changes. */
  onChange?: (fast: PeerName[]) => void;
}

/** Why a neighbour is not on fastdp, shown in `status connections`. */
type Reason = "off" | "encrypted" | "notOffered" | "ipv6" | "probing" | "down" | "failed";

interface Pair {
  host: string;
  health?: PairHealth;
  reason?: Reason;
}

/** The overlay choice of each neighbour and the heartbeats behind it. */
export class FastDp {
  readonly #us: number;
  readonly #mtu: number;
  readonly #clock: Clock;
  readonly #onChange: (fast: PeerName[]) => void;
  readonly #pairs = new Map<PeerName, Pair>();
  readonly #fast = new Set<PeerName>();
  readonly #buf: Uint8Array;
  #io: FastDpIo | undefined;
  #off: Reason | undefined;
  #failure = "";
  #timer: TimerId | undefined;
  #ticks = 0;

  /**
   * A fastdp controller over `io` (undefined when fastdp is off, encrypted, or its device failed, with
   * `failure` saying why in the last case).
   */
  constructor(options: FastDpOptions, io: FastDpIo | undefined, failure?: string) {
    this.#us = parseMac48(options.us, "peer name");
    this.#mtu = options.mtu;
    this.#clock = options.clock ?? systemClock;
    this.#onChange = options.onChange ?? (() => {});
    this.#buf = new Uint8Array(options.mtu + ETHERNET_HEADER_SIZE + 64);
    this.#off = !options.enabled
      ? "off"
      : options.encrypted
      ? "encrypted"
      : failure !== undefined || io === undefined
      ? "failed"
      : undefined;
    this.#failure = failure ?? "";
    if (this.#off === undefined) {
      this.#io = io;
      this.#schedule();
    } else io?.close();
  }

  /**
   * Makes the VXLAN device on `bridge` (isolating it and the sleeve's `tap` port) and opens the heartbeat
   * socket, unless fastdp is off or the mesh is encrypted. When the device cannot be made, fastdp stays off
   * and every connection says why; the router keeps running on the sleeve.
   */
  static open(nl: NetlinkSocket, options: FastDpOptions & { bridge: string; tap: string }): FastDp {
    if (!options.enabled || options.encrypted) return new FastDp(options, undefined);
    let device: VxlanDevice | undefined;
    try {
      device = VxlanDevice.create(nl, options.bridge, options.mtu);
      device.up();
      const d = device;
      const socket = PacketSocket.open(device.index, VXLAN_DEVICE, HEARTBEAT_ETHERTYPE);
      d.isolate(options.tap, options.bridge, options.us);
      return new FastDp(options, {
        send: (frame) => socket.send(frame),
        receive: (buf) => socket.receive(buf),
        program: (wanted) => d.apply(planFdb(d.entries(), wanted)),
        switched: (fast) => void d.forgetLearned(fast ? options.tap : d.index),
        close: () => {
          socket.close();
          d.remove();
        },
      });
    } catch (err) {
      try {
        device?.remove();
      } catch { /* already gone */ }
      return new FastDp(options, undefined, (err as Error).message);
    }
  }

  /** The advertised overlays for the handshake: fastdp first when it can be used. */
  get overlays(): string[] {
    return this.#off === undefined ? [FASTDP_OVERLAY, "sleeve"] : ["sleeve"];
  }

  /**
   * A connection to `name` came up: with fastdp usable and offered by the peer, heartbeats start.
   *
   * @param host the peer's underlay IP
   * @param overlays the overlays the peer offered in its handshake
   */
  peerUp(name: PeerName, host: string, overlays: readonly string[]): void {
    this.peerDown(name);
    const pair: Pair = { host };
    if (this.#off !== undefined) pair.reason = this.#off;
    else if (!overlays.includes(FASTDP_OVERLAY)) pair.reason = "notOffered";
    else if (parseIP(host).length !== 4) pair.reason = "ipv6";
    else {
      parseMac48(name, "peer name");
      pair.health = new PairHealth();
      pair.reason = "probing";
    }
    this.#pairs.set(name, pair);
    if (pair.health) this.#program();
  }

  /** The connection to `name` went down: it leaves fastdp and its entries go. Unknown names are ignored. */
  peerDown(name: PeerName): void {
    const pair = this.#pairs.get(name);
    if (pair === undefined) return;
    this.#pairs.delete(name);
    if (this.#fast.delete(name)) this.#switched(false);
    if (pair.health) this.#program();
  }

  /** `fastdp`, or `sleeve (why)` for a neighbour; `sleeve` for a name that is not connected. */
  overlay(name: PeerName): string {
    const pair = this.#pairs.get(name);
    if (pair === undefined) return "sleeve";
    if (this.#fast.has(name)) return FASTDP_OVERLAY;
    return `sleeve (${this.#explain(pair.reason!)})`;
  }

  /** `fastdp` or `sleeve`, for metric labels. */
  overlayType(name: PeerName): "fastdp" | "sleeve" {
    return this.#fast.has(name) ? "fastdp" : "sleeve";
  }

  /** The neighbours on fastdp. */
  fastPeers(): PeerName[] {
    return [...this.#fast];
  }

  /** Receives and answers heartbeats, then (every {@link HEARTBEAT_MS}) checks deadlines and sends probes. */
  tick(): void {
    const io = this.#io;
    if (io === undefined) return;
    const now = this.#clock.now();
    this.#drain(io, now);
    if (this.#ticks++ % Math.round(HEARTBEAT_MS / DRAIN_MS) !== 0) return;
    for (const [name, pair] of this.#pairs) {
      const h = pair.health;
      if (h === undefined) continue;
      if (h.expired(now)) {
        pair.reason = "down";
        this.#fast.delete(name);
        this.#switched(false);
      }
      this.#heartbeat(io, HeartbeatKind.probe, parseMac48(name, "peer name"), h.probe(), this.#mtu);
    }
    this.#program(); // also prunes entries the kernel learned from hosts not on fastdp
  }

  /** Stops the timer and deletes the device (its entries go with it). Idempotent. */
  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#io?.close();
    this.#io = undefined;
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#schedule();
      try {
        this.tick();
      } catch (err) {
        // A refused netlink request or socket error must not end the router; the next tick tries again.
        log.warn("Fastdp tick failed", { error: (err as Error).message });
      }
    }, DRAIN_MS);
  }

  #drain(io: FastDpIo, now: number): void {
    for (let n = io.receive(this.#buf); n !== undefined; n = io.receive(this.#buf)) {
      let hb;
      try {
        hb = decodeHeartbeat(this.#buf.subarray(0, n));
      } catch (e) {
        if (e instanceof HeartbeatError) continue; // not ours, or cut short by a smaller path MTU
        throw e;
      }
      if (hb.to !== this.#us) continue;
      const name = formatMac48(hb.from);
      const pair = this.#pairs.get(name);
      if (pair?.health === undefined) continue;
      if (hb.kind === HeartbeatKind.probe) {
        this.#heartbeat(io, HeartbeatKind.ack, hb.from, hb.sequence, hb.size - ETHERNET_HEADER_SIZE);
      } else if (pair.health.acked(hb.sequence, now)) {
        pair.reason = undefined;
        this.#fast.add(name);
        this.#program();
        this.#switched(true);
      }
    }
  }

  #heartbeat(io: FastDpIo, kind: HeartbeatKind, to: number, sequence: number, mtu: number): void {
    const frame = encodeHeartbeat(
      { kind, from: this.#us, to, sequence, size: mtu + ETHERNET_HEADER_SIZE },
      this.#buf,
    );
    io.send(frame);
  }

  /**
   * Tells the sleeve and the bridge. On fallback the sleeve is told before the entries go, so at most the
   * frames of one Worker message hop are lost; on return the entries come first (a frame may then arrive
   * twice in that hop, never not at all).
   */
  #switched(fast: boolean): void {
    this.#onChange(this.fastPeers());
    if (!fast) this.#program();
    this.#io?.switched(fast);
  }

  #program(): void {
    const candidates = new Map<string, string>();
    for (const [name, pair] of this.#pairs) if (pair.health) candidates.set(name, pair.host);
    this.#io?.program({ candidates, fast: this.#fast });
  }

  #explain(reason: Reason): string {
    switch (reason) {
      case "off":
        return "fastdp turned off with --no-fastdp";
      case "encrypted":
        return "encrypted: fastdp has no encryption on this kernel";
      case "failed":
        return `fastdp unavailable: ${this.#failure}`;
      case "notOffered":
        return "the peer does not offer fastdp";
      case "ipv6":
        return "fastdp needs an IPv4 underlay address";
      case "probing":
        return `fastdp heartbeats not answered yet (${ACKS_TO_USE} in a row needed)`;
      case "down":
        return `fastdp heartbeats stopped for ${
          FALLBACK_AFTER_MS / 1000
        } s; check UDP ${VXLAN_PORT} and that the underlay carries ${
          this.#mtu + VXLAN_OVERHEAD
        }-byte packets`;
    }
  }
}
