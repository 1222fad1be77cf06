/**
 * A log that writes at most one line per key (a peer's address) per window, with a count of what it held
 * back: refused and failed connections from one address are logged once, then summed.
 *
 * Flow: the first event of a key is written at once and opens a window; events inside it are only counted.
 * When the window ends, a line with the latest event and the count is written if any were held back (and a
 * new window opens), else the key is forgotten. Keys are bounded: beyond {@link RateLimitedLogOptions.maxKeys}
 * new keys share one overflow key, so a flood from many addresses still writes one line per window.
 *
 * @module
 */

import { type Clock, systemClock, type TimerId } from "./clock.ts";

/** Writes one line: a message and its fields (a {@link Logger} method fits). */
export type LogLine = (msg: string, fields: Record<string, unknown>) => void;

/** Options of {@link RateLimitedLog}. */
export interface RateLimitedLogOptions {
  /** Where lines go. */
  write: LogLine;
  /** Length of a window in milliseconds (default one minute). */
  windowMs?: number;
  /** Keys tracked at once before new keys share the overflow key (default 1024). */
  maxKeys?: number;
  /** Clock for the windows (default the system clock). */
  clock?: Clock;
}

/** The key events of untracked keys share once `maxKeys` are tracked. */
export const OVERFLOW_KEY = "(other addresses)";

interface Window {
  held: number;
  msg: string;
  fields: Record<string, unknown>;
  timer: TimerId;
}

/**
 * Rate-limits log lines per key.
 *
 * @example
 * ```ts ignore
 * const refusals = new RateLimitedLog({ write: log.warn });
 * refusals.note("10.0.0.9", "Refused connection: connection limit reached", { from: "10.0.0.9:41234" });
 * ```
 */
export class RateLimitedLog {
  #write: LogLine;
  #windowMs: number;
  #maxKeys: number;
  #clock: Clock;
  #windows = new Map<string, Window>();

  /** @param options where lines go, the window and the key bound */
  constructor(options: RateLimitedLogOptions) {
    this.#write = options.write;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxKeys = options.maxKeys ?? 1024;
    this.#clock = options.clock ?? systemClock;
  }

  /** Keys with an open window. */
  get keys(): number {
    return this.#windows.size;
  }

  /** Logs an event of `key` now, or counts it if a line for `key` was written in this window. */
  note(key: string, msg: string, fields: Record<string, unknown> = {}): void {
    if (!this.#windows.has(key) && this.#windows.size >= this.#maxKeys) key = OVERFLOW_KEY;
    const open = this.#windows.get(key);
    if (open) {
      open.held++;
      open.msg = msg;
      open.fields = fields;
      return;
    }
    this.#write(msg, fields);
    this.#open(key, msg, fields);
  }

  /** Cancels every window without writing what was held back (at shutdown). */
  stop(): void {
    for (const w of this.#windows.values()) this.#clock.clearTimeout(w.timer);
    this.#windows.clear();
  }

  #open(key: string, msg: string, fields: Record<string, unknown>): void {
    const timer = this.#clock.setTimeout(() => this.#close(key), this.#windowMs);
    this.#windows.set(key, { held: 0, msg, fields, timer });
  }

  #close(key: string): void {
    const w = this.#windows.get(key);
    if (!w) return;
    this.#windows.delete(key);
    if (w.held === 0) return;
    this.#write(`${w.msg} (${w.held} more in the last ${Math.round(this.#windowMs / 1000)} s)`, {
      ...w.fields,
      repeated: w.held,
    });
    this.#open(key, w.msg, w.fields);
  }
}
