/**
 * The main thread's handle on the sleeve data plane Worker (worker.ts): start it, hand it peers, keys and
 * routes, read its stats and events, stop it. The Worker gets FFI permission and nothing else: it opens the
 * TAP device and the UDP socket through FFI, which Deno's read/write/net permissions do not cover.
 *
 * Needs `--unstable-worker-options` (scoped Worker permissions).
 *
 * Every call that waits for the Worker has a deadline, so the API answers however busy the data plane is:
 * start ({@link WORKER_START_TIMEOUT_MS}: then the Worker is terminated), stats
 * ({@link WORKER_REPLY_TIMEOUT_MS}: then the last stats it sent, marked `staleMs`; the first come with its
 * `started` message) and stop ({@link WORKER_STOP_TIMEOUT_MS}: then it is terminated). Requests open when the Worker
 * ends are rejected. Control calls (setPeer, setRoutes…) are one-way messages the Worker handles in order.
 *
 * @module
 */
import type { Endpoint } from "../../../ffi/packet_conn.ts";
import { KEY_BYTES } from "../../../ffi/sodium.ts";
import type { PeerName } from "../../mesh/gossip.ts";
import { WORKER_REPLY_TIMEOUT_MS, WORKER_START_TIMEOUT_MS, WORKER_STOP_TIMEOUT_MS } from "./constants.ts";
import { Routes, type RouteTables } from "./forwarder.ts";
import { parseMac48 } from "./mac48.ts";
import { PendingReplies } from "../../worker/pending_replies.ts";
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

/** The Worker's life as the handle sees it; shared with the message handler of {@link SleeveWorker.start}. */
interface WorkerControl {
  /** True once the Worker ended (stopped, failed or terminated). */
  stopped: boolean;
  /** Open stats requests. */
  replies: PendingReplies<SleeveStats>;
  /** The last stats the Worker sent (the first come with `started`) and when (performance.now()). */
  last?: { stats: SleeveStats; at: number };
  /** Terminates the Worker and settles {@link SleeveWorker.done} (rejected with `error` when given). */
  end(error?: Error): void;
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
  readonly #control: WorkerControl;

  /** Use {@link SleeveWorker.start}. */
  constructor(
    worker: Worker,
    started: Extract<FromWorker, { op: "started" }>,
    done: Promise<void>,
    control: WorkerControl,
  ) {
    this.#worker = worker;
    this.#control = control;
    this.address = started.address;
    this.port = started.port;
    this.tapName = started.tapName;
    this.crypto = started.crypto;
    this.done = done;
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
    const control: WorkerControl = {
      stopped: false,
      replies: new PendingReplies<SleeveStats>(),
      end(error?: Error) {
        if (control.stopped) return;
        worker.terminate();
        control.stopped = true;
        const why = error ?? fatal;
        control.replies.failAll(
          new Error(
            `The sleeve Worker stopped before answering${why ? `: ${why.message}` : ""}; start a new one`,
          ),
        );
        return why ? settleDone.reject(why) : settleDone.resolve();
      },
    };
    return new Promise<SleeveWorker>((resolve, reject) => {
      const startTimer = setTimeout(
        () =>
          failStart(
            new Error(
              `Cannot start the sleeve: the Worker did not report started within ${startTimeoutMs} ms; check the host's load and /dev/net/tun`,
            ),
          ),
        startTimeoutMs,
      );
      const failStart = (err: Error) => {
        clearTimeout(startTimer);
        worker.terminate();
        control.stopped = true;
        reject(err);
      };
      worker.onerror = (e) => {
        e.preventDefault();
        const err = new Error(`Cannot run the sleeve worker: ${e.message}`);
        if (!handle) return failStart(err);
        onError?.(err);
        control.end(err);
      };
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const msg = e.data;
        switch (msg.op) {
          case "started":
            clearTimeout(startTimer);
            if (control.stopped) return; // too late: already terminated
            control.last = { stats: msg.stats, at: performance.now() };
            handle = new SleeveWorker(worker, msg, done, control);
            return resolve(handle);
          case "event":
            return onEvent?.(msg.event);
          case "stats":
            control.last = { stats: msg.stats, at: performance.now() };
            return control.replies.settle(msg.id, msg.stats);
          case "error": {
            if (!handle) return failStart(new Error(`Cannot start the sleeve: ${msg.message}`));
            const err = new Error(msg.message);
            if (msg.fatal) fatal = err;
            return onError?.(err);
          }
          case "stopped":
            return control.end();
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
   * The engine's counters and links. When the Worker does not answer within `timeoutMs` (a storm, an
   * overloaded host), the last stats it sent, with `staleMs` set to their age.
   *
   * @param timeoutMs how long to wait for the answer (default {@link WORKER_REPLY_TIMEOUT_MS})
   * @throws {Error} when the Worker has stopped or stops before answering
   */
  stats(timeoutMs = WORKER_REPLY_TIMEOUT_MS): Promise<SleeveStats> {
    const control = this.#control;
    this.#checkRunning("stats");
    const { id, reply } = control.replies.open(timeoutMs, () => {
      const last = control.last!; // set by "started"
      return { ...last.stats, staleMs: Math.round(performance.now() - last.at) };
    });
    this.#worker.postMessage({ op: "stats", id } satisfies ToWorker);
    return reply;
  }

  /**
   * Stops the data plane (the TAP device disappears) and waits for the Worker to end. Idempotent. A Worker
   * that does not end within `timeoutMs` is terminated ({@link done} then rejects saying so).
   *
   * @param timeoutMs how long to wait (default {@link WORKER_STOP_TIMEOUT_MS})
   */
  async stop(timeoutMs = WORKER_STOP_TIMEOUT_MS): Promise<void> {
    const control = this.#control;
    if (control.stopped) return await this.done.catch(() => {});
    this.#worker.postMessage({ op: "stop" } satisfies ToWorker);
    const timer = setTimeout(
      () =>
        control.end(
          new Error(
            `The sleeve Worker did not stop within ${timeoutMs} ms; terminated it (its TAP may remain)`,
          ),
        ),
      timeoutMs,
    );
    await this.done.catch(() => {});
    clearTimeout(timer);
  }

  #post(msg: ToWorker): void {
    this.#checkRunning(msg.op);
    this.#worker.postMessage(msg);
  }

  #checkRunning(op: string): void {
    if (this.#control.stopped) {
      throw new Error(`Cannot ${op}: the sleeve worker has stopped; start a new one`);
    }
  }
}
