/**
 * The main thread's end of a Worker that owns a socket (the sleeve's, the DNS server's): start it with scoped
 * permissions and wait for its `started` message, send it one-way messages, ask it requests that each have a
 * deadline, and stop it, terminating it when it does not stop in time.
 *
 * Flow and concurrency: everything runs on the main thread's event loop; the Worker handles messages in
 * order. The Worker speaks {@link LinkMessage}: `started` once, `reply` to each request (by id), `error`
 * (fatal ones end it), `stopped` when it ends by itself or after `stop`; anything else goes to `onMessage`.
 * No wait is unbounded: start (then the Worker is terminated), each request (then its `onTimeout` value) and
 * stop (then terminated). When the Worker ends (stopped, crashed, terminated), open requests reject and
 * {@link WorkerLink.done} settles (rejected with the reason of a crash or fatal error).
 *
 * @module
 */
import { PendingReplies } from "./pending_replies.ts";

/** What a linked Worker sends besides its own messages. */
export type LinkMessage =
  | { op: "started" }
  | { op: "reply"; id: number; value: unknown }
  /** `fatal` errors end the Worker's work; it sends `stopped` after one. */
  | { op: "error"; message: string; fatal: boolean }
  | { op: "stopped" };

/** How to start a linked Worker. */
export interface WorkerLinkOptions {
  /** The Worker's module. */
  module: URL;
  /** Its permissions (needs `--unstable-worker-options`); everything not given is denied. */
  permissions: Deno.PermissionOptionsObject;
  /** What runs in it, for messages: e.g. `the sleeve`, `the DNS server`. */
  what: string;
  /** The first message, which makes it start. */
  start: unknown;
  /** How long to wait for `started`, in ms; then the Worker is terminated. */
  startTimeoutMs: number;
  /** Receives the Worker's other messages. */
  onMessage?: (msg: { op: string }) => void;
  /** Receives its non-fatal errors and the error that ended it. */
  onError?: (error: Error) => void;
}

const DENY_ALL: Deno.PermissionOptionsObject = {
  ffi: false,
  read: false,
  write: false,
  net: false,
  env: false,
  run: false,
  sys: false,
  import: false,
};

/** A running Worker; see the module comment. */
export class WorkerLink {
  /** Resolves when the Worker has ended; rejects with the reason of a crash, a fatal error or a forced end. */
  readonly done: Promise<void>;
  readonly #worker: Worker;
  readonly #what: string;
  readonly #replies = new PendingReplies<unknown>();
  readonly #settle: { resolve: () => void; reject: (e: Error) => void };
  #stopped = false;
  #fatal?: Error;

  private constructor(worker: Worker, what: string) {
    this.#worker = worker;
    this.#what = what;
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    this.done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.done.catch(() => {}); // observed through done by callers who care
    this.#settle = settle;
  }

  /**
   * Starts the Worker and waits for its `started` message.
   *
   * @returns the link and the `started` message
   * @throws {Error} `Cannot start <what>: …` with the Worker's reason, or when it did not start in time
   * @throws {Deno.errors.NotCapable} when the process lacks a permission given to the Worker or
   *   `--unstable-worker-options`
   */
  static start<S extends { op: "started" }>(o: WorkerLinkOptions): Promise<{ link: WorkerLink; started: S }> {
    const worker = new Worker(o.module, {
      type: "module",
      deno: { permissions: { ...DENY_ALL, ...o.permissions } },
    });
    const link = new WorkerLink(worker, o.what);
    let running = false;
    return new Promise((resolve, reject) => {
      const failStart = (err: Error) => {
        clearTimeout(timer);
        link.#end(err);
        reject(err);
      };
      const timer = setTimeout(
        () =>
          failStart(
            new Error(
              `Cannot start ${o.what}: its Worker did not report started within ${o.startTimeoutMs} ms; check the host's load`,
            ),
          ),
        o.startTimeoutMs,
      );
      worker.onerror = (e) => {
        e.preventDefault();
        const err = new Error(`The Worker of ${o.what} failed: ${e.message}`);
        if (!running) return failStart(err);
        o.onError?.(err);
        link.#end(err);
      };
      worker.onmessage = (e: MessageEvent<LinkMessage | { op: string }>) => {
        const msg = e.data as LinkMessage;
        switch (msg.op) {
          case "started":
            clearTimeout(timer);
            if (link.#stopped) return; // too late: already terminated
            running = true;
            return resolve({ link, started: msg as S });
          case "reply":
            return link.#replies.settle(msg.id, msg.value);
          case "error": {
            if (!running) return failStart(new Error(`Cannot start ${o.what}: ${msg.message}`));
            const err = new Error(msg.message);
            if (msg.fatal) link.#fatal = err;
            return o.onError?.(err);
          }
          case "stopped":
            return link.#end();
          default:
            return o.onMessage?.(msg);
        }
      };
      worker.postMessage(o.start);
    });
  }

  /** True once the Worker has ended. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Sends a one-way message; the Worker handles messages in order.
   *
   * @throws {Error} when the Worker has ended
   */
  post(msg: { op: string }): void {
    this.#checkRunning(msg.op);
    this.#worker.postMessage(msg);
  }

  /**
   * Sends the message `make(id)` and waits for the Worker's `reply` with that id, at most `timeoutMs`.
   *
   * @param onTimeout gives the value at the deadline (or throws, rejecting the request)
   * @throws {Error} when the Worker has ended or ends before answering
   */
  request<T>(make: (id: number) => { op: string }, timeoutMs: number, onTimeout: () => T): Promise<T> {
    this.#checkRunning("ask");
    const { id, reply } = this.#replies.open(timeoutMs, onTimeout);
    this.#worker.postMessage(make(id));
    return reply as Promise<T>;
  }

  /**
   * Sends `stop` and waits for the Worker to end; one that does not within `timeoutMs` is terminated
   * ({@link done} then rejects saying so). Idempotent.
   */
  async stop(stop: { op: string }, timeoutMs: number): Promise<void> {
    if (this.#stopped) return await this.done.catch(() => {});
    this.#worker.postMessage(stop);
    const timer = setTimeout(
      () =>
        this.#end(
          new Error(`The Worker of ${this.#what} did not stop within ${timeoutMs} ms; terminated it`),
        ),
      timeoutMs,
    );
    await this.done.catch(() => {});
    clearTimeout(timer);
  }

  /** Terminates the Worker, fails open requests and settles {@link done} (rejected with `error` when given). */
  #end(error?: Error): void {
    if (this.#stopped) return;
    this.#worker.terminate();
    this.#stopped = true;
    const why = error ?? this.#fatal;
    this.#replies.failAll(
      new Error(`The Worker of ${this.#what} stopped before answering${why ? `: ${why.message}` : ""}`),
    );
    return why ? this.#settle.reject(why) : this.#settle.resolve();
  }

  #checkRunning(op: string): void {
    if (this.#stopped) {
      throw new Error(`Cannot ${op}: the Worker of ${this.#what} has stopped; start a new one`);
    }
  }
}
