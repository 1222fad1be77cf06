/**
 * The sleeve's counters: traffic in and out, and every dropped frame or datagram by reason, so `status` and
 * `/metrics` can say why traffic does not flow.
 *
 * @module
 */

/** Why a frame or datagram was dropped. */
export type DropReason =
  /** A datagram or frame that does not decode (bad header, unknown kind, wrong length, runt frame). */
  | "decode"
  /** A datagram from a peer the control plane has not set. */
  | "unknownPeer"
  /** A sealed datagram whose sequence number was seen already or is older than the window. */
  | "replay"
  /** A sealed datagram that does not authenticate, a plain one on a keyed link, or a sealed one on a plain link. */
  | "auth"
  /** No route (or no endpoint) for the destination or next hop. */
  | "noRoute"
  /** A frame too big for the hop's datagrams (an ICMP "fragmentation needed" went back for IPv4 DF frames). */
  | "tooBig"
  /** A frame from a peer whose source MAC is one of ours (a loop or a duplicate MAC). */
  | "ownMac"
  /** A frame from the bridge addressed to a MAC that is local (the bridge flooded it to us too). */
  | "localDestination"
  /** A frame to the STP bridge group address, or with a group source MAC. */
  | "invalidMac"
  /** A link record (heartbeat, probe, ack) not addressed from the sender to us, or our own frame returning. */
  | "misaddressed"
  /** A flood whose origin and sequence were seen already (a copy by another path), or older than the window. */
  | "duplicateFlood"
  /** A frame whose hop limit ran out before it reached its destination (a routing loop). */
  | "hopLimit"
  /** The device queue was full. */
  | "deviceFull"
  /** The socket refused or could not queue a datagram. */
  | "sendFailed"
  /** An offloaded frame (super-frame or partial checksum) from a peer for a device without offloads. */
  | "offload";

/** Every {@link DropReason}, for iteration and zeroed counters. */
export const DROP_REASONS: readonly DropReason[] = [
  "decode",
  "unknownPeer",
  "replay",
  "auth",
  "noRoute",
  "tooBig",
  "ownMac",
  "localDestination",
  "invalidMac",
  "misaddressed",
  "duplicateFlood",
  "hopLimit",
  "deviceFull",
  "sendFailed",
  "offload",
];

/** Traffic counters of one engine since it started. */
export interface Counters {
  /** Frames read from the local device. */
  framesFromDevice: number;
  /** Bytes of those frames. */
  bytesFromDevice: number;
  /** Frames written to the local device. */
  framesToDevice: number;
  /** Bytes of those frames. */
  bytesToDevice: number;
  /** Frames relayed from one peer to another. */
  framesRelayed: number;
  /** TCP super-frames (from the device or a peer's offloaded record) cut into path-sized segments. */
  superFramesCut: number;
  /** Super-frames written to the device that were coalesced from several received segments. */
  superFramesCoalesced: number;
  /** UDP GSO sends (one system call for several datagrams of one link). */
  gsoSends: number;
  /** UDP datagrams sent. */
  datagramsSent: number;
  /** UDP payload bytes sent. */
  bytesSent: number;
  /** UDP datagrams received (including dropped ones). */
  datagramsReceived: number;
  /** UDP payload bytes received. */
  bytesReceived: number;
  /** Drops by reason. */
  drops: Record<DropReason, number>;
}

/** Zeroed counters. */
export function newCounters(): Counters {
  return {
    framesFromDevice: 0,
    bytesFromDevice: 0,
    framesToDevice: 0,
    bytesToDevice: 0,
    framesRelayed: 0,
    superFramesCut: 0,
    superFramesCoalesced: 0,
    gsoSends: 0,
    datagramsSent: 0,
    bytesSent: 0,
    datagramsReceived: 0,
    bytesReceived: 0,
    drops: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
  };
}
