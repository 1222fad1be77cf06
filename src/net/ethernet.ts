/**
 * Ethernet framing both data planes share (the sleeve's frames, fastdp's heartbeats).
 *
 * @module
 */

/** Bytes of an Ethernet header: destination MAC 6, source MAC 6, EtherType 2. */
export const ETHERNET_HEADER_SIZE = 14;
