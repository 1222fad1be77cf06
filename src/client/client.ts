/**
 * The CLI's client for the daemon's local HTTP API (127.0.0.1:6784 by default; MESHNET_HTTP_ADDR overrides).
 *
 * @module
 */
import { UsageError } from "../../base/errors.ts";
import { API_ADDRESS, API_PORT } from "./wire.ts";

/** A reply from the API. */
export interface ApiReply {
  /** HTTP status. */
  status: number;
  /** Body as text. */
  body: string;
}

/** Options of {@link apiRequest}. */
export interface ApiRequestOptions {
  /** Form fields sent as `application/x-www-form-urlencoded`. */
  form?: [string, string][];
  /** Accept header, e.g. `application/json`. */
  accept?: string;
  /** Give up after this many milliseconds (default 10 000). */
  timeoutMs?: number;
}

/** The API's base URL: `http://` + MESHNET_HTTP_ADDR, or 127.0.0.1:6784. */
export function apiBase(): string {
  return `http://${Deno.env.get("MESHNET_HTTP_ADDR") ?? `${API_ADDRESS}:${API_PORT}`}`;
}

/** The daemon does not answer: it is not running in this network namespace. */
export class NotRunningError extends Error {
  constructor() {
    super(`meshnet is not running here (no answer on ${apiBase()}); start it with 'meshnet launch'`);
    this.name = "NotRunningError";
  }
}

/** The daemon took the connection (or the call) but did not answer in time: it may be busy or hung. */
export class ApiTimeoutError extends Error {
  constructor(method: string, path: string) {
    super(`The meshnet API at ${apiBase()} did not answer ${method} ${path} in time; check 'meshnet status'`);
    this.name = "ApiTimeoutError";
  }
}

/**
 * Sends one request to the API.
 *
 * @throws {NotRunningError} when nothing listens on the API address
 * @throws {ApiTimeoutError} on a timeout
 */
export async function apiRequest(
  method: string,
  path: string,
  opts: ApiRequestOptions = {},
): Promise<ApiReply> {
  const headers: Record<string, string> = {};
  if (opts.accept) headers.accept = opts.accept;
  let body: string | undefined;
  if (opts.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(opts.form).toString();
  }
  try {
    const res = await fetch(`${apiBase()}${path}`, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    const detail = err instanceof TypeError
      ? `${err.message} ${(err.cause as Error | undefined)?.message ?? ""}`
      : "";
    // Refused, or closed before a reply: the daemon is not there, or is going away (it closes open
    // connections when it stops, also when it fails during start).
    if (/Connection refused|tcp connect error|connection closed|connection reset|broken pipe/i.test(detail)) {
      throw new NotRunningError();
    }
    if (err instanceof DOMException && err.name === "TimeoutError") {
      throw new ApiTimeoutError(method, path);
    }
    throw err;
  }
}

/**
 * Like {@link apiRequest}, but a non-2xx status becomes an Error carrying the API's message (a
 * {@link UsageError} for 400, so the CLI exits 2).
 *
 * @returns the body
 */
export async function apiCall(method: string, path: string, opts: ApiRequestOptions = {}): Promise<string> {
  const r = await apiRequest(method, path, opts);
  if (r.status < 200 || r.status > 299) {
    const message = r.body.trim() || `${method} ${path} failed with ${r.status}`;
    throw r.status === 400 ? new UsageError(message) : new Error(message);
  }
  return r.body;
}
