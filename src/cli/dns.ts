/**
 * DNS commands: `dns-add [IP…] CONTAINER [-h FQDN]` and `dns-add IP… -h FQDN` (an address outside any
 * container), `dns-remove` in the same forms, and `dns-lookup NAME`, which asks the router's DNS server
 * itself with one small UDP query per address type, as a container would.
 *
 * @module
 */
import { Command } from "commander";
import { apiCall } from "../client/client.ts";
import { Flag, Rcode, RRClass, RRType } from "../dns/constants.ts";
import { decodeMessage, encodeMessage, type Message, rcodeOf } from "../dns/message.ts";
import { UsageError } from "../../base/errors.ts";
import { formatIP, isIP } from "../../base/ip.ts";
import { formatPeerAddress, parsePeerAddress, type PeerAddress } from "../router/config.ts";
import { checkHostname, qualify } from "../dns/qualify.ts";
import { EXTERN_ID } from "../client/wire.ts";

/** How long `dns-lookup` waits for each reply before asking again, in milliseconds. */
const LOOKUP_TIMEOUT_MS = 1000;
/** How often `dns-lookup` asks before giving up. */
const LOOKUP_ATTEMPTS = 3;

/** Splits `[IP…] CONTAINER` or `IP…` (with -h): the container ({@link EXTERN_ID} for the latter) and the IPs. */
function split(args: string[], verb: string, fqdn?: string): { container: string; ips: string[] } {
  const usage = `usage: meshnet ${verb} [IP…] CONTAINER [-h FQDN], or ${verb} IP… -h FQDN`;
  if (args.length === 0) throw new UsageError(`Missing container or address; ${usage}`);
  const external = isIP(args[args.length - 1]);
  if (external && fqdn === undefined) {
    throw new UsageError(`Missing -h FQDN for addresses outside any container; ${usage}`);
  }
  const ips = external ? args : args.slice(0, -1);
  const bad = ips.find((ip) => !isIP(ip));
  if (bad !== undefined) throw new UsageError(`Invalid address '${bad}': expected an IP address; ${usage}`);
  return { container: external ? EXTERN_ID : args[args.length - 1], ips };
}

function namePath(container: string, ip?: string): string {
  return `/name/${encodeURIComponent(container)}${ip === undefined ? "" : `/${encodeURIComponent(ip)}`}`;
}

function fqdnForm(fqdn: string | undefined): [string, string][] {
  return fqdn === undefined ? [] : [["fqdn", fqdn]];
}

/** dns-add and dns-remove: one API call per address, or one for the whole container; dns-add prints what it added. */
function nameCommand(verb: "dns-add" | "dns-remove", description: string, hostnameHelp: string): Command {
  const method = verb === "dns-add" ? "PUT" : "DELETE";
  return new Command(verb)
    .description(description)
    .helpOption("--help", "display help for command")
    .argument("<args...>", "[IP…] CONTAINER, or IP… with -h")
    .option("-h, --hostname <fqdn>", hostnameHelp)
    .action(async (args: string[], opts: { hostname?: string }) => {
      if (opts.hostname !== undefined) checkHostname(opts.hostname);
      const { container, ips } = split(args, verb, opts.hostname);
      const form = fqdnForm(opts.hostname);
      const paths = ips.length ? ips.map((ip) => namePath(container, ip)) : [namePath(container)];
      const replies: string[] = [];
      for (const path of paths) replies.push((await apiCall(method, path, { form })).trim());
      if (method === "PUT") console.log(replies.join("\n"));
    });
}

/** Builds the `dns-add` command. */
export function dnsAddCommand(): Command {
  return nameCommand(
    "dns-add",
    "register a name for a container's addresses (all of them unless given), or for outside ones",
    "the name; default the name the container was attached with",
  );
}

/** Builds the `dns-remove` command. */
export function dnsRemoveCommand(): Command {
  return nameCommand(
    "dns-remove",
    "remove names of a container (all, or of the given addresses, or only -h), or of outside ones",
    "remove only this name",
  );
}

/**
 * Sends one query for `name` and `type` to `server` over UDP, asking again on silence.
 *
 * @throws {Error} when the server does not answer after {@link LOOKUP_ATTEMPTS} tries
 */
async function query(server: PeerAddress, name: string, type: number): Promise<Message> {
  const id = crypto.getRandomValues(new Uint16Array(1))[0];
  const bytes = encodeMessage({
    id,
    flags: Flag.rd,
    questions: [{ name, type, class: RRClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
  });
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: server.host.includes(":") ? "::" : "0.0.0.0",
    port: 0,
  });
  const reply = (async () => {
    for (;;) {
      const [data] = await conn.receive();
      if (data.length >= 12 && ((data[0] << 8) | data[1]) === id) return data;
    }
  })();
  reply.catch(() => {/* the socket closed */});
  try {
    for (let attempt = 0; attempt < LOOKUP_ATTEMPTS; attempt++) {
      await conn.send(bytes, { transport: "udp", hostname: server.host, port: server.port });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const silence = new Promise<undefined>((r) =>
        timer = setTimeout(() => r(undefined), LOOKUP_TIMEOUT_MS)
      );
      const data = await Promise.race([reply, silence]);
      clearTimeout(timer);
      if (data) return decodeMessage(data);
    }
  } finally {
    conn.close();
  }
  throw new Error(
    `The DNS server at ${formatPeerAddress(server)} did not answer a query for '${name}'; ` +
      "see 'meshnet status dns'",
  );
}

/** Builds the `dns-lookup` command. */
export function dnsLookupCommand(): Command {
  return new Command("dns-lookup")
    .description("print the addresses of a name (a bare hostname is looked up in the DNS domain)")
    .argument("<name>", "hostname or FQDN")
    .action(async (name: string) => {
      const domain = (await apiCall("GET", "/domain")).trim();
      const server = parsePeerAddress((await apiCall("GET", "/dns-address")).trim());
      const fqdn = qualify(name, domain);
      const replies = [await query(server, fqdn, RRType.A), await query(server, fqdn, RRType.AAAA)];
      const addresses = replies.flatMap((m) => m.answers).filter((r) =>
        (r.type === RRType.A || r.type === RRType.AAAA) && r.data instanceof Uint8Array
      ).map((r) => formatIP(r.data as Uint8Array));
      if (addresses.length === 0) {
        const failed = replies.map((m) => rcodeOf(m.flags)).find((c) => c !== Rcode.noError);
        const why = failed === undefined || failed === Rcode.nxDomain
          ? "no such name"
          : `the server answered rcode ${failed}`;
        throw new Error(`Cannot resolve '${fqdn}': ${why}`);
      }
      console.log(addresses.join("\n"));
    });
}
