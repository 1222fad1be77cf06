/**
 * The API's routes: paths follow the reference where it has one (`/status`, `/report`, `/metrics`, …).
 *
 * @module
 */
import type { Router } from "../router/router.ts";
import { MetricsRegistry } from "./metrics.ts";
import { type ApiRouter, json, text } from "./router.ts";
import { statusText } from "./status_text.ts";

/**
 * Registers every route on `api`.
 *
 * @param stop called by `POST /stop`; the daemon then shuts down after replying
 */
export function registerRoutes(api: ApiRouter, router: Router, stop: () => void): void {
  const metrics = new MetricsRegistry();
  metrics.register(() => [{
    name: "meshnet_info",
    help: "meshnet version and peer name",
    type: "gauge",
    samples: [{ labels: { version: router.report().version, name: router.name }, value: 1 }],
  }]);
  api
    .add("GET", "/status", () => text(200, statusText(router.report())))
    .add("GET", "/report", () => json(router.report()))
    .add(
      "GET",
      "/metrics",
      () => new Response(metrics.scrape(), { headers: { "content-type": "text/plain; version=0.0.4" } }),
    )
    .add("POST", "/stop", () => {
      setTimeout(stop, 0);
      return text(200, "stopping");
    });
}
