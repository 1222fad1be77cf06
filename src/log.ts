/**
 * Structured logs: one line per event with time, level, subsystem, message and fields, to stderr
 * (the daemon points stderr at its log file when detached). MESHNET_LOG_LEVEL picks the minimum level.
 *
 * @module
 */

/** Log levels in increasing severity. */
export type Level = "debug" | "info" | "warn" | "error";

const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Every level, least severe first. */
export const LEVELS: readonly Level[] = ["debug", "info", "warn", "error"];

function threshold(): number {
  let env: string | undefined;
  try {
    env = Deno.env.get("MESHNET_LOG_LEVEL");
  } catch {
    env = undefined; // no env permission (e.g. inside a Worker): use the default
  }
  return RANK[(env as Level) ?? "info"] ?? RANK.info;
}

let minimum = threshold();

/** Sets the minimum level that is written (tests silence logs with "error"). */
export function setLogLevel(level: Level): void {
  minimum = RANK[level];
}

/** The minimum level written now (a Worker is started with its parent's). */
export function logLevel(): Level {
  return LEVELS[minimum];
}

/** A logger bound to one subsystem. */
export interface Logger {
  /** Writes a debug line. */
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** Writes an info line. */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Writes a warning line. */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** Writes an error line. */
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * Returns a logger for `subsystem`, e.g. `logger("mesh").warn("Connection refused", { peer })`.
 * Lines look like `2026-11-22T02:40:00.000Z WARN mesh: Connection refused peer="ce:31:…"`.
 */
export function logger(subsystem: string): Logger {
  const write = (level: Level) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (RANK[level] < minimum) return;
    const kv = Object.entries(fields).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");
    console.error(
      `${new Date().toISOString()} ${level.toUpperCase()} ${subsystem}: ${msg}${kv ? " " + kv : ""}`,
    );
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}
