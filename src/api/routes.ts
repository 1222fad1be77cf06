/**
 * The API's routes: paths follow the reference where it has one (`/status`, `/report`, `/connect`, …).
 *
 * @module
 */
import type { AttachIdentity } from "../router/attachments.ts";
import type { Router } from "../router/router.ts";
import { MAC_TEXT } from "../../base/mac.ts";
import { isIP, parseCIDR } from "../../base/ip.ts";
import type { Report, StatusView } from "../client/wire.ts";
import { dnsMetrics } from "./dns_metrics.ts";
import { meshMetrics } from "./mesh_metrics.ts";
import { processMetrics } from "./process_metrics.ts";
import { reportMetrics } from "./report_metrics.ts";
import { MetricsRegistry } from "./metrics.ts";
import { type HttpApi, HttpError, json, readForm, text } from "./http.ts";
import { connectionsText, ipamText, peersText, statusText, targetsText } from "./status_text.ts";
import { attachNaming, dnsText, registerDnsRoutes } from "./dns_routes.ts";
import { registerDashboard } from "./dashboard/routes.ts";

/** The status views served under /status/<view>, each rendering the report as text. */
export const STATUS_VIEWS: Record<StatusView, (r: Report) => string> = {
  connections: connectionsText,
  peers: peersText,
  ipam: ipamText,
  targets: targetsText,
  dns: dnsText,
};

/** How long `GET /ring` (prime) waits for the ring, in milliseconds. */
const PRIME_TIMEOUT_MS = 60_000;

/**
 * The form field `name`, which must be present.
 *
 * @throws {HttpError} 400 naming the missing field
 */
function required(form: URLSearchParams, name: string): string {
  const v = form.get(name);
  if (v === null || v === "") throw new HttpError(400, `Missing form field '${name}'`);
  return v;
}

/**
 * The CIDR `address/plen` from path parameters.
 *
 * @throws {HttpError} 400 naming the value when it is not a CIDR
 */
function cidrParam(address: string, plen: string): string {
  const cidr = `${address}/${plen}`;
  try {
    parseCIDR(cidr);
  } catch (err) {
    throw new HttpError(400, `${(err as Error).message}; give ADDRESS/PREFIX-LENGTH, e.g. 10.32.0.5/12`);
  }
  return cidr;
}

/**
 * The IP address `address` from a path parameter.
 *
 * @throws {HttpError} 400 naming the value when it is not an IP address
 */
function ipParam(address: string): string {
  if (!isIP(address)) throw new HttpError(400, `Invalid IP address '${address}'; give one like 10.32.0.5`);
  return address;
}

/** The optional `id` and `ifname` form fields of attach and detach (CNI names attachments itself). */
function identity(form: URLSearchParams): AttachIdentity {
  return { id: form.get("id") || undefined, ifname: form.get("ifname") || undefined };
}

/**
 * Registers every route on `api`.
 *
 * @param stop called by `POST /stop`; the daemon then shuts down after replying
 * @returns a function that ends the long-lived replies (the dashboard's event streams); call it before the
 *   HTTP server shuts down, which waits for every reply to end
 */
export function registerRoutes(api: HttpApi, router: Router, stop: () => void): () => void {
  const metrics = new MetricsRegistry();
  metrics.register(() => meshMetrics(router));
  metrics.register(async () => reportMetrics(await router.report()));
  metrics.register(processMetrics);
  metrics.register(async () => dnsMetrics(await router.dns?.stats()));
  registerDnsRoutes(api, router.dns);
  const dashboard = registerDashboard(api, router);
  api
    .add("GET", "/status", async () => text(200, statusText(await router.report())))
    .add("GET", "/status/:view", async (_req, p) => {
      const view = STATUS_VIEWS[p.view as keyof typeof STATUS_VIEWS];
      if (!view) {
        throw new HttpError(
          404,
          `Unknown status view '${p.view}'; use one of: ${Object.keys(STATUS_VIEWS).join(", ")}`,
        );
      }
      return text(200, view(await router.report()));
    })
    .add("GET", "/report", async () => json(await router.report()))
    .add(
      "GET",
      "/metrics",
      async () =>
        new Response(await metrics.scrape(), { headers: { "content-type": "text/plain; version=0.0.4" } }),
    )
    .add("POST", "/connect", async (req) => {
      const form = await readForm(req);
      const peers = form.getAll("peer");
      router.mesh.connect(peers, form.get("replace") === "true");
      return text(200, "");
    })
    .add("POST", "/forget", async (req) => {
      const form = await readForm(req);
      router.mesh.forget(form.getAll("peer"));
      return text(200, "");
    })
    .add("POST", "/attach", async (req) => {
      const form = await readForm(req);
      const a = await router.attachments.attach(
        required(form, "container"),
        form.getAll("cidr"),
        identity(form),
        attachNaming(form, router.dns),
        { defaultRoute: form.get("default-route") !== "false" },
      );
      return json(a);
    })
    .add("POST", "/detach", async (req) => {
      const form = await readForm(req);
      const ref = form.has("id") ? form.get("container") ?? "" : required(form, "container");
      return json(await router.attachments.detach(ref, form.getAll("cidr"), identity(form)));
    })
    .add("GET", "/ps", () => json(router.attachments.list()))
    .add("GET", "/ps/recorded", () => json(router.attachments.recorded()))
    .add("POST", "/ip/:id", async (_req, p) => text(200, (await router.ipam.allocate(p.id)).join(" ")))
    .add("POST", "/ip/:id/:net/:plen", async (_req, p) => {
      const subnet = cidrParam(p.net, p.plen);
      return text(200, (await router.ipam.allocate(p.id, subnet)).join(" "));
    })
    .add("PUT", "/ip/:id/:ip/:plen", async (_req, p) => {
      const cidr = cidrParam(p.ip, p.plen);
      await router.ipam.claim(p.id, cidr);
      return new Response(null, { status: 204 });
    })
    .add("GET", "/ip/:id", (_req, p) => {
      const found = router.ipam.lookup(p.id);
      if (!found.length) throw new HttpError(404, `No addresses for '${p.id}'`);
      return text(200, found.join(" "));
    })
    .add("DELETE", "/ip/:id/:ip", (_req, p) => {
      const address = ipParam(p.ip);
      router.ipam.release(p.id, address);
      return new Response(null, { status: 204 });
    })
    .add("DELETE", "/ip/:id", (_req, p) => {
      router.ipam.release(p.id);
      return new Response(null, { status: 204 });
    })
    .add("GET", "/ring", async () => {
      try {
        await router.ipam.prime(PRIME_TIMEOUT_MS);
      } catch (err) {
        throw new HttpError(503, (err as Error).message);
      }
      return text(200, "ready");
    })
    .add("DELETE", "/peer/:name", (_req, p) => {
      const peer = router.mesh.core.peers().find((x) => x.name === p.name || x.nickname === p.name);
      const name = peer?.name ?? p.name;
      if (!peer && !MAC_TEXT.test(p.name)) {
        throw new HttpError(
          404,
          `Cannot rmpeer '${p.name}': no known peer has that nickname; give its peer name (see 'meshnet status ipam')`,
        );
      }
      return text(200, `${router.ipam.rmpeer(name)} IPs taken over from ${name}`);
    })
    .add(
      "POST",
      "/expose",
      async (req) => text(200, (await router.expose((await readForm(req)).getAll("cidr"))).join(" ")),
    )
    .add(
      "POST",
      "/hide",
      async (req) => text(200, router.hide((await readForm(req)).getAll("cidr")).join(" ")),
    )
    .add("POST", "/stop", () => {
      setTimeout(stop, 0);
      return text(200, "stopping");
    });
  return () => dashboard.close();
}
