/**
 * meshnet's nftables table in the host's namespace (`inet meshnet`), rendered from a few settings and
 * replaced whole in one `nft -f` transaction, so rules are never half applied:
 * - forward: a packet the host routes from the bridge back into the bridge (it arrived addressed to the
 *   bridge's own MAC, the gateway) is dropped unless a Service's DNAT sent it there, so containers of two
 *   application subnets never reach each other through the host. Bridged frames (passing netfilter through
 *   br_netfilter) carry another container's MAC and are left alone.
 * - postrouting (unless masquerade is off): traffic that came in on the bridge and leaves through another
 *   interface is masqueraded, so containers of any subnet reach the world.
 * The accept policy keeps every other table's rules in force; `reset` deletes the table.
 *
 * @module
 */
import { NETLINK_NETFILTER } from "../../ffi/netlink/constants.ts";
import { nftTableExists } from "../../ffi/netlink/nft_table.ts";
import { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { NFT_FAMILY, NFT_TABLE } from "./constants.ts";

/** What {@link renderTable} needs. */
export interface NftSettings {
  /** The bridge's name. */
  bridge: string;
  /** The bridge's MAC: frames addressed to it are routed by the host. */
  bridgeMac: string;
  /** Masquerade traffic from the bridge leaving by another interface. */
  masquerade: boolean;
}

/**
 * The `nft -f` script that (re)creates the table.
 *
 * @example
 * ```ts
 * renderTable({ bridge: "weave", bridgeMac: "02:00:00:00:00:01", masquerade: true });
 * // table inet meshnet … iifname "weave" oifname != "weave" masquerade …
 * ```
 */
export function renderTable(s: NftSettings): string {
  const br = JSON.stringify(s.bridge);
  return [
    `table ${NFT_FAMILY} ${NFT_TABLE}`,
    `delete table ${NFT_FAMILY} ${NFT_TABLE}`,
    `table ${NFT_FAMILY} ${NFT_TABLE} {`,
    `  chain forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    `    iifname ${br} oifname ${br} ether daddr ${s.bridgeMac} ct status != dnat drop`,
    `  }`,
    ...(s.masquerade
      ? [
        `  chain postrouting {`,
        `    type nat hook postrouting priority srcnat; policy accept;`,
        `    iifname ${br} oifname != ${br} masquerade`,
        `  }`,
      ]
      : []),
    `}`,
    ``,
  ].join("\n");
}

async function nft(script: string, what: string): Promise<void> {
  let child;
  try {
    child = new Deno.Command("nft", { args: ["-f", "-"], stdin: "piped", stdout: "null", stderr: "piped" })
      .spawn();
  } catch (err) {
    throw new Error(`Cannot ${what}: cannot run nft (${(err as Error).message}); install nftables`);
  }
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(script));
  await w.close();
  const r = await child.output();
  if (!r.success) {
    throw new Error(`Cannot ${what}: nft says ${new TextDecoder().decode(r.stderr).trim()}`);
  }
}

/**
 * Replaces meshnet's table with the one `s` describes, in the caller's namespace.
 *
 * @throws {Error} `Cannot set up meshnet's nftables table: nft says …` or when nft is missing
 */
export function applyTable(s: NftSettings): Promise<void> {
  return nft(renderTable(s), "set up meshnet's nftables table");
}

/**
 * Whether meshnet's table exists in the caller's namespace: one nfnetlink request, no `nft` process.
 *
 * @throws {SyscallError} when the netlink socket cannot be opened or the kernel fails the request
 */
export function tableExists(): boolean {
  const nl = NetlinkSocket.open({ protocol: NETLINK_NETFILTER });
  try {
    return nftTableExists(nl, NFT_FAMILY, NFT_TABLE);
  } finally {
    nl.close();
  }
}

/**
 * Deletes meshnet's table when it exists, in the caller's namespace.
 *
 * @returns whether there was a table to delete
 * @throws {Error} when nft fails for another reason than a missing table
 */
export async function deleteTable(): Promise<boolean> {
  let exists;
  try {
    exists = tableExists();
  } catch {
    return false; // no nf_tables here, so no table either
  }
  if (!exists) return false;
  await nft(`delete table ${NFT_FAMILY} ${NFT_TABLE}\n`, "delete meshnet's nftables table");
  return true;
}
