/**
 * The API's DNS routes, with the reference's paths: `PUT /name/{ctr}/{ip}` (form `fqdn`), `DELETE
 * /name/{ctr}/{ip}` and `DELETE /name/{ctr}` (optional `fqdn`), `GET /name` (JSON), `GET /domain`,
 * `GET /dns-address`; plus `PUT /name/{ctr}`, which names every attached address of the container. The
 * text of `status dns` is here too.
 *
 * @module
 */
import type { AttachNaming } from "../router/attachments.ts";
import { type DnsService } from "../router/dns_service.ts";
import { qualifyServed } from "../dns/qualify.ts";
import type { Report } from "../client/wire.ts";
import { formatPeerAddress } from "../router/config.ts";
import { type HttpApi, HttpError, json, readForm, text } from "./http.ts";

/** `status dns`: one line per live name, `hostname ip containerid origin-peer`, the domain left off. */
export function dnsText(r: Report): string {
  if (!r.dns) return "DNS is off (launched with --no-dns)\n";
  const suffix = `.${r.dns.domain}`;
  const rows = r.dns.entries.map((e) => [
    e.name.endsWith(suffix) ? e.name.slice(0, -suffix.length) : e.name,
    e.address,
    e.container,
    e.origin,
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(0, ...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((c, i) => i < 3 ? c.padEnd(widths[i]) : c).join(" ") + "\n").join("");
}

/** The router's DNS, or a 404 saying it is off. */
function service(dns: DnsService | undefined): DnsService {
  if (!dns) throw new HttpError(404, "DNS is off on this router; launch it without --no-dns");
  return dns;
}

/** The optional form field `fqdn`. */
function fqdnOf(form: URLSearchParams): string | undefined {
  return form.get("fqdn") || undefined;
}

/**
 * The naming of an attach from its form fields `name` (hostname or FQDN) and `resolver` ("false" for
 * `--without-dns`, "true" for `--with-dns` without a name), checked before anything is attached.
 *
 * @throws {HttpError} 400 when the name is invalid or DNS is off
 */
export function attachNaming(form: URLSearchParams, dns: DnsService | undefined): AttachNaming {
  const name = form.get("name") || undefined;
  if (name === undefined) return form.get("resolver") === "true" && dns ? { resolver: true } : {};
  if (!dns) throw new HttpError(400, `Cannot name a container '${name}': DNS is off on this router`);
  try {
    qualifyServed(name, dns.domain);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
  return { name, resolver: form.get("resolver") !== "false" };
}

/** How long `GET /dns-address` waits for a server it started, in milliseconds. */
const DNS_ADDRESS_WAIT_MS = 5_000;

/**
 * Registers the DNS routes on `api`.
 *
 * @param dns the router's DNS service, undefined when launched with --no-dns (every route then answers 404)
 */
export function registerDnsRoutes(api: HttpApi, dns: DnsService | undefined): void {
  api
    .add("PUT", "/name/:ctr/:ip", async (req, p) => {
      return text(200, service(dns).add(p.ctr, [p.ip], fqdnOf(await readForm(req))).join("\n"));
    })
    .add("PUT", "/name/:ctr", async (req, p) => {
      return text(200, service(dns).add(p.ctr, [], fqdnOf(await readForm(req))).join("\n"));
    })
    .add("DELETE", "/name/:ctr/:ip", async (req, p) => {
      return text(200, `${service(dns).remove(p.ctr, { address: p.ip, fqdn: fqdnOf(await readForm(req)) })}`);
    })
    .add("DELETE", "/name/:ctr", async (req, p) => {
      return text(200, `${service(dns).remove(p.ctr, { fqdn: fqdnOf(await readForm(req)) })}`);
    })
    .add("GET", "/name", () => json(service(dns).names()))
    .add("GET", "/domain", () => text(200, service(dns).domain))
    .add("GET", "/dns-address", async () => {
      const s = service(dns);
      // The server starts with the first container; asking for its address (dns-args, a CNI ADD) starts it too.
      const address = await s.serving(DNS_ADDRESS_WAIT_MS);
      if (address === undefined) {
        throw new HttpError(
          503,
          "The DNS server is not up yet: it binds the gateway address on the bridge once a container is " +
            "attached or its address is asked for, and retries every half second; the router's log says why it cannot",
        );
      }
      return text(200, formatPeerAddress({ host: address, port: s.port }));
    });
}
