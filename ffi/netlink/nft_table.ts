/**
 * nf_tables over nfnetlink, as far as meshnet needs it without running `nft`: whether a table exists. One
 * request and its acknowledgement on a NETLINK_NETFILTER socket, where `nft list table` costs a process
 * (about 15 ms of CPU here), so a router can look every few seconds.
 *
 * @module
 */
import {
  NFGENMSG_LEN,
  NFNL_SUBSYS_NFTABLES,
  NFPROTO,
  NFT_MSG_GETTABLE,
  NFTA_TABLE_NAME,
} from "./constants.ts";
import { NetlinkError, type NetlinkSocket } from "./socket.ts";

/** An nftables family as `nft` names it. */
export type NftFamily = keyof typeof NFPROTO;

/**
 * Whether table `name` of `family` exists. Equivalent: `nft list table FAMILY NAME` succeeding.
 *
 * @param nl a socket opened with `protocol: NETLINK_NETFILTER`, in the namespace to look in
 * @throws {NetlinkError} when the kernel refuses the request for another reason than a missing table
 */
export function nftTableExists(nl: NetlinkSocket, family: NftFamily, name: string): boolean {
  const w = nl.message((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE);
  const at = w.struct(NFGENMSG_LEN);
  w.view.setUint8(at, NFPROTO[family]);
  w.str(NFTA_TABLE_NAME, name);
  try {
    nl.ack(`Cannot look up nftables table '${family} ${name}'`);
    return true;
  } catch (err) {
    if (err instanceof NetlinkError && err.code === "ENOENT") return false; // no such table or family
    throw err;
  }
}
