/**
 * A small HTTP/1.1 server for the local API with deadlines: `Deno.serve` keeps a connection that stalls
 * mid-request forever (1000 such connections held 175 MB), so the API reads requests itself.
 *
 * Flow per connection: read the head (request line and headers) within {@link HttpServerOptions.headerTimeoutMs}
 * and {@link HttpServerOptions.maxHeaderBytes}; read a `Content-Length` body of at most
 * {@link HttpServerOptions.maxBodyBytes} within {@link HttpServerOptions.bodyTimeoutMs}; call the handler (its
 * own time is not limited: `GET /ring` waits for the ring); write the whole reply with `connection: close` and
 * close. A request that breaks a limit gets 408, 411, 413, 431 or 400 with the reason, then the connection is
 * closed. Connections beyond {@link HttpServerOptions.maxConnections} are closed on accept. Everything runs on
 * the one JavaScript thread; each connection is its own task and its failure ends only that connection.
 *
 * @module
 */

import { MAX_BODY_BYTES } from "./http.ts";

/** Options of {@link HttpServer.listen}. */
export interface HttpServerOptions {
  /** Address to listen on. */
  hostname: string;
  /** TCP port; 0 lets the system choose. */
  port: number;
  /** Answers one request. A throw becomes a 500 with the error's message. */
  handler: (req: Request) => Response | Promise<Response>;
  /** Time for the request line and headers, from accept, in milliseconds (default 10 s). */
  headerTimeoutMs?: number;
  /** Time for the body, after the headers, in milliseconds (default 10 s). */
  bodyTimeoutMs?: number;
  /** Largest request head in bytes (default 16 KiB). */
  maxHeaderBytes?: number;
  /** Largest request body in bytes (default {@link MAX_BODY_BYTES}). */
  maxBodyBytes?: number;
  /** Connections served at once; more are closed on accept (default 256). */
  maxConnections?: number;
}

/** Reason phrases of the statuses the API answers with. */
const REASONS: Record<number, string> = {
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

const HEAD_END = new TextEncoder().encode("\r\n\r\n");
const READ_CHUNK = 4096;

/** A request that broke a rule: the reply's status and reason. */
class RequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** A listening API server; {@link HttpServer.shutdown} stops it. */
export class HttpServer {
  #listener: Deno.TcpListener;
  #options: Required<HttpServerOptions>;
  #conns = new Set<Deno.Conn>();
  #tasks = new Set<Promise<void>>();
  #accepting: Promise<void>;

  private constructor(listener: Deno.TcpListener, options: Required<HttpServerOptions>) {
    this.#listener = listener;
    this.#options = options;
    this.#accepting = this.#acceptLoop();
  }

  /**
   * Listens and starts serving.
   *
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  static listen(options: HttpServerOptions): HttpServer {
    const listener = Deno.listen({ hostname: options.hostname, port: options.port, transport: "tcp" });
    return new HttpServer(listener, {
      headerTimeoutMs: 10_000,
      bodyTimeoutMs: 10_000,
      maxHeaderBytes: 16 * 1024,
      maxBodyBytes: MAX_BODY_BYTES,
      maxConnections: 256,
      ...options,
    });
  }

  /** The address listened on. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Stops accepting, closes every connection and waits for their tasks to end. */
  async shutdown(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const c of this.#conns) closeQuietly(c);
    await this.#accepting;
    await Promise.allSettled([...this.#tasks]);
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // listener closed
      }
      if (this.#conns.size >= this.#options.maxConnections) {
        closeQuietly(conn);
        continue;
      }
      this.#conns.add(conn);
      const task = this.#serve(conn).finally(() => {
        this.#conns.delete(conn);
        this.#tasks.delete(task);
        closeQuietly(conn);
      });
      this.#tasks.add(task);
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    let reply: Response;
    try {
      const req = await this.#readRequest(conn);
      try {
        reply = await this.#options.handler(req);
      } catch (err) {
        reply = plain(500, (err as Error).message);
      }
    } catch (err) {
      if (!(err instanceof RequestError)) return; // the connection broke: nobody to answer
      reply = plain(err.status, err.message);
    }
    try {
      await writeResponse(conn, reply);
    } catch {
      // the client went away
    }
  }

  /** Reads one request within the deadlines and limits. */
  async #readRequest(conn: Deno.Conn): Promise<Request> {
    const o = this.#options;
    const buffered = await withDeadline(
      o.headerTimeoutMs,
      `Request headers not received within ${o.headerTimeoutMs / 1000} s; send the whole request at once`,
      () => readHead(conn, o.maxHeaderBytes),
    );
    const { method, target, headers, rest } = parseHead(buffered);
    if (headers.has("transfer-encoding")) {
      throw new RequestError(411, "Chunked request bodies are not accepted; send a Content-Length");
    }
    const lengthText = headers.get("content-length") ?? "0";
    if (!/^\d{1,15}$/.test(lengthText)) {
      throw new RequestError(400, `Invalid Content-Length '${lengthText}'; send a byte count`);
    }
    const length = Number(lengthText);
    if (length > o.maxBodyBytes) {
      throw new RequestError(
        413,
        `Request body of ${length} bytes is over ${o.maxBodyBytes} bytes; send less`,
      );
    }
    const body = await withDeadline(
      o.bodyTimeoutMs,
      `Request body not received within ${o.bodyTimeoutMs / 1000} s (${length} bytes announced)`,
      () => readBody(conn, rest, length),
    );
    const host = headers.get("host") ?? "localhost";
    let url: URL;
    try {
      url = new URL(target, `http://${host}`);
    } catch {
      throw new RequestError(400, `Invalid request target '${target}'`);
    }
    return new Request(url, {
      method,
      headers,
      body: method === "GET" || method === "HEAD" ? undefined : body,
    });
  }
}

/** Runs `read`; when it has not finished after `ms`, fails with a 408 saying `why` (the caller closes). */
async function withDeadline<T>(ms: number, why: string, read: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestError(408, why)), ms);
  });
  const reading = read();
  try {
    return await Promise.race([reading, expired]);
  } catch (err) {
    reading.catch(() => {}); // ends once the connection is closed
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads until the end of the head; returns everything read so far. */
async function readHead(conn: Deno.Conn, max: number): Promise<Uint8Array<ArrayBuffer>> {
  let data: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  const chunk = new Uint8Array(READ_CHUNK);
  for (;;) {
    if (indexOf(data, HEAD_END) >= 0) return data;
    if (data.length > max) {
      throw new RequestError(431, `Request headers over ${max} bytes; send fewer or shorter headers`);
    }
    const n = await conn.read(chunk);
    if (n === null) throw new Error("connection closed before the request headers ended");
    data = concat(data, chunk.subarray(0, n));
  }
}

/** Reads the rest of a `length`-byte body, `rest` being the bytes already read after the head. */
async function readBody(conn: Deno.Conn, rest: Uint8Array, length: number): Promise<Uint8Array<ArrayBuffer>> {
  const body = new Uint8Array(length);
  let filled = Math.min(rest.length, length);
  body.set(rest.subarray(0, filled));
  while (filled < length) {
    const n = await conn.read(body.subarray(filled));
    if (n === null) throw new RequestError(400, `Request body ended after ${filled} of ${length} bytes`);
    filled += n;
  }
  return body;
}

/** Splits the head into method, target and headers; `rest` is what followed it. */
function parseHead(data: Uint8Array): { method: string; target: string; headers: Headers; rest: Uint8Array } {
  const end = indexOf(data, HEAD_END);
  const lines = new TextDecoder().decode(data.subarray(0, end)).split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0]);
  if (!m) throw new RequestError(400, `Malformed request line '${lines[0].slice(0, 100)}'`);
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new RequestError(400, `Malformed header line '${line.slice(0, 100)}'`);
    try {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch {
      throw new RequestError(400, `Malformed header line '${line.slice(0, 100)}'`);
    }
  }
  return { method: m[1], target: m[2], headers, rest: data.subarray(end + HEAD_END.length) };
}

/**
 * Writes `res` with `connection: close`: whole with its length, or, for an event stream (the dashboard's
 * server-sent events), chunk by chunk until the stream ends or the client goes away.
 */
async function writeResponse(conn: Deno.Conn, res: Response): Promise<void> {
  const streaming = res.headers.get("content-type")?.startsWith("text/event-stream") && res.body !== null;
  let head = `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? "Status"}\r\n`;
  for (const [k, v] of res.headers) {
    if (k !== "content-length" && k !== "connection" && k !== "transfer-encoding") head += `${k}: ${v}\r\n`;
  }
  if (!streaming) {
    const body = new Uint8Array(await res.arrayBuffer());
    head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
    return await writeAll(conn, concat(new TextEncoder().encode(head), body));
  }
  await writeAll(conn, new TextEncoder().encode(head + "connection: close\r\n\r\n"));
  const reader = res.body!.getReader();
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) await writeAll(conn, r.value);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

function plain(status: number, message: string): Response {
  return new Response(message + "\n", { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

function indexOf(data: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= data.length; i++) {
    for (let j = 0; j < needle.length; j++) if (data[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
