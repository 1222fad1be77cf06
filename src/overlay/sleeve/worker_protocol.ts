/**
 * The messages between {@link SleeveWorker} (main thread) and worker.ts (the data plane Worker). Everything is
 * structured-clone data: endpoints travel as address and port, keys as bytes, route tables as Maps.
 *
 * @module
 */
import type { Cipher } from "../../../ffi/sodium.ts";
import type { PeerName } from "../../mesh/gossip.ts";
import type { RouteTables } from "./forwarder.ts";
import type { SleeveEvent, SleeveStats } from "./sleeve.ts";

/** How to start the data plane inside the Worker. */
export interface SleeveStartOptions {
  /** Our peer name, e.g. `ce:31:e0:06:45:1e`. */
  us: PeerName;
  /** The TAP device to create, e.g. `weave-tap` (attach it to the bridge afterwards). */
  tapName: string;
  /** The TAP MTU to set, in bytes. Default: the kernel's (1500). */
  mtu?: number;
  /**
   * Open the TAP with offloads: it hands over TCP super-frames (cut to the path before sending) and takes
   * coalesced ones. Default true; false reads and writes MTU-sized frames only.
   */
  offload?: boolean;
  /** The address to bind the UDP socket to. Default `0.0.0.0`. */
  host?: string;
  /** The UDP port. Default 6783; 0 lets the kernel pick (see {@link SleeveWorker.local}). */
  port?: number;
  /** Create the TAP and the socket inside this network namespace (name in /run/netns, path or PID). */
  netns?: string;
  /** `libsodium` (FFI, fast), `tweetnacl` (pure JS), or `auto` (libsodium when it loads). Default `auto`. */
  crypto?: "auto" | "libsodium" | "tweetnacl";
  /** The largest datagram PMTU discovery tries, in bytes. Default 65507. */
  maxDatagram?: number;
}

/** A peer's link as sent to the Worker. */
export interface PeerMessageConfig {
  /** The peer's sleeve address. */
  address: string;
  /** The peer's sleeve port. */
  port: number;
  /** The 32-byte session key, for a sealed link. */
  sessionKey?: Uint8Array;
  /** True when we dialled the mesh connection. */
  outbound?: boolean;
  /** The cipher both ends chose, for a sealed link. */
  cipher?: Cipher;
  /** The peer takes TCP segments with partial checksums (see PeerConfig in sleeve.ts). */
  partialChecksums?: boolean;
}

/** Main thread → Worker. */
export type ToWorker =
  | { op: "start"; options: SleeveStartOptions }
  | { op: "setPeer"; name: PeerName; config: PeerMessageConfig }
  | { op: "removePeer"; name: PeerName }
  | { op: "setRoutes"; tables: RouteTables }
  | { op: "setFastPeers"; names: PeerName[] }
  | { op: "stats"; id: number }
  | { op: "stop" };

/** Worker → main thread. */
export type FromWorker =
  /** `stats`: the engine's first stats, so the main thread always has some to fall back on. */
  | {
    op: "started";
    address: string;
    port: number;
    tapName: string;
    crypto: string;
    /** The ciphers it can seal with, most preferred first. */
    ciphers: Cipher[];
    /** The offloads to offer peers (Sleeve.offloads). */
    offloads: string[];
    stats: SleeveStats;
  }
  | { op: "event"; event: SleeveEvent }
  /** The answer to `stats` (the {@link LinkMessage} convention of src/worker/worker_link.ts). */
  | { op: "reply"; id: number; value: SleeveStats }
  /** `fatal` errors end the data plane (start failed, or the device or socket failed). */
  | { op: "error"; message: string; fatal: boolean }
  | { op: "stopped" };
