/**
 * The packet connection: the sleeve's UDP socket (wireguard-go's `conn.Bind`). The FFI socket is in udp.ts
 * ({@link openUdp}); testing/memory_packet_conn.ts has an in-memory network for tests of pure cores.
 *
 * Like the frame device, sends and receives are synchronous and never block: a receiver loops
 * `await conn.readable(); n = conn.receive(bufs, sizes, sources)`.
 *
 * @module
 */
import { type Family, formatIP, parseIP } from "../base/ip.ts";

/** A UDP address and port. Compare endpoints by {@link Endpoint.key}, not by identity. */
export interface Endpoint {
  /** 4 or 6. */
  readonly family: Family;
  /** The address in canonical text (dotted quad, or RFC 5952 IPv6). */
  readonly address: string;
  /** The UDP port, 0–65535. */
  readonly port: number;
  /** `address:port`, or `[address]:port` for IPv6: unique per endpoint, usable as a Map key. */
  readonly key: string;
}

/**
 * Makes an endpoint from an address and a port, canonicalising the address text.
 *
 * @throws {Error} `Invalid IP address 'x': …` from {@link parseIP}
 * @throws {RangeError} when the port is not an integer from 0 to 65535, naming it
 *
 * @example
 * ```ts
 * endpoint("fd00:0::1", 6783).key; // "[fd00::1]:6783"
 * ```
 */
export function endpoint(address: string, port: number): Endpoint {
  return endpointFromBytes(parseIP(address), checkPort(port, address));
}

/** Makes an endpoint from 4 or 16 address bytes (copied) and a port already known to be valid. */
export function endpointFromBytes(bytes: Uint8Array, port: number): Endpoint {
  const address = formatIP(bytes);
  const family: Family = bytes.length === 4 ? 4 : 6;
  return { family, address, port, key: family === 4 ? `${address}:${port}` : `[${address}]:${port}` };
}

/**
 * Returns `port` when it is a valid UDP port.
 *
 * @param port the value to check
 * @param address the address it goes with, for the error
 * @throws {RangeError} `Invalid UDP port '70000' for 198.18.0.1: use 0 to 65535`
 */
export function checkPort(port: number, address: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Invalid UDP port '${port}' for ${address}: use 0 to 65535`);
  }
  return port;
}

/** A bound UDP socket that sends and receives batches of datagrams. */
export interface PacketConn {
  /** The bound address and the actual port (the kernel's pick when bound to port 0). */
  readonly local: Endpoint;

  /** The most datagrams one {@link receive} returns; a hint for sizing buffers, fixed for the conn's life. */
  readonly batchSize: number;

  /**
   * Sends each of `packets` as one datagram to `to`, without blocking.
   *
   * @param fragmentable true lets the kernel fragment these datagrams on the way even on a socket opened
   *   with Don't Fragment (large offloaded datagrams); default false
   * @returns how many were sent, in order; fewer than `packets.length` when the send buffer is full
   * @throws {Deno.errors.BadResource} after {@link close}
   * @throws {SyscallError} naming the destination when the kernel refuses (no route, too big, wrong family)
   */
  send(packets: Uint8Array[], to: Endpoint, fragmentable?: boolean): number;

  /**
   * Receives up to `bufs.length` queued datagrams without blocking: datagram i goes into `bufs[i]`, its length
   * into `sizes[i]` and its sender into `sources[i]`. A datagram longer than its buffer is truncated.
   *
   * @returns the number received; 0 when none is queued
   * @throws {Deno.errors.BadResource} after {@link close}
   */
  receive(bufs: Uint8Array[], sizes: number[], sources: Endpoint[]): number;

  /**
   * The fd behind {@link readable}, for a short wait on the caller's own thread (fd_poller.ts's `BlockingPoll`);
   * −1 after {@link close}. Absent where there is no fd (the in-memory doubles): callers then use {@link readable}.
   */
  readonly pollFd?: number;

  /**
   * Resolves when {@link receive} will find a datagram, or after `timeoutMs`. One wait at a time.
   *
   * @param timeoutMs milliseconds to wait at most; negative or omitted waits without limit
   * @returns true when datagrams are queued; false on timeout, on a spurious wakeup, or when closed while waiting
   * @throws {Deno.errors.BadResource} when already closed
   * @throws {Deno.errors.Busy} when another wait is pending
   */
  readable(timeoutMs?: number): Promise<boolean>;

  /** Releases the socket; a pending {@link readable} resolves false and every later call throws BadResource. Idempotent. */
  close(): void;

  /**
   * Optional, where the kernel batches: sends `data[0, length)` to `to` as datagrams of `segmentSize` bytes
   * (the last may be shorter) in one call (UDP GSO).
   *
   * @returns false when the send buffer is full (nothing sent)
   * @throws {SyscallError} when refused (EMSGSIZE above the path MTU; EINVAL, EIO or EOPNOTSUPP where the kernel
   *   or device cannot segment: use {@link sendBatch} or {@link send})
   */
  sendSegments?(data: Uint8Array, length: number, segmentSize: number, to: Endpoint): boolean;

  /** Optional: {@link send} of many datagrams in one call (sendmmsg); same result and errors. */
  sendBatch?(packets: Uint8Array[], to: Endpoint): number;

  /**
   * Optional: {@link receive} in one call (recvmmsg). On a socket that coalesces (UDP GRO) a buffer may hold
   * several datagrams of one sender back to back: `segmentSizes[i]` says how long each is (the last may be
   * shorter); otherwise it equals `sizes[i]`.
   */
  receiveBatch?(bufs: Uint8Array[], sizes: number[], sources: Endpoint[], segmentSizes?: number[]): number;
}
