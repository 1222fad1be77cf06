/**
 * Which addresses to dial and when: the targets given by `launch`/`connect` and those learned by discovery,
 * each with its state, last error and jittered exponential backoff. Pure: the transport asks
 * {@link ConnectionMaker.due} for what to dial now and reports how each attempt and connection ended.
 *
 * States: `waiting` (due at `nextTry`), `connecting` (a dial or handshake is under way), `connected`,
 * `failed` (the last attempt failed; retried at `nextTry`), `self` (the address turned out to be this peer's
 * own, as when a node list handed to every node includes the node itself: never dialled again).
 *
 * @module
 */
import { Backoff } from "./backoff.ts";

/** The state of one target. */
export type TargetState = "waiting" | "connecting" | "connected" | "failed" | "self";

/** One address to keep a connection to. */
export interface Target {
  /** "host:port" ("[v6]:port" for IPv6). */
  address: string;
  /** Given by the user (launch/connect) rather than learned by discovery. */
  explicit: boolean;
  /** Where the target is in its life cycle. */
  state: TargetState;
  /** Why the last attempt or connection ended. */
  lastError?: string;
  /** When to try next, in the clock's milliseconds (waiting and failed only). */
  nextTry: number;
}

interface Entry extends Target {
  /** Reported by discovery at its last update. */
  learned: boolean;
  backoff: Backoff;
  connectedAt?: number;
}

/** Time and randomness of a {@link ConnectionMaker}. */
export interface ConnectionMakerOptions {
  /** Current time in milliseconds. */
  now(): number;
  /** Uniform in [0, 1), for backoff jitter. */
  random?(): number;
}

/** Keeps the target list and decides when to dial each. */
export class ConnectionMaker {
  #targets = new Map<string, Entry>();
  #opts: ConnectionMakerOptions;

  /** Starts with no targets. */
  constructor(opts: ConnectionMakerOptions) {
    this.#opts = opts;
  }

  /**
   * Adds explicit targets, due at once (`connect` retries a known target immediately too).
   * With `replace`, explicit targets not in `addresses` are forgotten first.
   */
  add(addresses: string[], replace = false): void {
    if (replace) {
      for (const t of this.#targets.values()) {
        if (t.explicit && !addresses.includes(t.address)) t.explicit = false;
      }
      this.#dropUnwanted();
    }
    for (const address of addresses) {
      const t = this.#entry(address);
      t.explicit = true;
      if (t.state === "waiting" || t.state === "failed") t.nextTry = this.#opts.now();
    }
  }

  /** Forgets explicit targets; an existing connection stays until it ends. */
  forget(addresses: string[]): void {
    for (const a of addresses) {
      const t = this.#targets.get(a);
      if (t) t.explicit = false;
    }
    this.#dropUnwanted();
  }

  /** Replaces the set of addresses learned by discovery. */
  discovered(addresses: Iterable<string>): void {
    const wanted = new Set(addresses);
    for (const t of this.#targets.values()) t.learned = wanted.has(t.address);
    for (const a of wanted) this.#entry(a).learned = true;
    this.#dropUnwanted();
  }

  /** The targets whose time has come; they move to `connecting`. */
  due(): string[] {
    const now = this.#opts.now();
    const out: string[] = [];
    for (const t of this.#targets.values()) {
      if ((t.state === "waiting" || t.state === "failed") && t.nextTry <= now) {
        t.state = "connecting";
        out.push(t.address);
      }
    }
    return out;
  }

  /** When the next target falls due (ms on the `now()` clock; Infinity when none is waiting). */
  nextDue(): number {
    let next = Infinity;
    for (const t of this.#targets.values()) {
      if ((t.state === "waiting" || t.state === "failed") && t.nextTry < next) next = t.nextTry;
    }
    return next;
  }

  /** A dial or handshake to `address` failed; it is retried after the next backoff delay. */
  failed(address: string, error: string): void {
    const t = this.#targets.get(address);
    if (!t) return;
    t.state = "failed";
    t.lastError = error;
    t.nextTry = this.#opts.now() + t.backoff.next();
  }

  /** `address` reached this peer itself: it is kept (so discovery does not add it again) but never dialled. */
  ourselves(address: string): void {
    const t = this.#targets.get(address);
    if (!t) return;
    t.state = "self";
    t.lastError = "this peer's own address";
  }

  /** A connection to `address` is up (dialled by us or, for a known target, accepted). */
  connected(address: string): void {
    const t = this.#targets.get(address);
    if (!t) return;
    t.state = "connected";
    t.lastError = undefined;
    t.connectedAt = this.#opts.now();
  }

  /** The connection to `address` ended; a long-lived one resets the backoff before the retry is scheduled. */
  disconnected(address: string, error: string): void {
    const t = this.#targets.get(address);
    if (!t) return;
    if (t.connectedAt !== undefined) t.backoff.connectionEnded(this.#opts.now() - t.connectedAt);
    t.connectedAt = undefined;
    this.failed(address, error);
    this.#dropUnwanted();
  }

  /** Every target, explicit first, then by address. */
  list(): Target[] {
    return [...this.#targets.values()]
      .map(({ address, explicit, state, lastError, nextTry }) => ({
        address,
        explicit,
        state,
        lastError,
        nextTry,
      }))
      .sort((a, b) => Number(b.explicit) - Number(a.explicit) || (a.address < b.address ? -1 : 1));
  }

  #entry(address: string): Entry {
    let t = this.#targets.get(address);
    if (!t) {
      t = {
        address,
        explicit: false,
        learned: false,
        state: "waiting",
        nextTry: this.#opts.now(),
        backoff: new Backoff({ random: this.#opts.random }),
      };
      this.#targets.set(address, t);
    }
    return t;
  }

  #dropUnwanted(): void {
    for (const [a, t] of this.#targets) {
      if (!t.explicit && !t.learned && t.state !== "connected") {
        this.#targets.delete(a);
      }
    }
  }
}
