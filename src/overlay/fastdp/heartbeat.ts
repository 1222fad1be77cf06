/**
 * Heartbeat frames of the fast datapath: raw Ethernet frames sent through the VXLAN device to one peer.
 *
 * The destination MAC is the receiver's peer name and the source MAC the sender's (peer names are unicast,
 * locally administered MACs), so the VXLAN forwarding entry of the receiver's name picks its host. A probe is
 * padded to the full overlay frame size and its ack is the same size, so one acknowledged probe proves both
 * directions at the configured MTU.
 *
 * Layout after the Ethernet header (EtherType {@link HEARTBEAT_ETHERTYPE}), big-endian:
 * magic u32 | kind u8 | from name 6 | to name 6 | sequence u32 | size u16 (the whole frame's length) | zeros.
 *
 * @module
 */
import {
  ETHERNET_HEADER_SIZE,
  HEARTBEAT_ETHERTYPE,
  HEARTBEAT_HEADER_SIZE,
  HEARTBEAT_MAGIC,
  HeartbeatKind,
} from "./constants.ts";
import { readMac48, writeMac48 } from "../sleeve/mac48.ts";

/** The smallest heartbeat frame, in bytes. */
export const MIN_HEARTBEAT_FRAME = ETHERNET_HEADER_SIZE + HEARTBEAT_HEADER_SIZE;

/** One decoded heartbeat; names are 48-bit numbers (see sleeve/mac48.ts). */
export interface Heartbeat {
  /** Probe or ack. */
  kind: HeartbeatKind;
  /** The sender's peer name. */
  from: number;
  /** The receiver's peer name. */
  to: number;
  /** The probe's sequence number, echoed by the ack. */
  sequence: number;
  /** The frame's length in bytes, as sent. */
  size: number;
}

/** A frame that is not a valid heartbeat. */
export class HeartbeatError extends Error {
  override name = "HeartbeatError";
}

/**
 * Writes a heartbeat of `h.size` bytes into `buf` (zero-padded).
 *
 * @returns the frame: a view of `buf`
 * @throws {RangeError} naming the size when it is below {@link MIN_HEARTBEAT_FRAME} or above `buf.length`
 *   or 65535
 */
export function encodeHeartbeat(h: Heartbeat, buf: Uint8Array): Uint8Array {
  if (!Number.isInteger(h.size) || h.size < MIN_HEARTBEAT_FRAME || h.size > Math.min(buf.length, 0xffff)) {
    throw new RangeError(
      `Invalid heartbeat size '${h.size}': use ${MIN_HEARTBEAT_FRAME} to ${
        Math.min(buf.length, 0xffff)
      } bytes`,
    );
  }
  const frame = buf.subarray(0, h.size);
  frame.fill(0);
  const v = new DataView(frame.buffer, frame.byteOffset, frame.length);
  writeMac48(frame, 0, h.to);
  writeMac48(frame, 6, h.from);
  v.setUint16(12, HEARTBEAT_ETHERTYPE);
  const p = ETHERNET_HEADER_SIZE;
  v.setUint32(p, HEARTBEAT_MAGIC);
  v.setUint8(p + 4, h.kind);
  writeMac48(frame, p + 5, h.from);
  writeMac48(frame, p + 11, h.to);
  v.setUint32(p + 17, h.sequence >>> 0);
  v.setUint16(p + 21, h.size);
  return frame;
}

/**
 * Decodes a received frame.
 *
 * @throws {HeartbeatError} saying what is wrong: too short, another EtherType or magic, an unknown kind, MAC
 *   addresses that disagree with the payload, or a length other than the one declared (a truncated frame)
 */
export function decodeHeartbeat(frame: Uint8Array): Heartbeat {
  if (frame.length < MIN_HEARTBEAT_FRAME) {
    throw new HeartbeatError(
      `Heartbeat too short: ${frame.length} bytes, expected at least ${MIN_HEARTBEAT_FRAME}`,
    );
  }
  const v = new DataView(frame.buffer, frame.byteOffset, frame.length);
  const type = v.getUint16(12);
  if (type !== HEARTBEAT_ETHERTYPE) {
    throw new HeartbeatError(`Not a heartbeat: EtherType 0x${type.toString(16)}`);
  }
  const p = ETHERNET_HEADER_SIZE;
  if (v.getUint32(p) !== HEARTBEAT_MAGIC) throw new HeartbeatError("Not a heartbeat: bad magic");
  const kind = v.getUint8(p + 4);
  if (kind !== HeartbeatKind.probe && kind !== HeartbeatKind.ack) {
    throw new HeartbeatError(`Unknown heartbeat kind ${kind}`);
  }
  const from = readMac48(frame, p + 5), to = readMac48(frame, p + 11);
  if (readMac48(frame, 0) !== to || readMac48(frame, 6) !== from) {
    throw new HeartbeatError("Heartbeat MAC addresses disagree with its payload");
  }
  const size = v.getUint16(p + 21);
  if (size !== frame.length) {
    throw new HeartbeatError(`Heartbeat of ${frame.length} bytes declares ${size}; it was cut or padded`);
  }
  return { kind, from, to, sequence: v.getUint32(p + 17), size };
}
