/**
 * Addresses on the underlay LAN: host i (1-based) has the i-th address of {@link UNDERLAY_CIDR}.
 *
 * @module
 */
import { bigIntToIP, formatIP, networkOf, parseCIDR } from "../../base/ip.ts";
import { UNDERLAY_CIDR } from "./constants.ts";

const underlay = parseCIDR(UNDERLAY_CIDR);

/** The prefix length of every host's underlay address (that of {@link UNDERLAY_CIDR}). */
export const UNDERLAY_PREFIX_LENGTH = underlay.prefix;

/**
 * The underlay address of host `host` (1-based), without prefix length.
 *
 * @example
 * ```ts
 * hostAddress(3); // "198.18.0.3"
 * ```
 */
export function hostAddress(host: number): string {
  return formatIP(bigIntToIP(networkOf(underlay) + BigInt(host), 4));
}

/**
 * The MAC address of host `host`'s underlay interface (1-based): locally administered, fixed, so every
 * host can be given the others' as permanent neighbours.
 *
 * @example
 * ```ts
 * hostMac(3); // "02:6c:61:62:00:03"
 * ```
 */
export function hostMac(host: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, "0");
  return `02:6c:61:62:${hex(host >> 8 & 0xff)}:${hex(host & 0xff)}`;
}
