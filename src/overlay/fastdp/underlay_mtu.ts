/**
 * The overlay MTU derived from the underlay: the smallest MTU of the host's links that carry a global
 * address (the underlay), less {@link VXLAN_OVERHEAD}, so a VXLAN packet of a full overlay frame always fits
 * and nothing is dropped for size. The bridge, its ports and the overlay's own devices are not underlay.
 *
 * @module
 */
import type { Addr } from "../../../ffi/netlink/addr.ts";
import { addrList } from "../../../ffi/netlink/addr.ts";
import type { Link } from "../../../ffi/netlink/link.ts";
import { linkList } from "../../../ffi/netlink/link.ts";
import type { NetlinkSocket } from "../../../ffi/netlink/socket.ts";
import { VXLAN_OVERHEAD } from "./constants.ts";

const OVERLAY_KINDS = new Set(["bridge", "vxlan", "tun"]);

/**
 * The underlay MTU among `links` with global `addrs`, or undefined when no link qualifies.
 *
 * @param bridge the overlay bridge's name (it and its ports are skipped)
 */
export function underlayMtuOf(
  links: readonly Link[],
  addrs: readonly Addr[],
  bridge: string,
): number | undefined {
  const bridgeIndex = links.find((l) => l.name === bridge)?.index;
  const addressed = new Set(addrs.filter((a) => a.scope === "global").map((a) => a.index));
  const mtus = links
    .filter((l) =>
      l.up && addressed.has(l.index) && !OVERLAY_KINDS.has(l.kind ?? "") &&
      (bridgeIndex === undefined || l.master !== bridgeIndex)
    )
    .map((l) => l.mtu);
  return mtus.length === 0 ? undefined : Math.min(...mtus);
}

/**
 * The overlay MTU for fastdp on this host: the underlay MTU less {@link VXLAN_OVERHEAD}.
 *
 * @returns undefined when no underlay link is found (the caller keeps its default)
 */
export function overlayMtuFromUnderlay(nl: NetlinkSocket, bridge: string): number | undefined {
  const mtu = underlayMtuOf(linkList(nl), addrList(nl), bridge);
  return mtu === undefined ? undefined : mtu - VXLAN_OVERHEAD;
}
