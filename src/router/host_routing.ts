/**
 * The host's side of routing containers to the world, set up at start in the host's own namespace only:
 * the gateway address on the bridge and routes for the IPAM ranges (src/netdev/gateway.ts), forwarding and
 * bridged traffic through netfilter (sysctls; br_netfilter is loaded first when its settings are missing),
 * and meshnet's nftables table (src/netdev/nftables.ts).
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
  NFT_FAMILY,
  NFT_TABLE,
} from "../netdev/constants.ts";
import { ensureGateway, routeSubnets, unrouteSubnets } from "../netdev/gateway.ts";
import { applyTable, deleteTable } from "../netdev/nftables.ts";
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
  #table = false;
  #problems: string[] = [];

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
    this.#bridgeMac = ensureGateway(this.#nl, this.#o.bridge);
    this.#ranges = ranges;
    routeSubnets(this.#nl, this.#o.bridge, ranges);
    this.#problems = [];
    if (FORWARDING_SYSCTLS.some((s) => readSysctl(undefined, s.key) === undefined)) {
      await loadModule(BR_NETFILTER_MODULE);
    }
    for (const s of FORWARDING_SYSCTLS) {
      try {
        this.#set(s.key, s.value);
      } catch (err) {
        this.#problem((err as Error).message);
      }
    }
    try {
      await applyTable({
        bridge: this.#o.bridge,
        bridgeMac: this.#bridgeMac,
        masquerade: this.#o.masquerade,
      });
      this.#table = true;
    } catch (err) {
      this.#problem((err as Error).message);
    }
  }

  /** Routes the subnets of a container's new addresses into the bridge; returns the routes added. */
  routeAttached(cidrs: readonly string[]): string[] {
    return routeSubnets(this.#nl, this.#o.bridge, cidrs);
  }

  /** Deletes the subnet routes no IPAM range and none of `attached` (every container's addresses) needs. */
  unrouteUnused(attached: readonly string[]): string[] {
    return unrouteSubnets(this.#nl, this.#o.bridge, [...this.#ranges, ...attached]);
  }

  /** The routing state for the report and `meshnet status`. */
  report(): RoutingReport {
    const record = this.#dir.readJSON<Record>(FILE)?.sysctls ?? {};
    return {
      gateway: GATEWAY_ADDRESS,
      bridge: this.#o.bridge,
      masquerade: this.#o.masquerade && this.#table,
      table: this.#table ? `${NFT_FAMILY} ${NFT_TABLE}` : undefined,
      sysctls: FORWARDING_SYSCTLS.map((s) => ({
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
  for (const s of FORWARDING_SYSCTLS) {
    const before = record[s.key];
    if (before === undefined || readSysctl(undefined, s.key) !== s.value) continue;
    writeSysctl(undefined, s.key, before);
    done.push(`net.${s.key.replaceAll("/", ".")}=${before}`);
  }
  dir.remove(FILE);
  return { table, sysctls: done };
}
