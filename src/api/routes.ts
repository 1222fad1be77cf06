/**
 * The API's routes: paths follow the reference where it has one (`/status`, `/report`, `/connect`, …).
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import type { Router } from "../router/router.ts";
import { meshMetrics } from "./mesh_metrics.ts";
import { MetricsRegistry } from "./metrics.ts";
import { type ApiRouter, HttpError, json, readForm, text } from "./router.ts";
import { connectionsText, peersText, statusText, targetsText } from "./status_text.ts";

/** The status views served under /status/<view>, each rendering the report as text. */
export const STATUS_VIEWS = {
  connections: connectionsText,
  peers: peersText,
  targets: targetsText,
} as const;

/** Runs `fn`, turning a UsageError (bad peer address, …) into a 400 reply. */
function badRequest<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof UsageError) throw new HttpError(400, err.message);
    throw err;
  }
}

/**
 * Registers every route on `api`.
 *
 * @param stop called by `POST /stop`; the daemon then shuts down after replying
 */
export function registerRoutes(api: ApiRouter, router: Router, stop: () => void): void {
  const metrics = new MetricsRegistry();
  metrics.register(() => meshMetrics(router));
  api
    .add("GET", "/status", () => text(200, statusText(router.report())))
    .add("GET", "/status/:view", (_req, p) => {
      const view = STATUS_VIEWS[p.view as keyof typeof STATUS_VIEWS];
      if (!view) {
        throw new HttpError(
          404,
          `Unknown status view '${p.view}'; use one of: ${Object.keys(STATUS_VIEWS).join(", ")}`,
        );
      }
      return text(200, view(router.report()));
    })
    .add("GET", "/report", () => json(router.report()))
    .add(
      "GET",
      "/metrics",
      () => new Response(metrics.scrape(), { headers: { "content-type": "text/plain; version=0.0.4" } }),
    )
    .add("POST", "/connect", async (req) => {
      const form = await readForm(req);
      const peers = form.getAll("peer");
      badRequest(() => router.mesh.connect(peers, form.get("replace") === "true"));
      return text(200, "");
    })
    .add("POST", "/forget", async (req) => {
      const form = await readForm(req);
      badRequest(() => router.mesh.forget(form.getAll("peer")));
      return text(200, "");
    })
    .add("POST", "/stop", () => {
      setTimeout(stop, 0);
      return text(200, "stopping");
    });
}
