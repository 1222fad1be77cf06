/**
 * `meshnet expose` / `hide`: the host itself gets an address on the bridge, so it reaches the containers
 * (the reference's `weave:expose`). The address comes from IPAM (or is claimed there when given).
 *
 * @module
 */
import { NotFoundError, UsageError } from "../../base/errors.ts";
import { addrAdd, addrDel, addrList } from "../../ffi/netlink/addr.ts";
import type { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { formatCIDR, parseCIDR } from "../../base/ip.ts";
import { GATEWAY_ADDRESS } from "../netdev/constants.ts";
import { EXPOSE_ID, type IpamService } from "./ipam_service.ts";

/** The host's addresses on `bridge`, as CIDR (global scope), leaving out the gateway (host_routing.ts). */
export function exposed(nl: NetlinkSocket, bridge: string): string[] {
  return addrList(nl, { link: bridge }).filter((a) => a.scope === "global" && a.address !== GATEWAY_ADDRESS)
    .map((a) => formatCIDR(parseCIDR(`${a.address}/${a.prefix}`)));
}

/**
 * Gives the host the addresses `cidrs` on the bridge (claimed in IPAM), or one allocated address when none
 * are given; addresses already there are kept.
 *
 * @returns every exposed address
 * @throws {Error} when IPAM cannot give an address or the kernel refuses
 */
export async function expose(
  nl: NetlinkSocket,
  ipam: IpamService,
  bridge: string,
  cidrs: string[],
): Promise<string[]> {
  checkCidrs("expose", cidrs);
  const wanted = cidrs.length
    ? (await Promise.all(cidrs.map((c) => ipam.manages(c) ? ipam.claim(EXPOSE_ID, c) : [c]))).flat()
    : await ipam.allocate(EXPOSE_ID);
  const have = exposed(nl, bridge);
  for (const c of wanted) if (!have.includes(c)) addrAdd(nl, bridge, c);
  return exposed(nl, bridge);
}

/**
 * Removes the host's addresses from the bridge (only `cidrs` when given) and releases them in IPAM.
 *
 * @returns the addresses removed
 * @throws {UsageError} for a malformed CIDR
 * @throws {NotFoundError} naming a given CIDR that is not exposed, and what is; nothing is removed then
 */
export function hide(nl: NetlinkSocket, ipam: IpamService, bridge: string, cidrs: string[]): string[] {
  checkCidrs("hide", cidrs);
  const have = exposed(nl, bridge);
  const named = cidrs.map((c) => formatCIDR(parseCIDR(c)));
  const missing = named.find((c) => !have.includes(c));
  if (missing !== undefined) {
    throw new NotFoundError(
      `Cannot hide ${missing}: it is not exposed on ${bridge}; exposed: ${have.join(" ") || "none"}`,
    );
  }
  const gone = cidrs.length ? have.filter((c) => named.includes(c)) : have;
  for (const c of gone) {
    addrDel(nl, bridge, c);
    ipam.release(EXPOSE_ID, c);
  }
  return gone;
}

/**
 * Checks that every one of `cidrs` is a CIDR.
 *
 * @throws {UsageError} naming the verb and the bad value
 */
function checkCidrs(verb: string, cidrs: string[]): void {
  for (const c of cidrs) {
    try {
      parseCIDR(c);
    } catch (err) {
      throw new UsageError(`Cannot ${verb} ${c}: ${(err as Error).message}`);
    }
  }
}
