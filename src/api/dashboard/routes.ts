/**
 * The dashboard's routes: `GET /` (the page), `GET /dashboard/app.js` and `/dashboard/app.css` (its assets,
 * embedded in the program), `GET /dashboard/view` (one {@link DashboardView} as JSON) and
 * `GET /dashboard/events` (server-sent events: a `view` event with the whole view on every change).
 *
 * Flow: one timer for all streams takes a view every {@link TICK_MS} while at least one page is open and sends
 * it to every stream when it differs from the last one sent (the counters change with every heartbeat, so in
 * practice every tick: a mesh change reaches an open page within one tick plus the send). The timer stops
 * with the last stream; {@link DashboardFeed.close} ends every stream so the HTTP server can shut down.
 *
 * @module
 */
import type { Router } from "../../router/router.ts";
import { logger } from "../../log.ts";
import { type HttpApi, json } from "../http.ts";
import { APP_CSS, APP_JS, PAGE_HTML } from "./assets.ts";
import { type DashboardView, dashboardView, newViewMemory } from "./view.ts";
import { vxlanCounters } from "./vxlan_counters.ts";

const log = logger("dashboard");

/** How often open pages get a fresh view, in milliseconds. */
export const TICK_MS = 500;

/** Takes views of a router and feeds them to the open event streams. */
export class DashboardFeed {
  #router: Router;
  #memory = newViewMemory();
  #streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #timer?: ReturnType<typeof setInterval>;
  #last = "";
  #busy = false;

  /** @param router the router whose state is shown */
  constructor(router: Router) {
    this.#router = router;
  }

  /** One view of the router now. */
  async view(): Promise<DashboardView> {
    const r = this.#router;
    return dashboardView(
      await r.report(),
      r.attachments.list(),
      vxlanCounters(),
      Date.now(),
      this.#memory,
    );
  }

  /** A `text/event-stream` response that gets the current view at once, then every change. */
  stream(): Response {
    let self: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        self = controller;
        this.#streams.add(controller);
        controller.enqueue(new TextEncoder().encode("retry: 1000\n\n"));
        this.#last = ""; // the new page needs a view even when nothing changed
        this.#timer ??= setInterval(() => this.#tick(), TICK_MS);
        this.#tick();
      },
      cancel: () => this.#drop(self),
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
    });
  }

  /** Ends every stream and stops the timer (before the HTTP server shuts down). */
  close(): void {
    for (const s of [...this.#streams]) {
      try {
        s.close();
      } catch {
        // already closed by the client
      }
      this.#drop(s);
    }
  }

  #drop(s: ReadableStreamDefaultController<Uint8Array>): void {
    this.#streams.delete(s);
    if (this.#streams.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const data = JSON.stringify(await this.view());
      if (data === this.#last) return;
      this.#last = data;
      const frame = new TextEncoder().encode(`event: view\ndata: ${data}\n\n`);
      for (const s of [...this.#streams]) {
        try {
          s.enqueue(frame);
        } catch {
          this.#drop(s); // the page went away
        }
      }
    } catch (err) {
      log.warn("Cannot take a dashboard view", { error: (err as Error).message });
    } finally {
      this.#busy = false;
    }
  }
}

function asset(body: string, type: string): Response {
  return new Response(body, { headers: { "content-type": type, "cache-control": "no-cache" } });
}

/**
 * Registers the dashboard's routes on `api`.
 *
 * @returns the feed, whose {@link DashboardFeed.close} must be called before the HTTP server shuts down
 */
export function registerDashboard(api: HttpApi, router: Router): DashboardFeed {
  const feed = new DashboardFeed(router);
  api
    .add("GET", "/", () => asset(PAGE_HTML, "text/html; charset=utf-8"))
    .add("GET", "/dashboard/app.js", () => asset(APP_JS, "text/javascript; charset=utf-8"))
    .add("GET", "/dashboard/app.css", () => asset(APP_CSS, "text/css; charset=utf-8"))
    .add("GET", "/dashboard/view", async () => json(await feed.view()))
    .add("GET", "/dashboard/events", () => feed.stream());
  return feed;
}
