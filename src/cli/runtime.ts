/**
 * `meshnet dns-args` and `meshnet env`: the flags and variables that point a container runtime's own
 * containers at meshnet's DNS, for runtimes that take them on the command line (`docker run`, `podman run`,
 * `nerdctl run`): `podman run $(meshnet dns-args) …`, or `eval "$(meshnet env)"` then `$MESHNET_DNS_ARGS`.
 *
 * @module
 */
import { Command } from "commander";
import { apiCall } from "../client/client.ts";

/** Where the router's DNS serves: its address on the bridge and its domain. */
export interface DnsTarget {
  /** The server's address and port as `GET /dns-address` gives it, e.g. "10.32.0.1:53" or "[fd00::1]:53". */
  address: string;
  /** The DNS domain, e.g. "weave.local." */
  domain: string;
}

/**
 * The runtime flags for `target`: `--dns=ADDRESS` and `--dns-search=DOMAIN` (no final dot).
 *
 * @throws {Error} when the server is not on port 53, which resolv.conf cannot name
 * @example
 * ```ts
 * dnsArgs({ address: "10.32.0.1:53", domain: "weave.local." }); // ["--dns=10.32.0.1", "--dns-search=weave.local"]
 * ```
 */
export function dnsArgs(target: DnsTarget): string[] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target.address.trim());
  if (!m || m[2] !== "53") {
    throw new Error(
      `meshnet's DNS serves on '${target.address.trim()}', and --dns can only name port 53; launch with --dns-port 53`,
    );
  }
  return [`--dns=${m[1]}`, `--dns-search=${target.domain.trim().replace(/\.$/, "")}`];
}

/**
 * Shell lines exporting MESHNET_DNS_ADDRESS, MESHNET_DNS_DOMAIN and MESHNET_DNS_ARGS for `target`.
 *
 * @throws {Error} as {@link dnsArgs}
 */
export function envLines(target: DnsTarget): string[] {
  const args = dnsArgs(target);
  return [
    `export MESHNET_DNS_ADDRESS=${args[0].slice("--dns=".length)}`,
    `export MESHNET_DNS_DOMAIN=${args[1].slice("--dns-search=".length)}`,
    `export MESHNET_DNS_ARGS='${args.join(" ")}'`,
  ];
}

async function dnsTarget(): Promise<DnsTarget> {
  return { address: await apiCall("GET", "/dns-address"), domain: await apiCall("GET", "/domain") };
}

/** Builds the `dns-args` command. */
export function dnsArgsCommand(): Command {
  return new Command("dns-args")
    .description("print --dns and --dns-search flags for docker/podman run that point at meshnet's DNS")
    .action(async () => console.log(dnsArgs(await dnsTarget()).join(" ")));
}

/** Builds the `env` command. */
export function envCommand(): Command {
  return new Command("env")
    .description("print shell exports of meshnet's DNS address, domain and run flags; use with eval")
    .action(async () => console.log(envLines(await dnsTarget()).join("\n")));
}
