/**
 * The envelope of the gossip tags: channel name, source peer, destination peer (unicast only) and
 * the channel's payload, in the length-prefixed form of {@link ByteWriter}:
 *
 * ```text
 * gossip, gossipBroadcast, gossipDigest:  str channel | str src | bytes payload
 * gossipUnicast:            str channel | str src | str dst | bytes payload
 * ```
 *
 * @module
 */

import type { PeerName } from "./gossip.ts";
import { ByteReader, ByteWriter } from "./byte_codec.ts";
import { Tag } from "./constants.ts";

/** The gossip tags, the only ones this envelope carries. */
export type GossipTag =
  | typeof Tag.gossip
  | typeof Tag.gossipUnicast
  | typeof Tag.gossipBroadcast
  | typeof Tag.gossipDigest;

/** A decoded gossip envelope. */
export interface GossipMessage {
  readonly channel: string;
  /** The peer that created the message (not the neighbour that relayed it). */
  readonly src: PeerName;
  /** The destination; present exactly for {@link Tag.gossipUnicast}. */
  readonly dst?: PeerName;
  readonly payload: Uint8Array;
}

/** Whether `tag` is one of the gossip tags. */
export function isGossipTag(tag: number): tag is GossipTag {
  return tag === Tag.gossip || tag === Tag.gossipUnicast || tag === Tag.gossipBroadcast ||
    tag === Tag.gossipDigest;
}

/**
 * Encodes `m` for `tag`.
 * @throws {Error} when a unicast message has no `dst`, or a name is longer than 65535 bytes
 */
export function encodeGossipMessage(tag: GossipTag, m: GossipMessage): Uint8Array {
  const w = new ByteWriter(m.payload.length + 64 + m.channel.length + m.src.length).str(m.channel).str(m.src);
  if (tag === Tag.gossipUnicast) {
    if (m.dst === undefined) {
      throw new Error(`Cannot encode unicast gossip on '${m.channel}': no destination`);
    }
    w.str(m.dst);
  }
  return w.bytes(m.payload).finish();
}

/**
 * Decodes a message of `tag`; the payload is a view into `bytes`.
 * @throws {Error} when `tag` is not a gossip tag, or `bytes` is truncated, has trailing bytes or empty names
 */
export function decodeGossipMessage(tag: number, bytes: Uint8Array): GossipMessage {
  if (!isGossipTag(tag)) {
    throw new Error(`Cannot decode gossip message with tag ${tag}: expected 4, 5, 6 or 8`);
  }
  const r = new ByteReader(bytes, "gossip message");
  const channel = r.str("channel");
  if (channel === "") r.fail("empty channel name");
  const src = r.str("source peer");
  if (src === "") r.fail(`empty source peer on channel '${channel}'`);
  let dst: PeerName | undefined;
  if (tag === Tag.gossipUnicast) {
    dst = r.str("destination peer");
    if (dst === "") r.fail(`empty destination peer on channel '${channel}'`);
  }
  const payload = r.bytes("payload");
  r.end();
  return dst === undefined ? { channel, src, payload } : { channel, src, dst, payload };
}
