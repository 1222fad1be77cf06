/**
 * DNS for CNI-made containers: the name a runtime gives the container (CNI_ARGS K8S_POD_NAME, which Podman
 * sets to the container name) is registered in the router's DNS at ADD, and ADD's result points the
 * container's resolver at the router's DNS server with the DNS domain as search domain.
 *
 * @module
 */
import { DNS_ADDRESS_POLL_MS, DNS_ADDRESS_WAIT_MS, DNS_PORT_IN_RESOLV_CONF } from "./constants.ts";
import type { CniDns } from "./result.ts";
import { call, type RouterRequest } from "./router_api.ts";

/** A DNS label (RFC 1123), the only names passed on for registration. */
const LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

/**
 * The container's name from CNI_ARGS, when it is a valid DNS label.
 *
 * @example
 * ```ts
 * podName(new Map([["K8S_POD_NAME", "web"]])); // "web"
 * ```
 */
export function podName(args: Map<string, string>): string | undefined {
  const name = args.get("K8S_POD_NAME");
  return name && LABEL.test(name) ? name : undefined;
}

/** The router's DNS, as ADD uses it. */
export interface RouterDns {
  /** The DNS domain, without the final dot, e.g. "weave.local". */
  domain: string;
  /** The `dns` of ADD's result: the server (once it is up) and the domain to search. */
  result(): Promise<CniDns>;
}

/**
 * The router's DNS, or undefined when it was launched with --no-dns.
 *
 * @throws {CniError} when the router cannot be reached
 */
export async function routerDns(request: RouterRequest): Promise<RouterDns | undefined> {
  const reply = await request("GET", "/domain").catch(() => undefined);
  if (!reply || reply.status !== 200) return undefined;
  const domain = reply.body.trim().replace(/\.$/, "");
  return {
    domain,
    async result(): Promise<CniDns> {
      const server = await dnsServer(request);
      return { ...(server ? { nameservers: [server] } : {}), domain, search: [domain] };
    },
  };
}

/**
 * The address of this host's DNS server, waiting a little while it starts (it starts once the address ring
 * is ready, just before the first ADD can succeed); undefined when it does not serve on port 53, which
 * resolv.conf cannot name.
 */
async function dnsServer(request: RouterRequest): Promise<string | undefined> {
  const deadline = Date.now() + DNS_ADDRESS_WAIT_MS;
  for (;;) {
    const reply = await request("GET", "/dns-address");
    if (reply.status === 200) {
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(reply.body.trim());
      return m && Number(m[2]) === DNS_PORT_IN_RESOLV_CONF ? m[1] : undefined;
    }
    if (reply.status !== 503 || Date.now() > deadline) {
      await call(request, "GET", "/dns-address"); // throws the router's reason
    }
    await new Promise((r) => setTimeout(r, DNS_ADDRESS_POLL_MS));
  }
}
