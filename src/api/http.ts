/**
 * The HTTP API's dispatch table: a table of (method, path pattern, handler), with `:param` segments,
 * bounded form bodies, and errors turned into plain-text replies: an {@link HttpError}'s status, 400 for a
 * {@link UsageError} (the caller's mistake), 404 for a {@link NotFoundError}, 409 for a {@link ConflictError},
 * 500 with the error's message otherwise.
 *
 * @module
 */
import { ConflictError, NotFoundError, UsageError } from "../../base/errors.ts";

/** Path parameters captured from `:name` segments. */
export type Params = Record<string, string>;

/** A request handler. Throw {@link HttpError} for a reply with a specific status. */
export type Handler = (req: Request, params: Params) => Response | Promise<Response>;

/** Largest request body the API reads, in bytes (forms and JSON are small). */
export const MAX_BODY_BYTES = 64 * 1024;

/** An error with an HTTP status; its message is the reply body. */
export class HttpError extends Error {
  /** The HTTP status code. */
  readonly status: number;

  /** @param status HTTP status, e.g. 400 @param message what is wrong and what to do */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

interface Route {
  method: string;
  segments: string[];
  handler: Handler;
}

function split(path: string): string[] {
  return path.split("/").filter((s) => s !== "");
}

/** Dispatches requests to handlers by method and path. */
export class HttpApi {
  #routes: Route[] = [];

  /**
   * Adds a route. `pattern` segments starting with `:` capture one path segment (URL-decoded).
   *
   * @example
   * ```ts
   * api.add("DELETE", "/peer/:name", (_req, p) => new Response(`removed ${p.name}`));
   * ```
   */
  add(method: string, pattern: string, handler: Handler): this {
    this.#routes.push({ method, segments: split(pattern), handler });
    return this;
  }

  /** Answers one request: the matching handler's reply, 404/405 when none matches, 500 on unexpected errors. */
  async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const parts = split(url.pathname);
    let pathMatched = false;
    for (const r of this.#routes) {
      const params = match(r.segments, parts);
      if (!params) continue;
      pathMatched = true;
      if (r.method !== req.method) continue;
      try {
        return await r.handler(req, params);
      } catch (err) {
        if (err instanceof HttpError) return text(err.status, err.message);
        if (err instanceof UsageError) return text(400, err.message);
        if (err instanceof NotFoundError) return text(404, err.message);
        if (err instanceof ConflictError) return text(409, err.message);
        return text(500, (err as Error).message);
      }
    }
    return pathMatched
      ? text(405, `Method ${req.method} is not allowed on ${url.pathname}`)
      : text(404, `Not found: ${req.method} ${url.pathname}`);
  }
}

function match(pattern: string[], parts: string[]): Params | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i].startsWith(":")) {
      try {
        params[pattern[i].slice(1)] = decodeURIComponent(parts[i]);
      } catch {
        return undefined;
      }
    } else if (pattern[i] !== parts[i]) return undefined;
  }
  return params;
}

/** A plain-text reply with a trailing newline. */
export function text(status: number, body: string): Response {
  return new Response(body.endsWith("\n") || body === "" ? body : body + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** A JSON reply. */
export function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json" },
  });
}

/**
 * Reads a request body of at most {@link MAX_BODY_BYTES} as text.
 *
 * @throws {HttpError} 413 when the body is larger
 */
export async function readBody(req: Request): Promise<string> {
  if (!req.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of req.body) {
    size += c.length;
    if (size > MAX_BODY_BYTES) {
      throw new HttpError(413, `Request body over ${MAX_BODY_BYTES} bytes; send less`);
    }
    chunks.push(c);
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder("utf-8", { fatal: false }).decode(all);
}

/**
 * Reads a form body (`application/x-www-form-urlencoded`) merged with the URL's query parameters.
 *
 * @throws {HttpError} 413 when the body is too large
 */
export async function readForm(req: Request): Promise<URLSearchParams> {
  const form = new URLSearchParams(new URL(req.url).search);
  for (const [k, v] of new URLSearchParams(await readBody(req))) form.append(k, v);
  return form;
}
