/**
 * The fast datapath of one router: per neighbour, decides between fastdp (the kernel VXLAN device) and the
 * sleeve, and programs the VXLAN forwarding entries to match.
 *
 * Flow: a connection comes up ({@link FastDp.peerUp}) → when fastdp is on, unencrypted, and both ends offer
 * it, the peer becomes a candidate: its heartbeat entry goes into the VXLAN table and a heartbeat (a frame the
 * size of the overlay MTU, heartbeat.ts) goes to it every {@link HEARTBEAT_MS} through the device; it answers
 * each with an ack of the same size → {@link ACKS_TO_USE} acks in a row put the pair on fastdp: its flood
 * entry is added, the bridge forgets what it learned on the sleeve's port (so conversations move over), and
 * {@link FastDpOptions.onChange} tells the sleeve to leave the peer to VXLAN; heartbeats slow down to every
 * HEARTBEAT_SLOW_MS (constants.ts; longer with many pairs on fastdp, pair_health.ts), and back to every
 * {@link HEARTBEAT_MS} after one goes unanswered for ACK_WAIT_MS →
 * {@link FALLBACK_MISSED} of them unanswered in a row (pair_health.ts: counted in heartbeats our loop sent, so
 * a stalled host keeps its pairs) puts it back on sleeve: the sleeve is told first, then the peer's flood
 * entry and learned MACs go and the bridge forgets what it learned on the VXLAN port. Heartbeats continue, so the
 * pair returns when they are answered again. The two ends of a pair switch at different moments: frames the
 * peer sends over the sleeve in between teach our bridge its MACs on the sleeve's port again, and the sleeve
 * reports each frame it then leaves to VXLAN ({@link FastDp.leftToFastdp}), whose stale entry goes.
 *
 * Concurrency: everything runs on the router's event loop from one timer that drains the heartbeat socket
 * without blocking, every {@link DRAIN_MS} while a pair probes at the fast interval and every
 * {@link SLOW_DRAIN_MS} once every pair is on fastdp and answering, and runs a heartbeat round every
 * {@link HEARTBEAT_MS} (with no candidate pair it runs only the rounds). Netlink and the socket are synchronous
 * FFI calls. Frames themselves never pass through here: the kernel moves them.
 *
 * Kernel state is reconciled, never assumed: each programming run reads the device's table, plans the
 * difference to the wanted one (fdb_plan.ts, idempotent writes) and applies it; runs follow our own changes
 * (the pairs that came up in one drain share a run) and, without them, every {@link RECONCILE_MS}. Runs are
 * serialised: a run asked for while one is in progress (a callback re-entering) is folded into one more pass
 * after it. No
 * network event can throw out of here: a failed run is logged with the peers it was for and retried on the
 * next heartbeat round, a failing callback is logged and the state machine goes on.
 *
 * @module
 */
import type { NetlinkSocket } from "../../../ffi/netlink/socket.ts";
import { type Clock, systemClock, type TimerId } from "../../mesh/clock.ts";
import type { PeerName } from "../../mesh/gossip.ts";
import { parseIP } from "../../../base/ip.ts";
import { logger } from "../../log.ts";
import { formatMac48, parseMac48 } from "../sleeve/mac48.ts";
import {
  ACKS_TO_USE,
  ETHERNET_HEADER_SIZE,
  FALLBACK_MISSED,
  FALLBACK_MS,
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
import { PairHealth, slowInterval } from "./pair_health.ts";
import { VxlanDevice } from "./vxlan_device.ts";

const log = logger("fastdp");

function isIPv4(host: string): boolean {
  try {
    return parseIP(host).length === 4;
  } catch {
    return false;
  }
}

function isPeerMac(name: string): boolean {
  try {
    parseMac48(name, "peer name");
    return true;
  } catch {
    return false;
  }
}

/** How often the heartbeat socket is drained while a pair is proving itself or missing heartbeats, in ms. */
export const DRAIN_MS = 50;

/**
 * How often the heartbeat socket is drained while every pair is on fastdp and answering, in ms: probes then
 * go every HEARTBEAT_SLOW_MS or slower and wait ACK_WAIT_MS for their acks, so acks have rounds to spare, and a
 * peer's probe is still answered within half of its fastest interval ({@link HEARTBEAT_MS}) should it be
 * probing us quickly.
 */
export const SLOW_DRAIN_MS = 250;

/**
 * How often a heartbeat round reads the VXLAN table and corrects it although nothing changed here, in ms: it
 * prunes entries the kernel learned from hosts not on fastdp and restores entries deleted behind our back.
 * Every change of our own (a pair up, down, on or off fastdp) programs the table at once.
 */
export const RECONCILE_MS = 5_000;

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
  /** The bridge forgets `mac` on the sleeve's port; true when it had an entry there. */
  forgetOnSleevePort(mac: string): boolean;
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
  /** How often a round reconciles the table without a change of ours, in ms. Default {@link RECONCILE_MS}. */
  reconcileMs?: number;
}

/** Why a neighbour is not on fastdp, shown in `status connections`. */
type Reason = "off" | "encrypted" | "notOffered" | "badName" | "ipv6" | "probing" | "down" | "failed";

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
  readonly #reconcileMs: number;
  readonly #pairs = new Map<PeerName, Pair>();
  readonly #fast = new Set<PeerName>();
  readonly #buf: Uint8Array;
  #io: FastDpIo | undefined;
  #off: Reason | undefined;
  #failure = "";
  #timer: TimerId | undefined;
  /** When {@link #timer} fires (ms on the clock). */
  #timerAt = 0;
  /** When the last heartbeat round ran (ms on the clock). */
  #roundAt = -Infinity;
  /** A programming run is in progress. */
  #programming = false;
  /** The wanted table changed (or a run failed) since the last completed run. */
  #dirty = false;
  /** When the last programming run completed (ms on the clock). */
  #reconciledAt = -Infinity;

  /**
   * A fastdp controller over `io` (undefined when fastdp is off, encrypted, or its device failed, with
   * `failure` saying why in the last case).
   */
  constructor(options: FastDpOptions, io: FastDpIo | undefined, failure?: string) {
    this.#us = parseMac48(options.us, "peer name");
    this.#mtu = options.mtu;
    this.#clock = options.clock ?? systemClock;
    this.#onChange = options.onChange ?? (() => {});
    this.#reconcileMs = options.reconcileMs ?? RECONCILE_MS;
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
      this.#schedule(DRAIN_MS);
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
        forgetOnSleevePort: (mac) => d.forgetMac(options.tap, mac),
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
   * A connection to `name` came up: with fastdp usable and offered by the peer, heartbeats start. A repeat
   * restarts the pair. Never throws: a peer that cannot use fastdp (bad name or address) stays on sleeve
   * with the reason logged, and a failed kernel update is retried (see the module comment).
   *
   * @param host the peer's underlay IP
   * @param overlays the overlays the peer offered in its handshake
   */
  peerUp(name: PeerName, host: string, overlays: readonly string[]): void {
    const old = this.#pairs.get(name);
    const pair: Pair = { host };
    if (this.#off !== undefined) pair.reason = this.#off;
    else if (!overlays.includes(FASTDP_OVERLAY)) pair.reason = "notOffered";
    else if (!isIPv4(host)) pair.reason = "ipv6";
    else if (!isPeerMac(name)) pair.reason = "badName";
    else {
      pair.health = new PairHealth();
      pair.reason = "probing";
    }
    // State first, callbacks after: an event re-entering from a callback then lands after this one.
    this.#pairs.set(name, pair);
    if (this.#fast.delete(name)) this.#switched(false, name);
    if (pair.health || old?.health) this.#program(name);
    if (pair.health) this.#schedule(DRAIN_MS);
  }

  /**
   * The connection to `name` went down: it leaves fastdp and its entries go. Unknown names are ignored.
   * Never throws (see {@link FastDp.peerUp}).
   */
  peerDown(name: PeerName): void {
    const pair = this.#pairs.get(name);
    if (pair === undefined) return;
    this.#pairs.delete(name);
    if (this.#fast.delete(name)) this.#switched(false, name);
    if (pair.health) this.#program(name);
  }

  /**
   * The sleeve left a frame from the bridge for `mac`, behind neighbour `peer`, to VXLAN. When `peer` is on
   * fastdp here, an entry the bridge holds for `mac` on the sleeve's port is stale (learned from frames the
   * peer sent over the sleeve before its end switched; the bridge would send that MAC's frames nowhere
   * else): it goes, so the next frames flood, VXLAN carries them, and the bridge learns the MAC on its port.
   * Never throws.
   */
  leftToFastdp(mac: string, peer: PeerName): void {
    if (this.#io === undefined || !this.#fast.has(peer)) return;
    try {
      if (this.#io.forgetOnSleevePort(mac)) {
        log.info("Removed the bridge's stale entry on the sleeve's port for a MAC behind a fastdp peer", {
          mac,
          peer,
        });
      }
    } catch (err) {
      log.warn("Cannot remove the bridge's entry on the sleeve's port; it goes when it ages", {
        mac,
        peer,
        error: (err as Error).message,
      });
    }
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

  /**
   * Receives and answers heartbeats, then (every {@link HEARTBEAT_MS}) sends the probes due and checks misses.
   *
   * @returns when to run next, in ms: {@link DRAIN_MS} while a pair probes at the fast interval,
   *   {@link SLOW_DRAIN_MS} while every pair is on fastdp and answering, {@link HEARTBEAT_MS} (rounds only)
   *   with no candidate pair
   */
  tick(): number {
    const io = this.#io;
    if (io === undefined) return HEARTBEAT_MS;
    const now = this.#clock.now();
    this.#drain(io);
    if (now - this.#roundAt >= HEARTBEAT_MS - DRAIN_MS / 2) this.#round(io, now);
    let drain = Infinity; // with no candidate rounds go on: they prune what the kernel learned from other hosts
    for (const pair of this.#pairs.values()) {
      if (pair.health === undefined) continue;
      drain = pair.health.interval === HEARTBEAT_MS ? DRAIN_MS : Math.min(drain, SLOW_DRAIN_MS);
      if (drain === DRAIN_MS) break;
    }
    return Math.max(0, Math.min(drain, this.#roundAt + HEARTBEAT_MS - now));
  }

  #round(io: FastDpIo, now: number): void {
    this.#roundAt = now;
    const slow = slowInterval(this.#fast.size);
    for (const [name, pair] of this.#pairs) {
      const h = pair.health;
      if (h === undefined) continue;
      h.slowMs = slow;
      if (!h.due(now)) continue;
      const sequence = h.probe(now);
      if (h.expired()) {
        pair.reason = "down";
        this.#fast.delete(name);
        this.#switched(false, name);
      }
      this.#heartbeat(io, HeartbeatKind.probe, parseMac48(name, "peer name"), sequence, this.#mtu);
    }
    // A run left dirty (failed) is retried; every reconcile interval the table is checked anyway, which also
    // prunes entries the kernel learned from hosts not on fastdp and restores entries somebody else deleted.
    if (this.#dirty || now - this.#reconciledAt >= this.#reconcileMs) this.#program("heartbeat round");
  }

  /** Stops the timer and deletes the device (its entries go with it). Idempotent. */
  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#io?.close();
    this.#io = undefined;
  }

  /**
   * Runs {@link tick} in `ms`, then as often as it asks, until {@link stop}. Called again with a timer
   * pending, it only brings the timer forward.
   */
  #schedule(ms: number): void {
    if (this.#io === undefined) return;
    const at = this.#clock.now() + ms;
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return;
      this.#clock.clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      let next = DRAIN_MS;
      try {
        next = this.tick();
      } catch (err) {
        // A refused netlink request or socket error must not end the router; the next tick tries again.
        log.warn("Fastdp tick failed", { error: (err as Error).message });
      }
      this.#schedule(next);
    }, ms);
  }

  #drain(io: FastDpIo): void {
    const arrived: PeerName[] = [];
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
      } else if (pair.health.acked(hb.sequence)) {
        pair.reason = undefined;
        this.#fast.add(name);
        arrived.push(name);
      }
    }
    if (arrived.length === 0) return;
    // One programming run for every pair that arrived in this drain, its entries before the sleeve is told.
    this.#program(arrived.join(","));
    for (const name of arrived) this.#switched(true, name);
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
  #switched(fast: boolean, peer: PeerName): void {
    try {
      this.#onChange(this.fastPeers());
    } catch (err) {
      log.error("Cannot tell the sleeve the fastdp peers", { peer, error: (err as Error).message });
    }
    if (!fast) this.#program(peer);
    try {
      this.#io?.switched(fast);
    } catch (err) {
      // The bridge then forgets only by ageing: conversations move over later, but they do.
      log.warn("Cannot flush the bridge's learned entries", { peer, error: (err as Error).message });
    }
  }

  /**
   * Makes the kernel table match the pairs, serialised: re-entered (from a callback) it only marks another
   * pass. A failure leaves the table dirty for the next heartbeat round.
   *
   * @param why the peer (or the round) this run is for, for the log
   */
  #program(why: string): void {
    this.#dirty = true;
    if (this.#programming) return;
    this.#programming = true;
    try {
      while (this.#dirty && this.#io !== undefined) {
        this.#dirty = false;
        const candidates = new Map<string, string>();
        for (const [name, pair] of this.#pairs) if (pair.health) candidates.set(name, pair.host);
        this.#io.program({ candidates, fast: this.#fast });
      }
      this.#reconciledAt = this.#clock.now();
    } catch (err) {
      this.#dirty = true;
      log.warn("Cannot program the VXLAN forwarding entries; retrying on the next heartbeat round", {
        peer: why,
        error: (err as Error).message,
      });
    } finally {
      this.#programming = false;
    }
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
      case "badName":
        return "the peer's name is not a MAC address, which fastdp heartbeats need";
      case "ipv6":
        return "fastdp needs an IPv4 underlay address";
      case "probing":
        return `fastdp heartbeats not answered yet (${ACKS_TO_USE} in a row needed)`;
      case "down":
        return `fastdp heartbeats stopped (${FALLBACK_MISSED} in a row unanswered, ${
          FALLBACK_MS / 1000
        } s); check UDP ${VXLAN_PORT} and that the underlay carries ${
          this.#mtu + VXLAN_OVERHEAD
        }-byte packets`;
    }
  }
}
