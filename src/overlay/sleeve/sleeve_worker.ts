/**
 * The main thread's handle on the sleeve data plane Worker (worker.ts): start it, hand it peers, keys and
 * routes, read its stats and events, stop it. The Worker gets FFI permission and nothing else: it opens the
 * TAP device and the UDP socket through FFI, which Deno's read/write/net permissions do not cover.
 *
 * Needs `--unstable-worker-options` (scoped Worker permissions).
 *
 * @module
 */
import type { Endpoint } from "../../../ffi/packet_conn.ts";
import { KEY_BYTES } from "../../../ffi/sodium.ts";
import type { PeerName } from "../../mesh/gossip.ts";
import { Routes, type RouteTables } from "./forwarder.ts";
import { parseMac48 } from "./mac48.ts";
import type { SleeveEvent, SleeveStats } from "./sleeve.ts";
import type { FromWorker, SleeveStartOptions, ToWorker } from "./worker_protocol.ts";

export type { SleeveStartOptions } from "./worker_protocol.ts";

/** Options for {@link SleeveWorker.start}: where to run, plus the callbacks. */
export interface SleeveWorkerOptions extends SleeveStartOptions {
  /** Receives the engine's events (established, lost, mtu, macMoved) on the main thread. */
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
  /** Resolves when the Worker has stopped; rejects with the data plane's fatal error. */
  readonly done: Promise<void>;
  readonly #worker: Worker;
  readonly #stats: Map<number, (s: SleeveStats) => void>;
  readonly #state: { stopped: boolean };
  #nextId = 1;

  /** Use {@link SleeveWorker.start}. */
  constructor(
    worker: Worker,
    started: Extract<FromWorker, { op: "started" }>,
    done: Promise<void>,
    pendingStats: Map<number, (s: SleeveStats) => void>,
    state: { stopped: boolean },
  ) {
    this.#worker = worker;
    this.#stats = pendingStats;
    this.#state = state;
    this.address = started.address;
    this.port = started.port;
    this.tapName = started.tapName;
    this.crypto = started.crypto;
    this.done = done;
  }

  /**
   * Starts the Worker, which creates the TAP device and binds the UDP socket.
   *
   * @throws {Error} `Cannot start the sleeve: …` with the Worker's reason (e.g. no /dev/net/tun permission,
   *   port in use, invalid peer name)
   * @throws {Deno.errors.NotCapable} when the process lacks FFI permission or `--unstable-worker-options`
   */
  static start(options: SleeveWorkerOptions): Promise<SleeveWorker> {
    parseMac48(options.us, "peer name");
    const { onEvent, onError, ...startOptions } = options;
    const worker = new Worker(new URL("./worker.ts", import.meta.url), {
      type: "module",
      deno: {
        permissions: {
          ffi: true,
          read: false,
          write: false,
          net: false,
          env: false,
          run: false,
          sys: false,
          import: false,
        },
      },
    });
    let handle: SleeveWorker | undefined;
    let settleDone!: { resolve: () => void; reject: (e: Error) => void };
    const done = new Promise<void>((resolve, reject) => (settleDone = { resolve, reject }));
    done.catch(() => {}); // observed through done by callers who care
    let fatal: Error | undefined;
    const pendingStats = new Map<number, (s: SleeveStats) => void>();
    const state = { stopped: false };
    return new Promise<SleeveWorker>((resolve, reject) => {
      worker.onerror = (e) => {
        e.preventDefault();
        const err = new Error(`Cannot run the sleeve worker: ${e.message}`);
        if (!handle) return reject(err), worker.terminate();
        onError?.(err);
        worker.terminate();
        state.stopped = true;
        settleDone.reject(err);
      };
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const msg = e.data;
        switch (msg.op) {
          case "started":
            handle = new SleeveWorker(worker, msg, done, pendingStats, state);
            return resolve(handle);
          case "event":
            return onEvent?.(msg.event);
          case "stats":
            pendingStats.get(msg.id)?.(msg.stats);
            pendingStats.delete(msg.id);
            return;
          case "error": {
            if (!handle) {
              worker.terminate();
              return reject(new Error(`Cannot start the sleeve: ${msg.message}`));
            }
            const err = new Error(msg.message);
            if (msg.fatal) fatal = err;
            return onError?.(err);
          }
          case "stopped":
            worker.terminate();
            state.stopped = true;
            return fatal ? settleDone.reject(fatal) : settleDone.resolve();
        }
      };
      worker.postMessage({ op: "start", options: startOptions } satisfies ToWorker);
    });
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
      config: { address, port, sessionKey: peer.sessionKey, outbound: peer.outbound },
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
   * The engine's counters and links.
   *
   * @throws {Error} when the Worker has stopped
   */
  stats(): Promise<SleeveStats> {
    const id = this.#nextId++;
    const result = new Promise<SleeveStats>((resolve) => this.#stats.set(id, resolve));
    this.#post({ op: "stats", id });
    return result;
  }

  /** Stops the data plane (the TAP device disappears) and waits for the Worker to end. Idempotent. */
  async stop(): Promise<void> {
    if (!this.#state.stopped) this.#worker.postMessage({ op: "stop" } satisfies ToWorker);
    await this.done.catch(() => {});
  }

  #post(msg: ToWorker): void {
    if (this.#state.stopped) {
      throw new Error(`Cannot ${msg.op}: the sleeve worker has stopped; start a new one`);
    }
    this.#worker.postMessage(msg);
  }
}
