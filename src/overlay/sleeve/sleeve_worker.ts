/**
 * The main thread's handle on the sleeve data plane Worker (worker.ts): start it, hand it peers, keys and
 * routes, read its stats and events, stop it. The Worker gets FFI permission and nothing else: it opens the
 * TAP device and the UDP socket through FFI, which Deno's read/write/net permissions do not cover.
 *
 * Needs `--unstable-worker-options` (scoped Worker permissions).
 *
 * Every call that waits for the Worker has a deadline (src/worker/worker_link.ts), so the API answers however
 * busy the data plane is: start ({@link WORKER_START_TIMEOUT_MS}: then the Worker is terminated), stats
 * ({@link WORKER_REPLY_TIMEOUT_MS}: then the last stats it sent, marked `staleMs`; the first come with its
 * `started` message) and stop ({@link WORKER_STOP_TIMEOUT_MS}: then it is terminated). Requests open when the Worker
 * ends are rejected. Control calls (setPeer, setRoutes…) are one-way messages the Worker handles in order.
 *
 * @module
 */
import type { Endpoint } from "../../../ffi/packet_conn.ts";
import { type Cipher, KEY_BYTES } from "../../../ffi/sodium.ts";
import type { PeerName } from "../../mesh/gossip.ts";
import { WORKER_REPLY_TIMEOUT_MS, WORKER_START_TIMEOUT_MS, WORKER_STOP_TIMEOUT_MS } from "./constants.ts";
import { Routes, type RouteTables } from "./forwarder.ts";
import { parseMac48 } from "./mac48.ts";
import { WorkerLink } from "../../worker/worker_link.ts";
import type { SleeveEvent, SleeveStats } from "./sleeve.ts";
import type { FromWorker, SleeveStartOptions, ToWorker } from "./worker_protocol.ts";

export type { SleeveStartOptions } from "./worker_protocol.ts";

/** Options for {@link SleeveWorker.start}: where to run, plus the callbacks. */
export interface SleeveWorkerOptions extends SleeveStartOptions {
  /** Receives the engine's events (established, lost, mtu, macMoved, leftToFastdp) on the main thread. */
  onEvent?: (event: SleeveEvent) => void;
  /** Receives errors of control calls and a fatal error of the data plane. Default: ignored (see {@link SleeveWorker.done}). */
  onError?: (error: Error) => void;
}

/** A peer's link for {@link SleeveWorker.setPeer}. */
export interface SleeveWorkerPeer {
  /** The peer's sleeve UDP address. */
  endpoint: Endpoint | { address: string; port: number };
  /** The connection's 32-byte session key; omit for a plain link. */
  sessionKey?: Uint8Array;
  /** True when we dialled the mesh connection. */
  outbound?: boolean;
  /** The cipher both ends chose (one of {@link SleeveWorker.ciphers}). Default `xsalsa20poly1305`. */
  cipher?: Cipher;
  /** The peer offered PARTIAL_CHECKSUMS (constants.ts) in its handshake. Default false. */
  partialChecksums?: boolean;
}

/**
 * A running sleeve Worker.
 *
 * @example
 * ```ts ignore
 * const sleeve = await SleeveWorker.start({ us, tapName: "weave-tap", mtu: 1376, onEvent: console.log });
 * sleeve.setPeer(peer, { endpoint: { address: "198.18.0.2", port: 6783 }, sessionKey, outbound: true });
 * sleeve.setRoutes({ unicast: new Map([[peer, peer]]), broadcast: new Map([[us, [peer]], [peer, []]]) });
 * console.log(await sleeve.stats());
 * await sleeve.stop();
 * ```
 */
export class SleeveWorker {
  /** The bound UDP address. */
  readonly address: string;
  /** The bound UDP port (the kernel's pick when started with port 0). */
  readonly port: number;
  /** The TAP device's name (the kernel's pick for a `%d` pattern). */
  readonly tapName: string;
  /** `libsodium` or `tweetnacl`. */
  readonly crypto: string;
  /** The ciphers it can seal links with, most preferred first (what the handshake offers). */
  readonly ciphers: Cipher[];
  /** The offloads to offer peers in the handshake (features `offloads`). */
  readonly offloads: string[];
  /** Resolves when the Worker has stopped; rejects with the data plane's fatal error. */
  readonly done: Promise<void>;
  readonly #link: WorkerLink;
  /** The last stats the Worker sent (the first come with `started`) and when (performance.now()). */
  #last: { stats: SleeveStats; at: number };

  private constructor(link: WorkerLink, started: Extract<FromWorker, { op: "started" }>) {
    this.#link = link;
    this.address = started.address;
    this.port = started.port;
    this.tapName = started.tapName;
    this.crypto = started.crypto;
    this.ciphers = started.ciphers;
    this.offloads = started.offloads;
    this.done = link.done;
    this.#last = { stats: started.stats, at: performance.now() };
  }

  /**
   * Starts the Worker, which creates the TAP device and binds the UDP socket.
   *
   * @param startTimeoutMs how long to wait for the Worker to report it started (default
   *   {@link WORKER_START_TIMEOUT_MS}); then it is terminated
   * @throws {Error} `Cannot start the sleeve: …` with the Worker's reason (e.g. no /dev/net/tun permission,
   *   port in use, invalid peer name), or when it did not start in time
   * @throws {Deno.errors.NotCapable} when the process lacks FFI permission or `--unstable-worker-options`
   */
  static start(
    options: SleeveWorkerOptions,
    startTimeoutMs = WORKER_START_TIMEOUT_MS,
  ): Promise<SleeveWorker> {
    parseMac48(options.us, "peer name"); // thrown here, before any Worker exists
    const { onEvent, onError, ...startOptions } = options;
    return WorkerLink.start<Extract<FromWorker, { op: "started" }>>({
      module: new URL("./worker.ts", import.meta.url),
      permissions: { ffi: true },
      what: "the sleeve",
      start: { op: "start", options: startOptions } satisfies ToWorker,
      startTimeoutMs,
      onMessage: (msg) => {
        const m = msg as FromWorker;
        if (m.op === "event") onEvent?.(m.event);
      },
      onError,
    }).then(({ link, started }) => new SleeveWorker(link, started));
  }

  /**
   * Adds or updates a neighbour.
   *
   * @throws {Error} `Invalid peer name 'x': …`
   * @throws {RangeError} when the session key is not 32 bytes
   */
  setPeer(name: PeerName, peer: SleeveWorkerPeer): void {
    parseMac48(name, "peer name");
    if (peer.sessionKey !== undefined && peer.sessionKey.length !== KEY_BYTES) {
      throw new RangeError(
        `Invalid session key for peer '${name}': ${peer.sessionKey.length} bytes, expected 32`,
      );
    }
    const { address, port } = peer.endpoint;
    this.#post({
      op: "setPeer",
      name,
      config: {
        address,
        port,
        sessionKey: peer.sessionKey,
        outbound: peer.outbound,
        cipher: peer.cipher,
        partialChecksums: peer.partialChecksums,
      },
    });
  }

  /**
   * Forgets a neighbour.
   *
   * @throws {Error} `Invalid peer name 'x': …`
   */
  removePeer(name: PeerName): void {
    parseMac48(name, "peer name");
    this.#post({ op: "removePeer", name });
  }

  /**
   * Replaces the route tables.
   *
   * @throws {Error} `Invalid peer name 'x': …` for a malformed name
   */
  setRoutes(tables: RouteTables): void {
    Routes.from(tables);
    this.#post({ op: "setRoutes", tables });
  }

  /**
   * Sets the neighbours reached over fastdp; see {@link Sleeve.setFastPeers}.
   *
   * @throws {Error} `Invalid peer name 'x': …` for a malformed name
   */
  setFastPeers(names: Iterable<PeerName>): void {
    const list = [...names];
    for (const n of list) parseMac48(n, "peer name");
    this.#post({ op: "setFastPeers", names: list });
  }

  /**
   * The engine's counters and links. When the Worker does not answer within `timeoutMs` (a storm, an
   * overloaded host), the last stats it sent, with `staleMs` set to their age.
   *
   * @param timeoutMs how long to wait for the answer (default {@link WORKER_REPLY_TIMEOUT_MS})
   * @throws {Error} when the Worker has stopped or stops before answering
   */
  async stats(timeoutMs = WORKER_REPLY_TIMEOUT_MS): Promise<SleeveStats> {
    this.#checkRunning("stats");
    const stats = await this.#link.request<SleeveStats | undefined>(
      (id) => ({ op: "stats", id }) satisfies ToWorker,
      timeoutMs,
      () => undefined,
    );
    if (!stats) return { ...this.#last.stats, staleMs: Math.round(performance.now() - this.#last.at) };
    this.#last = { stats, at: performance.now() };
    return stats;
  }

  /**
   * Stops the data plane (the TAP device disappears) and waits for the Worker to end. Idempotent. A Worker
   * that does not end within `timeoutMs` is terminated ({@link done} then rejects saying so).
   *
   * @param timeoutMs how long to wait (default {@link WORKER_STOP_TIMEOUT_MS})
   */
  stop(timeoutMs = WORKER_STOP_TIMEOUT_MS): Promise<void> {
    return this.#link.stop({ op: "stop" } satisfies ToWorker, timeoutMs);
  }

  #post(msg: ToWorker): void {
    this.#checkRunning(msg.op);
    this.#link.post(msg);
  }

  #checkRunning(op: string): void {
    if (this.#link.stopped) {
      throw new Error(`Cannot ${op}: the sleeve worker has stopped; start a new one`);
    }
  }
}
