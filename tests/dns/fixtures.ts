/**
 * Known DNS packets for the DNS tests.
 *
 * @module
 */

/** Bytes from a hex string. */
export function hex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** `dig @127.0.0.1 x.weave.local A` (dig 9.18): id 0x1b6f, RD+AD, EDNS0 size 1232 with a client cookie. */
export const DIG_QUERY = hex(
  "1b6f012000010000000000010178057765617665056c6f63616c000001000100002904d000000000000c000a0008f487f87f184fa753",
);

/** `dig +noedns -x 10.32.0.1`: id 0x79af, RD+AD, PTR 1.0.32.10.in-addr.arpa., no EDNS. */
export const DIG_PTR_QUERY = hex(
  "79af012000010000000000000131013002333202313007696e2d61646472046172706100000c0001",
);
