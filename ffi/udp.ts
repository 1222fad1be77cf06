/**
 * A UDP socket through FFI, IPv4 or IPv6: the sleeve's {@link PacketConn}. FFI sockets receive ≥3.4× faster than
 * `Deno.listenDatagram` (limits.md §4a), so the data plane uses these.
 *
 * Flow: `readable()` is one `poll(2)` on the thread pool per wakeup; `receive()` then drains the O_NONBLOCK socket
 * with synchronous `recvfrom(2)` until EAGAIN or the batch is full; `send()` is one synchronous `sendto(2)` per
 * datagram. All on the caller's thread, into caller buffers; sender endpoints are interned, so a steady stream
 * from one peer allocates nothing per datagram.
 *
 * Why not recvmmsg (measured 2026-11-22, /tmp harness not kept): a python sendto loop blasts 1400-byte datagrams
 * at 127.0.0.1 for 4 s; one Deno receiver polls once per wakeup, then drains either with recvfrom or with a
 * 32-slot recvmmsg (MSG_DONTWAIT); CPU time per datagram received from process.cpuUsage().
 * - Quieter machine: recvfrom 380 k and 435 k pps at 1.65 and 1.74 µs/datagram (0.9 datagrams per call).
 *   Two alternating pairs later: recvmmsg 285 k pps at 2.47 µs vs recvfrom 228 k at 3.74 µs, then recvmmsg
 *   67 k at 5.8 µs vs recvfrom 191 k at 4.2 µs.
 * - Loaded 2-core machine (load 3–5, five alternating pairs): median recvmmsg 7.1 µs/datagram (5.2–8.8),
 *   median recvfrom 7.0 µs (6.0–8.8); pps within noise of each other.
 * recvmmsg returned only 0.7–2.9 datagrams per call: a receiver that keeps up finds one or two queued per
 * wakeup, so there is little to batch, and the kernel's per-datagram work dominates a cheap Deno FFI call.
 * recvmmsg also needs raw pointers to JavaScript buffers stored in the mmsghdr array; one harness saw
 * EFAULT/EINVAL from it after warm-up (not root-caused; a second harness with the same layout worked).
 * No consistent gain plus that risk: recvfrom stays for {@link UdpConn.receive}.
 *
 * Batching for the sleeve's segmented super-frames (bench/udp_batch.ts, 2026-12-04, veth, bursts of 40 ×
 * 1400 bytes, CPU per datagram vs sendto + recvfrom in the same run, two runs at load 25 and 42): UDP GSO
 * send + UDP GRO receive cost 0.09× and 0.08×, GSO + recvmmsg 0.31× and 0.28×, sendmmsg + recvmmsg 0.68× and
 * 0.60×. So {@link UdpConn.sendSegments}
 * (sendmsg + UDP_SEGMENT) and {@link UdpConn.receiveBatch} (recvmmsg, with UDP_GRO segment sizes) are here too;
 * {@link UdpConn.sendBatch} (sendmmsg) is the fallback where GSO is refused. Their message vectors live in one
 * `ArrayBuffer` allocated by ffi/msghdr.ts (a small typed array may sit on the moving JavaScript heap, a
 * likely cause of the EFAULT above), and sockaddrs have their own `ArrayBuffer` for the same reason.
 *
 * @module
 */
import { check, EAGAIN, errno, libc, SOCK_CLOEXEC, SOCK_NONBLOCK, SOL_SOCKET, SyscallError } from "./libc.ts";
import { FdPoller } from "./fd_poller.ts";
import { withNetns } from "./netns.ts";
import { parseIP } from "../base/ip.ts";
import { checkPort, type Endpoint, endpoint, endpointFromBytes, type PacketConn } from "./packet_conn.ts";
import { cmsgSpace, MessageSlots } from "./msghdr.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const IPPROTO_IP = 0;
const IP_MTU_DISCOVER = 10;
const IPV6_MTU_DISCOVER = 23;
/** IP_PMTUDISC_DO and IPV6_PMTUDISC_DO: set DF, never fragment locally, EMSGSIZE above the path MTU. */
const PMTUDISC_DO = 2;
/** IP_PMTUDISC_DONT and IPV6_PMTUDISC_DONT: no DF, fragment locally when larger than the interface MTU. */
const PMTUDISC_DONT = 0;
const ENOBUFS = 105;
const SOL_UDP = 17;
/** setsockopt/cmsg UDP_SEGMENT: the segment size (u16) of a GSO send. */
const UDP_SEGMENT = 103;
/** setsockopt/cmsg UDP_GRO: coalesce received datagrams; the cmsg carries the segment size (int). */
const UDP_GRO = 104;
const MSG_TRUNC = 0x20;
const SOCKADDR_IN_SIZE = 16;
const SOCKADDR_IN6_SIZE = 28;
/** Interned sender endpoints kept per socket before the table is cleared (bounds memory under spoofed sources). */
const MAX_INTERNED = 4096;

/** Options for {@link openUdp}. */
export interface UdpOptions {
  /** Open the socket inside this network namespace (a name in /run/netns, a path or a PID). */
  netns?: string | number;
  /** SO_RCVBUF in bytes (the kernel caps it at net.core.rmem_max). Default 4 MiB. */
  receiveBuffer?: number;
  /** SO_SNDBUF in bytes (capped at net.core.wmem_max). Default 4 MiB. */
  sendBuffer?: number;
  /** The most datagrams one receive returns. Default 64. */
  batchSize?: number;
  /**
   * Set Don't Fragment and never fragment locally (IP_MTU_DISCOVER / IPV6_MTU_DISCOVER = PMTUDISC_DO): a send
   * larger than the known path MTU fails with EMSGSIZE, so the caller can discover the path MTU. Default false.
   */
  dontFragment?: boolean;
  /**
   * Let the kernel coalesce received datagrams of one sender (UDP_GRO): read them with
   * {@link UdpConn.receiveBatch} into 64 KiB buffers, which reports each datagram's segment size. Default false.
   */
  gro?: boolean;
}

/**
 * The most datagrams one UDP GSO send may carry (UDP_MAX_SEGMENTS of kernels before 6.3; later ones take 128).
 */
export const GSO_MAX_SEGMENTS = 64;

/** A bound UDP socket opened by {@link openUdp}. An IPv6 socket is IPv6-only (IPV6_V6ONLY). */
export class UdpConn implements PacketConn {
  readonly local: Endpoint;
  readonly batchSize: number;
  readonly #poller: FdPoller;
  readonly #name = new Uint8Array(SOCKADDR_IN6_SIZE);
  readonly #nameView = new DataView(this.#name.buffer);
  readonly #nameLen = new Uint8Array(4);
  readonly #nameLenView = new DataView(this.#nameLen.buffer);
  readonly #sockaddrs = new WeakMap<Endpoint, Uint8Array>();
  readonly #interned = new Map<string | number, Endpoint>();
  readonly #dontFragment: boolean;
  /** True while Don't Fragment is switched off for fragmentable sends. */
  #fragmenting = false;
  /** The send vector (see {@link #sendVector}) and slot 0's control bytes, holding a UDP_SEGMENT message. */
  #sendSlots?: MessageSlots;
  #segmentControl?: DataView;
  #receiveSlots?: MessageSlots;

  /** Use {@link openUdp}. */
  constructor(fd: number, local: Endpoint, batchSize: number, dontFragment = false) {
    this.local = local;
    this.batchSize = batchSize;
    this.#dontFragment = dontFragment;
    this.#poller = new FdPoller(fd, `UDP socket ${local.key}`);
  }

  /**
   * One sendto(2) per datagram; see {@link PacketConn.send}. On a Don't Fragment socket a `fragmentable` send
   * switches the socket to PMTUDISC_DONT until the next send that is not (one setsockopt per switch).
   */
  send(packets: Uint8Array[], to: Endpoint, fragmentable = false): number {
    const sa = this.#destination(to);
    const fd = this.#poller.fd, c = libc();
    if (this.#dontFragment && fragmentable !== this.#fragmenting) {
      setPmtuDiscovery(fd, this.local, fragmentable ? PMTUDISC_DONT : PMTUDISC_DO);
      this.#fragmenting = fragmentable;
    }
    for (let i = 0; i < packets.length; i++) {
      if (c.sendto(fd, packets[i], BigInt(packets[i].length), 0, sa, sa.length) >= 0n) continue;
      const code = errno();
      if (code === EAGAIN || code === ENOBUFS) return i;
      throw new SyscallError(
        `Cannot send ${packets[i].length} bytes to ${to.key} from ${this.local.key}`,
        code,
      );
    }
    return packets.length;
  }

  /**
   * Sends `packets` to `to` with sendmmsg(2), up to {@link batchSize} per call.
   *
   * @returns how many were sent: fewer than `packets.length` when the socket buffer is full
   * @throws {SyscallError} for any other failure, e.g. EMSGSIZE above the path MTU on a Don't Fragment socket
   */
  sendBatch(packets: Uint8Array[], to: Endpoint): number {
    const sa = this.#destination(to), fd = this.#poller.fd;
    const slots = this.#sendVector();
    let sent = 0;
    while (sent < packets.length) {
      const n = Math.min(slots.capacity, packets.length - sent);
      for (let i = 0; i < n; i++) {
        slots.setData(i, packets[sent + i], packets[sent + i].length);
        slots.setName(i, sa);
        slots.setControl(i, 0);
      }
      const r = libc().sendmmsg(fd, slots.vector, n, 0);
      if (r < 0) {
        const code = errno();
        if (code === EAGAIN || code === ENOBUFS) return sent;
        throw new SyscallError(`Cannot send ${n} datagrams to ${to.key} from ${this.local.key}`, code);
      }
      sent += r;
    }
    return sent;
  }

  /**
   * Sends `packets[i]` to `tos[i]` for i below `count` with sendmmsg(2), up to {@link batchSize} per call: the
   * many-destinations twin of {@link sendBatch}, for a server replying to many clients at once.
   *
   * @returns how many were sent: fewer than `count` when the socket buffer is full
   * @throws {SyscallError} for any other failure, naming the first destination of the failed call
   */
  sendEach(packets: readonly Uint8Array[], tos: readonly Endpoint[], count: number): number {
    this.#poller.assertOpen();
    const slots = this.#sendVector();
    let sent = 0;
    while (sent < count) {
      const n = Math.min(slots.capacity, count - sent);
      for (let i = 0; i < n; i++) {
        slots.setData(i, packets[sent + i], packets[sent + i].length);
        slots.setName(i, this.#destination(tos[sent + i]));
        slots.setControl(i, 0);
      }
      const r = libc().sendmmsg(this.#poller.fd, slots.vector, n, 0);
      if (r < 0) {
        const code = errno();
        if (code === EAGAIN || code === ENOBUFS) return sent;
        throw new SyscallError(
          `Cannot send ${n} datagrams to ${tos[sent].key} and others from ${this.local.key}`,
          code,
        );
      }
      sent += r;
    }
    return sent;
  }

  /**
   * UDP GSO: sends `data[0, length)` to `to` as datagrams of `segmentSize` bytes (the last may be shorter)
   * with one sendmsg(2) and a UDP_SEGMENT control message; the kernel cuts it (at most
   * {@link GSO_MAX_SEGMENTS} datagrams and 65507 bytes in all, each datagram within the path MTU on a Don't
   * Fragment socket).
   *
   * @returns false when the socket buffer is full (nothing was sent), else true
   * @throws {SyscallError} for any other failure: EINVAL for too many segments, EMSGSIZE above 64 KiB in
   *   all or a segment above the path MTU, EIO when the device cannot segment; fall back to
   *   {@link sendBatch} then
   */
  sendSegments(data: Uint8Array, length: number, segmentSize: number, to: Endpoint): boolean {
    const sa = this.#destination(to);
    const slots = this.#sendVector();
    slots.setData(0, data, length);
    slots.setName(0, sa);
    this.#segmentControl!.setUint16(16, segmentSize, true);
    slots.setControl(0, cmsgSpace(2));
    if (libc().sendmsg(this.#poller.fd, slots.vector, 0) >= 0n) return true;
    const code = errno();
    if (code === EAGAIN || code === ENOBUFS) return false;
    throw new SyscallError(
      `Cannot send ${length} bytes in ${segmentSize}-byte segments (UDP GSO) to ${to.key} from ${this.local.key}`,
      code,
    );
  }

  /**
   * Drains with recvmmsg(2), up to `bufs.length` datagrams per call. On a socket opened with `gro`, a buffer
   * may receive several datagrams of one sender coalesced: `segmentSizes[n]` then says how long each is (the
   * last may be shorter); without GRO it equals `sizes[n]`. Give GRO 64 KiB buffers (a datagram larger than
   * its buffer is cut to it).
   *
   * @returns how many buffers were filled (0 when nothing is queued)
   */
  receiveBatch(bufs: Uint8Array[], sizes: number[], sources: Endpoint[], segmentSizes?: number[]): number {
    this.#poller.assertOpen();
    let slots = this.#receiveSlots;
    if (!slots || slots.capacity < bufs.length) {
      this.#receiveSlots = slots = new MessageSlots(bufs.length, cmsgSpace(4));
    }
    for (let i = 0; i < bufs.length; i++) {
      slots.setData(i, bufs[i], bufs[i].length);
      slots.receiveName(i);
      slots.setControl(i, slots.controlSize);
    }
    const r = libc().recvmmsg(this.#poller.fd, slots.vector, bufs.length, 0, null);
    if (r < 0) {
      const code = errno();
      if (code === EAGAIN) return 0;
      throw new SyscallError(`Cannot receive on UDP socket ${this.local.key}`, code);
    }
    for (let i = 0; i < r; i++) {
      sizes[i] = (slots.flags(i) & MSG_TRUNC) ? bufs[i].length : Math.min(slots.length(i), bufs[i].length);
      this.#name.set(slots.name(i));
      sources[i] = this.#source();
      if (segmentSizes) {
        const at = slots.findControl(i, SOL_UDP, UDP_GRO);
        segmentSizes[i] = at < 0 ? sizes[i] : slots.controlInt32(i, at);
      }
    }
    return r;
  }

  /** Drains with recvfrom(2); see {@link PacketConn.receive}. */
  receive(bufs: Uint8Array[], sizes: number[], sources: Endpoint[]): number {
    this.#poller.assertOpen();
    const fd = this.#poller.fd, c = libc();
    let n = 0;
    for (; n < bufs.length; n++) {
      this.#nameLenView.setUint32(0, SOCKADDR_IN6_SIZE, true);
      const r = Number(c.recvfrom(fd, bufs[n], BigInt(bufs[n].length), 0, this.#name, this.#nameLen));
      if (r < 0) {
        const code = errno();
        if (code === EAGAIN) break;
        throw new SyscallError(`Cannot receive on UDP socket ${this.local.key}`, code);
      }
      sizes[n] = Math.min(r, bufs[n].length);
      sources[n] = this.#source();
    }
    return n;
  }

  /** The socket's fd (−1 after {@link close}); see {@link PacketConn.pollFd}. */
  get pollFd(): number {
    return this.#poller.fd;
  }

  /** One poll(2) on the thread pool; see {@link PacketConn.readable}. */
  readable(timeoutMs?: number): Promise<boolean> {
    return this.#poller.readable(timeoutMs);
  }

  /** Closes the socket. */
  close(): void {
    this.#poller.close();
  }

  /**
   * The message vector of every send, made on first use with slot 0's control bytes holding a UDP_SEGMENT
   * header (its size written per {@link sendSegments}; the other sends point no control at them).
   */
  #sendVector(): MessageSlots {
    if (this.#sendSlots) return this.#sendSlots;
    const slots = new MessageSlots(this.batchSize, cmsgSpace(2));
    const control = slots.control(0), c = new DataView(control.buffer, control.byteOffset, cmsgSpace(2));
    c.setUint32(0, 18, true); // cmsg_len: CMSG_LEN(2), a 64-bit field
    c.setUint32(4, 0, true);
    c.setInt32(8, SOL_UDP, true);
    c.setInt32(12, UDP_SEGMENT, true);
    this.#segmentControl = c;
    return this.#sendSlots = slots;
  }

  /** The cached sockaddr of `to`, after checking the socket is open and of its family. */
  #destination(to: Endpoint): Uint8Array {
    this.#poller.assertOpen();
    if (to.family !== this.local.family) {
      throw new Error(
        `Cannot send to ${to.key} from ${this.local.key}: address families differ; open an IPv${to.family} socket`,
      );
    }
    let sa = this.#sockaddrs.get(to);
    if (!sa) this.#sockaddrs.set(to, sa = sockaddr(to));
    return sa;
  }

  /** The sender of the datagram just received, interned by address and port. */
  #source(): Endpoint {
    const v = this.#nameView;
    const port = v.getUint16(2);
    const key = v.getUint16(0, true) === AF_INET
      ? v.getUint32(4) * 65536 + port
      : `${v.getUint32(8)},${v.getUint32(12)},${v.getUint32(16)},${v.getUint32(20)},${port}`;
    let ep = this.#interned.get(key);
    if (!ep) {
      if (this.#interned.size >= MAX_INTERNED) this.#interned.clear();
      const bytes = typeof key === "number" ? this.#name.subarray(4, 8) : this.#name.subarray(8, 24);
      this.#interned.set(key, ep = endpointFromBytes(bytes, port));
    }
    return ep;
  }
}

/**
 * Opens a non-blocking UDP socket bound to `address:port` (IPv4 or IPv6 by the address).
 *
 * @param address the local address, e.g. `0.0.0.0`, `::`, `198.18.0.1`
 * @param port the local port; 0 lets the kernel pick (see {@link UdpConn.local})
 * @param options the namespace to open it in, buffer sizes, the batch size
 * @throws {Error} `Invalid IP address 'x': …`, or {@link RangeError} for a bad port or option, naming the value
 * @throws {SyscallError} naming `address:port` when the port is in use (EADDRINUSE), the address is not local (EADDRNOTAVAIL), or the socket cannot be made
 *
 * @example
 * ```ts
 * const conn = openUdp("0.0.0.0", 6783, { netns: "mnlab-h1" });
 * conn.send([datagram], endpoint("198.18.0.2", 6783));
 * ```
 */
export function openUdp(address: string, port: number, options: UdpOptions = {}): UdpConn {
  const local = endpoint(address, checkPort(port, address));
  const batchSize = positive(options.batchSize ?? 64, "batch size", local);
  const rcv = positive(options.receiveBuffer ?? 4 << 20, "receive buffer", local);
  const snd = positive(options.sendBuffer ?? 4 << 20, "send buffer", local);
  const open = () => bindSocket(local, rcv, snd, options.dontFragment ?? false, options.gro ?? false);
  const fd = options.netns === undefined ? open() : withNetns(options.netns, open);
  try {
    return new UdpConn(fd, boundEndpoint(fd, local), batchSize, options.dontFragment ?? false);
  } catch (e) {
    libc().close(fd);
    throw e;
  }
}

function positive(n: number, what: string, local: Endpoint): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`Invalid UDP ${what} '${n}' for ${local.key}: use a positive integer`);
  }
  return n;
}

/** Creates, configures and binds the socket in the current namespace; returns its fd. */
function bindSocket(
  local: Endpoint,
  receiveBuffer: number,
  sendBuffer: number,
  dontFragment: boolean,
  gro: boolean,
): number {
  const c = libc();
  const family = local.family === 4 ? AF_INET : AF_INET6;
  const fd = check(
    c.socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
    `Cannot open a UDP socket for ${local.key}`,
  );
  try {
    const opt = (level: number, name: number, value: number, what: string) =>
      check(c.setsockopt(fd, level, name, int32(value), 4), `Cannot set ${what} on UDP socket ${local.key}`);
    if (local.family === 6) opt(IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
    opt(SOL_SOCKET, SO_RCVBUF, receiveBuffer, `SO_RCVBUF ${receiveBuffer}`);
    opt(SOL_SOCKET, SO_SNDBUF, sendBuffer, `SO_SNDBUF ${sendBuffer}`);
    if (dontFragment) setPmtuDiscovery(fd, local, PMTUDISC_DO);
    if (gro) opt(SOL_UDP, UDP_GRO, 1, "UDP_GRO");
    const sa = sockaddr(local);
    if (c.bind(fd, sa, sa.length) < 0) {
      const code = errno();
      const hint = code === 98
        ? "another socket holds this port; stop it or pick another port"
        : code === 99
        ? "no interface in this network namespace has that address; add it or bind 0.0.0.0 / ::"
        : undefined;
      throw new SyscallError(`Cannot bind UDP socket to ${local.key}`, code, hint);
    }
    return fd;
  } catch (e) {
    c.close(fd);
    throw e;
  }
}

/** Sets IP_MTU_DISCOVER (IPv4) or IPV6_MTU_DISCOVER (IPv6) to `mode`. */
function setPmtuDiscovery(fd: number, local: Endpoint, mode: number): void {
  const [level, name, what] = local.family === 4
    ? [IPPROTO_IP, IP_MTU_DISCOVER, "IP_MTU_DISCOVER"]
    : [IPPROTO_IPV6, IPV6_MTU_DISCOVER, "IPV6_MTU_DISCOVER"];
  check(
    libc().setsockopt(fd, level, name, int32(mode), 4),
    `Cannot set ${what} ${mode} on UDP socket ${local.key}`,
  );
}

/** The endpoint the socket is bound to, with the kernel's port when `requested.port` was 0. */
function boundEndpoint(fd: number, requested: Endpoint): Endpoint {
  if (requested.port !== 0) return requested;
  const sa = new Uint8Array(SOCKADDR_IN6_SIZE), len = int32(SOCKADDR_IN6_SIZE);
  check(libc().getsockname(fd, sa, len), `Cannot read the port of UDP socket ${requested.key}`);
  return endpoint(requested.address, new DataView(sa.buffer).getUint16(2));
}

/** `struct sockaddr_in` or `sockaddr_in6` for an endpoint (address and port big-endian). */
function sockaddr(ep: Endpoint): Uint8Array {
  const v4 = ep.family === 4;
  // Its own ArrayBuffer: sendmmsg/sendmsg keep its address, and small typed arrays may live on the moving heap.
  const sa = new Uint8Array(new ArrayBuffer(v4 ? SOCKADDR_IN_SIZE : SOCKADDR_IN6_SIZE));
  const v = new DataView(sa.buffer);
  v.setUint16(0, v4 ? AF_INET : AF_INET6, true);
  v.setUint16(2, ep.port);
  sa.set(parseIP(ep.address), v4 ? 4 : 8);
  return sa;
}

function int32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  return b;
}
