/**
 * Names and hardware addresses derived from a container id, so the same container always gets the same
 * host veth and MAC (also after a router restart) without any record kept outside the kernel.
 *
 * @module
 */
import { HOST_VETH_HASH_CHARS, HOST_VETH_PREFIX } from "./constants.ts";

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** FNV-1a, 64 bits, over the UTF-8 bytes of `s`. */
function fnv1a64(s: string): bigint {
  let h = FNV_OFFSET;
  for (const b of new TextEncoder().encode(s)) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

/**
 * The host end's name of a container's veth: `vethwe` plus 9 hex digits of a hash of the id, always 15
 * bytes (the kernel's limit). Two ids share a name with probability 2^-36; attach then fails with EEXIST
 * instead of touching the other container's link.
 *
 * @example
 * ```ts
 * hostVethName("c1"); // "vethwe" + 9 hex digits, e.g. "vethwe3f0a9c1d2"
 * ```
 */
export function hostVethName(containerId: string): string {
  const hex = fnv1a64(containerId).toString(16).padStart(16, "0");
  return HOST_VETH_PREFIX + hex.slice(0, HOST_VETH_HASH_CHARS);
}

/**
 * A stable, locally administered unicast MAC for a container's interface, from a hash of the container
 * id and `seed`. The router passes its peer name as the seed, so equal container ids on different hosts
 * (e.g. netns `c1` on two hosts) get different MACs on the shared overlay.
 *
 * @example
 * ```ts
 * containerMac("c1", "ce:31:00:00:00:01"); // e.g. "7a:1c:…", first octet has bit 1 set, bit 0 clear
 * ```
 */
export function containerMac(containerId: string, seed = ""): string {
  const h = fnv1a64(`${seed}\0${containerId}`);
  const bytes = Array.from({ length: 6 }, (_, i) => Number((h >> BigInt(8 * (5 - i))) & 0xffn));
  bytes[0] = (bytes[0] & 0xfe) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}
