/**
 * 48-bit names as numbers: MAC addresses and peer names ("ce:31:e0:06:45:1e") both fit a JavaScript number
 * exactly, so the hot path keys its maps by number and never builds a string per frame.
 *
 * @module
 */

import { MAC_TEXT as PATTERN } from "../../../base/mac.ts";

/**
 * Parses a MAC-style name into its 48-bit value.
 *
 * @param text six hex pairs separated by colons, e.g. `ce:31:e0:06:45:1e`
 * @param what what the name is, for the error (e.g. `peer name`)
 * @throws {Error} `Invalid peer name 'x': use six hex pairs such as ce:31:e0:06:45:1e`
 * @example
 * ```ts
 * parseMac48("00:00:00:00:01:00", "MAC"); // 256
 * ```
 */
export function parseMac48(text: string, what: string): number {
  if (!PATTERN.test(text)) {
    throw new Error(`Invalid ${what} '${text}': use six hex pairs such as ce:31:e0:06:45:1e`);
  }
  return parseInt(text.replaceAll(":", ""), 16);
}

/** Formats a 48-bit value as lower-case colon-separated hex, e.g. 256 → `00:00:00:00:01:00`. */
export function formatMac48(value: number): string {
  const hex = value.toString(16).padStart(12, "0");
  return hex.replace(/(..)(?!$)/g, "$1:");
}

/** Reads 6 big-endian bytes at `offset` (the caller checked the bounds). */
export function readMac48(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] * 0x100 + bytes[offset + 1]) * 0x1_0000_0000 +
    ((bytes[offset + 2] << 24) >>> 0) + (bytes[offset + 3] << 16) + (bytes[offset + 4] << 8) +
    bytes[offset + 5];
}

/** Writes `value` as 6 big-endian bytes at `offset` (the caller checked the bounds). */
export function writeMac48(bytes: Uint8Array, offset: number, value: number): void {
  const high = Math.floor(value / 0x1_0000_0000), low = value >>> 0;
  bytes[offset] = high >>> 8;
  bytes[offset + 1] = high;
  bytes[offset + 2] = low >>> 24;
  bytes[offset + 3] = low >>> 16;
  bytes[offset + 4] = low >>> 8;
  bytes[offset + 5] = low;
}

/** True when the MAC is a group (broadcast or multicast) address: bit 0 of its first byte. */
export function isGroupMac(value: number): boolean {
  return Math.floor(value / 0x100_0000_0000) % 2 === 1;
}
