/**
 * The text form of 48-bit MAC addresses, which peer names share ("ce:31:e0:06:45:1e"): the one pattern
 * every parser of MACs and peer names checks against.
 *
 * @module
 */

/** Six hex pairs separated by colons, either case: a MAC address as users and the kernel write it. */
export const MAC_TEXT = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** A peer name as the mesh writes it: {@link MAC_TEXT} in lower case, the canonical form. */
export const PEER_NAME = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
