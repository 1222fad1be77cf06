/**
 * The host's side of routing containers to the world, set up at start in the host's own namespace only:
 * the gateway address on the bridge and routes for the IPAM ranges (src/netdev/gateway.ts), forwarding and
 * bridged traffic through netfilter (sysctls; br_netfilter is loaded first when its settings are missing),
 * and meshnet's nftables table (src/netdev/nftables.ts), whose rules serve IPv4 and IPv6 alike.
 *
 * IPv6 is set up only once it is in use (an IPv6 IPAM range, a container given an IPv6 address, or the IPv6
 * gateway found on the bridge from an earlier run): the IPv6 gateway and the IPv6 sysctls. IPv6 forwarding
 * is left off, with a problem saying what to do, while a route the host learned from a router advertisement
 * goes through an interface whose `accept_ra` is 1: forwarding would make the kernel ignore the next
 * advertisements, and the host would lose that route when it expires.
 *
 * While the router runs, {@link HostRouting.check} puts back every {@link ROUTING_CHECK_MS} what someone else
 * removed: a gateway address, the table (a firewall reload or `nft flush ruleset` deletes every table, and
 * containers would lose the world and subnet isolation without a word), a forwarding sysctl meshnet holds
 * (`sysctl --system` can set one back); each repair is a warning in the log.
 *
 * Every sysctl is recorded in the data directory with the value it had before meshnet first changed it,
 * written before the change (so a crash between the two loses nothing); one already right is left alone
 * and not recorded. {@link undoHostRouting} (`reset`) deletes the table and restores only the recorded
 * sysctls that still hold meshnet's value.
 *
 * @module
 */
import type { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import type { RoutingReport } from "../client/wire.ts";
import { logger } from "../log.ts";
import {
  BR_NETFILTER_MODULE,
  FORWARDING_SYSCTLS,
  GATEWAY_ADDRESS,
  GATEWAY_ADDRESS6,
  IPV6_FORWARDING_SYSCTLS,
  NFT_FAMILY,
  NFT_TABLE,
  ROUTING_CHECK_MS,
} from "../netdev/constants.ts";
import { addrList } from "../../ffi/netlink/addr.ts";
import { linkGet, linkList } from "../../ffi/netlink/link.ts";
import { routeList } from "../../ffi/netlink/route.ts";
import { parseCIDR } from "../../base/ip.ts";
import { ensureGateway, routeSubnets, unrouteSubnets } from "../netdev/gateway.ts";
import { applyTable, deleteTable, tableExists } from "../netdev/nftables.ts";
import { readSysctl, writeSysctl } from "../netdev/sysctl.ts";
import type { DataDir } from "./data_dir.ts";

const log = logger("routing");

/** The record of sysctls meshnet changed: key → the value before. */
const FILE = "routing.json";

type Record = { sysctls: { [key: string]: string } };

/** Settings of {@link HostRouting}. */
export interface HostRoutingOptions {
  /** The bridge. */
  bridge: string;
  /** Masquerade traffic from the bridge leaving by another interface (off with --no-masquerade). */
  masquerade: boolean;
}

/** The gateway, forwarding and NAT of one router's host. */
export class HostRouting {
  readonly #dir: DataDir;
  readonly #nl: NetlinkSocket;
  readonly #o: HostRoutingOptions;
  #bridgeMac = "";
  #ranges: readonly string[] = [];
  /** Every attached container's addresses, as last told: their subnets are routed into the bridge. */
  #attached = new Set<string>();
  #table = false;
  /** IPv6 is in use: its sysctls were set (or tried) and its gateway put on the bridge (`#gateway6`). */
  #ipv6 = false;
  #gateway6 = false;
  /** The sysctls meshnet holds at their value while it runs: set by it, or found so. */
  #held: { key: string; value: string }[] = [];
  #problems: string[] = [];
  #checker?: ReturnType<typeof setInterval>;
  #checking = false;
  /** Repairs that failed, each logged once. */
  #unrepaired = new Set<string>();

  /** Changes nothing yet; see {@link HostRouting.start}. */
  constructor(dir: DataDir, nl: NetlinkSocket, o: HostRoutingOptions) {
    this.#dir = dir;
    this.#nl = nl;
    this.#o = o;
  }

  /** The bridge's MAC, which containers' permanent neighbour entry for the gateway names. */
  get bridgeMac(): string {
    return this.#bridgeMac;
  }

  /**
   * Puts the gateway on the bridge and routes `ranges` into it (kernel failures throw), then sets the
   * forwarding sysctls and the nftables table; those failing leave the overlay working, so they are logged
   * and shown by status instead.
   *
   * @throws {NetlinkError} when the bridge is missing or the kernel refuses the gateway or a route
   */
  async start(ranges: readonly string[]): Promise<void> {
    ensureGateway(this.#nl, this.#o.bridge);
    this.#bridgeMac = linkGet(this.#nl, this.#o.bridge).mac!;
    this.#ranges = ranges;
    routeSubnets(this.#nl, this.#o.bridge, ranges);
    this.#problems = [];
    if (FORWARDING_SYSCTLS.some((s) => readSysctl(undefined, s.key) === undefined)) {
      await loadModule(BR_NETFILTER_MODULE);
    }
    this.#holdAll(FORWARDING_SYSCTLS);
    try {
      await this.#applyTable();
      this.#table = true;
    } catch (err) {
      this.#problem((err as Error).message);
    }
    const onBridge = addrList(this.#nl, { link: this.#o.bridge, family: 6 });
    if (ranges.some(isIPv6) || onBridge.some((a) => a.address === GATEWAY_ADDRESS6)) this.#startIPv6();
    if (this.#checker === undefined) {
      this.#checker = setInterval(() => void this.check(), ROUTING_CHECK_MS);
      Deno.unrefTimer(this.#checker);
    }
  }

  /** Stops the checks of {@link check}; what is set up stays (`reset` removes it). */
  stop(): void {
    clearInterval(this.#checker);
    this.#checker = undefined;
  }

  /**
   * Puts back what someone else removed since start: the gateway addresses on the bridge, the routes of the
   * IPAM ranges and attached containers' subnets, meshnet's nftables table, and the forwarding sysctls meshnet
   * holds. Each repair is logged as a warning, each failed one once.
   *
   * @returns what was put back
   */
  async check(): Promise<string[]> {
    if (this.#checking) return [];
    this.#checking = true;
    const repaired: string[] = [];
    /** Runs `putBack`, which says whether `what` was missing (and is back now). */
    const repair = async (what: string, putBack: () => boolean | Promise<boolean>) => {
      try {
        if (await putBack()) repaired.push(what);
      } catch (err) {
        const msg = `Cannot put back ${what}: ${(err as Error).message}`;
        if (!this.#unrepaired.has(msg)) log.warn("Routing to the world is incomplete", { error: msg });
        this.#unrepaired.add(msg);
      }
    };
    const bridge = this.#o.bridge, nl = this.#nl;
    try {
      await repair(`the gateway ${GATEWAY_ADDRESS} on ${bridge}`, () => ensureGateway(nl, bridge));
      if (this.#gateway6) {
        await repair(`the gateway ${GATEWAY_ADDRESS6} on ${bridge}`, () => ensureGateway(nl, bridge, 6));
      }
      // After the gateway: the kernel drops a bridge's IPv4 routes with its last IPv4 address.
      const subnets = [...this.#ranges, ...this.#attached];
      await repair("the routes of containers' subnets", () => routeSubnets(nl, bridge, subnets).length > 0);
      if (this.#table) {
        await repair(`nftables table ${NFT_FAMILY} ${NFT_TABLE}`, async () => {
          if (tableExists()) return false;
          await this.#applyTable();
          return true;
        });
      }
      for (const { key, value } of this.#held) {
        await repair(`net.${key.replaceAll("/", ".")}=${value}`, () => {
          if (readSysctl(undefined, key) === value) return false;
          writeSysctl(undefined, key, value);
          return true;
        });
      }
    } finally {
      this.#checking = false;
    }
    if (repaired.length) {
      log.warn("Put back what someone else removed of meshnet's routing", {
        repaired: repaired.join(", "),
        hint:
          "a firewall reload or `nft flush ruleset` deletes meshnet's table; `sysctl --system` can turn " +
          "forwarding off",
      });
    }
    return repaired;
  }

  #applyTable(): Promise<void> {
    return applyTable({ bridge: this.#o.bridge, bridgeMac: this.#bridgeMac, masquerade: this.#o.masquerade });
  }

  /** Sets each sysctl of `sysctls` and holds it from then on; failures become problems. */
  #holdAll(sysctls: readonly { key: string; value: string }[]): void {
    for (const s of sysctls) {
      try {
        this.#set(s.key, s.value);
        this.#held.push(s);
      } catch (err) {
        this.#problem((err as Error).message);
      }
    }
  }

  /**
   * Routes the subnets of a container's new addresses into the bridge, first setting up IPv6 when they hold
   * the first IPv6 address; returns the routes added.
   */
  routeAttached(cidrs: readonly string[]): string[] {
    if (cidrs.some(isIPv6)) this.#startIPv6();
    for (const c of cidrs) this.#attached.add(c);
    return routeSubnets(this.#nl, this.#o.bridge, cidrs);
  }

  /** Puts the IPv6 gateway on the bridge and sets the IPv6 sysctls, once; failures become problems. */
  #startIPv6(): void {
    if (this.#ipv6) return;
    this.#ipv6 = true;
    try {
      ensureGateway(this.#nl, this.#o.bridge, 6);
      this.#gateway6 = true;
    } catch (err) {
      this.#problem(
        `IPv6 containers have no gateway: ${(err as Error).message}; is IPv6 disabled on ${this.#o.bridge}?`,
      );
    }
    const [forwarding, ...rest] = IPV6_FORWARDING_SYSCTLS;
    const advertised = readSysctl(undefined, forwarding.key) === forwarding.value ? [] : this.#advertised();
    this.#holdAll(advertised.length ? rest : IPV6_FORWARDING_SYSCTLS);
    if (advertised.length) {
      const on = advertised.join(", ");
      const fix = advertised.map((i) => `net.ipv6.conf.${i}.accept_ra=2`).join(", ");
      this.#problem(
        `IPv6 forwarding left off, so IPv6 containers reach only the overlay: this host takes IPv6 routes from ` +
          `router advertisements on ${on}, which the kernel ignores once forwarding is on; set ${fix} ` +
          "(advertisements accepted while forwarding) and restart meshnet",
      );
    }
  }

  /** Interfaces with `accept_ra` 1 through which the host has a route learned from a router advertisement. */
  #advertised(): string[] {
    const names = new Map(linkList(this.#nl).map((l) => [l.index, l.name]));
    const out = new Set<string>();
    for (const r of routeList(this.#nl, { family: 6 })) {
      const name = r.protocol === "ra" && r.dev !== undefined ? names.get(r.dev) : undefined;
      if (name && readSysctl(undefined, `ipv6/conf/${name}/accept_ra`) === "1") out.add(name);
    }
    return [...out];
  }

  /** Deletes the subnet routes no IPAM range and none of `attached` (every container's addresses) needs. */
  unrouteUnused(attached: readonly string[]): string[] {
    this.#attached = new Set(attached);
    return unrouteSubnets(this.#nl, this.#o.bridge, [...this.#ranges, ...attached]);
  }

  /** The routing state for the report and `meshnet status`. */
  report(): RoutingReport {
    const record = this.#dir.readJSON<Record>(FILE)?.sysctls ?? {};
    return {
      gateway: GATEWAY_ADDRESS,
      ...(this.#gateway6 ? { gateway6: GATEWAY_ADDRESS6 } : {}),
      bridge: this.#o.bridge,
      masquerade: this.#o.masquerade && this.#table,
      table: this.#table ? `${NFT_FAMILY} ${NFT_TABLE}` : undefined,
      sysctls: [...FORWARDING_SYSCTLS, ...(this.#ipv6 ? IPV6_FORWARDING_SYSCTLS : [])].map((s) => ({
        key: s.key,
        value: readSysctl(undefined, s.key) ?? "missing",
        before: record[s.key],
      })),
      problems: this.#problems,
    };
  }

  #problem(msg: string): void {
    this.#problems.push(msg);
    log.warn("Routing to the world is incomplete", { error: msg });
  }

  #set(key: string, value: string): void {
    const now = readSysctl(undefined, key);
    if (now === undefined) {
      throw new Error(
        `Cannot set sysctl 'net/${key}': it does not exist; load the ${BR_NETFILTER_MODULE} module ` +
          `(modprobe ${BR_NETFILTER_MODULE}) and restart meshnet`,
      );
    }
    if (now === value) return;
    const record = this.#dir.readJSON<Record>(FILE) ?? { sysctls: {} };
    if (!(key in record.sysctls)) {
      record.sysctls[key] = now;
      this.#dir.writeJSON(FILE, record);
    }
    writeSysctl(undefined, key, value);
  }
}

function isIPv6(cidr: string): boolean {
  return parseCIDR(cidr).family === 6;
}

/**
 * Loads a kernel module with modprobe (a global change, but it only makes per-namespace settings exist;
 * their values are set per namespace). A missing modprobe or a failure is left to the sysctl that needs the
 * module to report.
 */
async function loadModule(name: string): Promise<void> {
  try {
    const r = await new Deno.Command("modprobe", { args: [name], stdout: "null", stderr: "piped" }).output();
    if (!r.success) {
      log.warn("Cannot load a kernel module", { name, error: new TextDecoder().decode(r.stderr) });
    }
  } catch (err) {
    log.warn("Cannot run modprobe", { name, error: (err as Error).message });
  }
}

/**
 * `reset`: deletes meshnet's nftables table and restores each sysctl meshnet changed (as recorded in `dir`)
 * when it still holds meshnet's value; another value means someone else set it since, and it stays.
 *
 * @returns whether a table was deleted, and the sysctls restored (as `name=value`), for the user
 * @throws {Error} when nft fails for another reason than a missing table
 */
export async function undoHostRouting(dir: DataDir): Promise<{ table: boolean; sysctls: string[] }> {
  const done: string[] = [];
  const table = await deleteTable();
  const record = dir.readJSON<Record>(FILE)?.sysctls ?? {};
  for (const s of [...FORWARDING_SYSCTLS, ...IPV6_FORWARDING_SYSCTLS]) {
    const before = record[s.key];
    if (before === undefined || readSysctl(undefined, s.key) !== s.value) continue;
    writeSysctl(undefined, s.key, before);
    done.push(`net.${s.key.replaceAll("/", ".")}=${before}`);
  }
  dir.remove(FILE);
  return { table, sysctls: done };
}
