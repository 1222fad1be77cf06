/**
 * The --metrics-addr listener: /metrics, and nothing else of the API, on an address other hosts reach (a
 * node's own IP, for a cluster's Prometheus). The full API stays on loopback; every other path and every
 * method but GET answer 404 here. It is the API's own HTTP server, with its deadlines and limits, since
 * other hosts reach it.
 *
 * @module
 */
import type { PeerAddress } from "../router/config.ts";
import { formatPeerAddress } from "../router/config.ts";
import { HttpServer } from "./http_server.ts";

/** The one path served on the metrics address. */
export const METRICS_PATH = "/metrics";

/**
 * Serves `handle` (the API's handler) for `GET /metrics` on `addr`.
 *
 * @throws {Error} when the address cannot be bound, naming it and the flag
 */
export function serveMetrics(
  addr: PeerAddress,
  handle: (req: Request) => Promise<Response>,
): HttpServer {
  try {
    return HttpServer.listen({
      hostname: addr.host,
      port: addr.port,
      handler: (req) => {
        const path = new URL(req.url).pathname;
        if (req.method === "GET" && path === METRICS_PATH) return handle(req);
        return new Response(`Only GET ${METRICS_PATH} is served here\n`, { status: 404 });
      },
    });
  } catch (err) {
    throw new Error(
      `Cannot listen on --metrics-addr ${formatPeerAddress(addr)}: ${(err as Error).message}; ` +
        "give an address of this host and a free port",
    );
  }
}
