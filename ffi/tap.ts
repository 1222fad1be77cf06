/**
 * A TAP device through /dev/net/tun: the sleeve's {@link FrameDevice} on the host bridge.
 *
 * Flow (limits.md §4b, 499 k frames/s): `readable()` is one `poll(2)` on the thread pool per wakeup; `read()` then
 * drains the O_NONBLOCK fd with synchronous `read(2)` until EAGAIN or the batch is full; `write()` is one synchronous
 * `write(2)` per frame. All on the caller's thread; reuse the buffers. The device is not persistent: the kernel
 * deletes it when the fd closes (with {@link TapDevice.close} or process exit).
 *
 * @module
 */
import { check, cstring, EAGAIN, errno, libc, SOCK_CLOEXEC, SyscallError } from "./libc.ts";
import { FdPoller } from "./fd_poller.ts";
import type { FrameDevice } from "./frame_device.ts";
import { withNetns } from "./netns.ts";
import { UsageError } from "../base/errors.ts";

const TUNSETIFF = 0x400454ca;
const TUNSETOFFLOAD = 0x400454d0;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
/** TUNSETOFFLOAD bits: partial checksums, TCP segmentation offload for IPv4 and IPv6, with ECN. */
const TUN_F_CSUM = 0x01, TUN_F_TSO4 = 0x02, TUN_F_TSO6 = 0x04, TUN_F_TSO_ECN = 0x08;
/** Bytes of `struct virtio_net_hdr` before each frame with IFF_VNET_HDR (the kernel's default size). */
const VNET_HDR_SIZE = 10;
const SIOCGIFMTU = 0x8921;
const SIOCSIFMTU = 0x8922;
const SIOCSIFTXQLEN = 0x8943;
const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const AF_INET = 2;
const SOCK_DGRAM = 2;
/** `struct ifreq`: 16-byte name, then a union (flags or MTU) at offset 16. */
const IFREQ_SIZE = 40;
/** IFNAMSIZ − 1: the longest interface name. */
const MAX_NAME_BYTES = 15;

/** Options for {@link openTap}. */
export interface TapOptions {
  /** Open the device inside this network namespace (a name in /run/netns, a path or a PID). */
  netns?: string | number;
  /** Set this MTU (bytes) right after creating the device. */
  mtu?: number;
  /** The most frames one read returns. Default 64. */
  batchSize?: number;
  /**
   * The device's transmit queue length in frames (what the bridge may queue for the reader before dropping).
   * Default: the kernel's (1000).
   */
  txQueueLength?: number;
  /**
   * Turn on the kernel's offloads (IFF_VNET_HDR + TUNSETOFFLOAD: partial checksums, TSO4/6): every frame read
   * or written then starts with a 10-byte virtio-net header ({@link TapDevice.vnetHeaderSize}) and reads
   * may return TCP super-frames of up to 64 KiB. Default false.
   */
  offload?: boolean;
}

/** A TAP device opened by {@link openTap}. */
export class TapDevice implements FrameDevice {
  readonly name: string;
  readonly batchSize: number;
  /** 10 with offloads on (each frame starts with a virtio-net header), else 0. */
  readonly vnetHeaderSize: number;
  readonly #poller: FdPoller;
  /** An AF_INET socket in the device's namespace, for MTU ioctls. */
  #control: number;

  /** Use {@link openTap}. */
  constructor(name: string, fd: number, control: number, batchSize: number, vnetHeaderSize = 0) {
    this.name = name;
    this.batchSize = batchSize;
    this.vnetHeaderSize = vnetHeaderSize;
    this.#poller = new FdPoller(fd, `TAP device '${name}'`);
    this.#control = control;
  }

  /** The MTU the kernel reports now (SIOCGIFMTU), in bytes. */
  mtu(): number {
    this.#poller.assertOpen();
    const req = ifreq(this.name);
    check(
      libc().ioctl(this.#control, BigInt(SIOCGIFMTU), req),
      `Cannot read the MTU of TAP device '${this.name}'`,
    );
    return new DataView(req.buffer).getInt32(16, true);
  }

  /** Drains up to `bufs.length` frames with synchronous read(2); see {@link FrameDevice.read}. */
  read(bufs: Uint8Array[], sizes: number[]): number {
    this.#poller.assertOpen();
    const fd = this.#poller.fd, c = libc();
    let n = 0;
    for (; n < bufs.length; n++) {
      const r = Number(c.read(fd, bufs[n], BigInt(bufs[n].length)));
      if (r < 0) {
        const code = errno();
        if (code === EAGAIN) break;
        throw new SyscallError(`Cannot read from TAP device '${this.name}'`, code);
      }
      sizes[n] = r;
    }
    return n;
  }

  /** Writes each frame with one synchronous write(2); see {@link FrameDevice.write}. */
  write(frames: Uint8Array[]): number {
    this.#poller.assertOpen();
    const fd = this.#poller.fd, c = libc();
    for (let i = 0; i < frames.length; i++) {
      if (Number(c.write(fd, frames[i], BigInt(frames[i].length))) >= 0) continue;
      const code = errno();
      if (code === EAGAIN) return i;
      throw new SyscallError(
        `Cannot write frame ${i} (${frames[i].length} bytes) to TAP device '${this.name}'`,
        code,
        code === 22 ? "a frame needs at least a 14-byte Ethernet header" : undefined,
      );
    }
    return frames.length;
  }

  /** The device's fd (−1 after {@link close}); see {@link FrameDevice.pollFd}. */
  get pollFd(): number {
    return this.#poller.fd;
  }

  /** One poll(2) on the thread pool; see {@link FrameDevice.readable}. */
  readable(timeoutMs?: number): Promise<boolean> {
    return this.#poller.readable(timeoutMs);
  }

  /** Closes the fd, which deletes the device. */
  close(): void {
    if (this.#control >= 0) libc().close(this.#control);
    this.#control = -1;
    this.#poller.close();
  }
}

/**
 * Creates a TAP device (IFF_TAP | IFF_NO_PI, O_NONBLOCK) and returns it. The device is down; bring it up and
 * attach it with netlink. It exists until {@link TapDevice.close} or the end of the process.
 *
 * @param name the interface name, 1–15 bytes; a `%d` in it lets the kernel pick a number (`mntap%d`)
 * @param options the namespace to create it in, an MTU, the batch size, the queue length, offloads
 * @throws {UsageError} when the name is empty, longer than 15 bytes or has `/`, `:` or whitespace, or the MTU, batch size or queue length is not a positive integer
 * @throws {SyscallError} naming the device when /dev/net/tun cannot be opened, the name is taken by a non-TAP link, or the MTU is refused
 *
 * @example
 * ```ts
 * const tap = openTap("weave-tap", { netns: "mnlab-h1", mtu: 1376 });
 * const bufs = [new Uint8Array(1518), new Uint8Array(1518)], sizes = [0, 0];
 * await tap.readable();
 * const n = tap.read(bufs, sizes); // frame i is bufs[i].subarray(0, sizes[i])
 * ```
 */
export function openTap(name: string, options: TapOptions = {}): TapDevice {
  checkName(name);
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new UsageError(`Invalid TAP batch size '${batchSize}': use a positive integer`);
  }
  if (
    options.mtu !== undefined && (!Number.isInteger(options.mtu) || options.mtu < 68 || options.mtu > 65535)
  ) {
    throw new UsageError(`Invalid MTU '${options.mtu}' for TAP device '${name}': use 68 to 65535`);
  }
  const txQueueLength = options.txQueueLength;
  if (txQueueLength !== undefined && (!Number.isInteger(txQueueLength) || txQueueLength < 1)) {
    throw new UsageError(
      `Invalid TX queue length '${txQueueLength}' for TAP device '${name}': use a positive integer`,
    );
  }
  const offload = options.offload ?? false;
  const create = () => createTap(name, { mtu: options.mtu, txQueueLength, offload });
  const { fd, control, actual } = options.netns === undefined ? create() : withNetns(options.netns, create);
  return new TapDevice(actual, fd, control, batchSize, offload ? VNET_HDR_SIZE : 0);
}

/** Refuses names the kernel would refuse, before any system call, naming the value. */
function checkName(name: string): void {
  const bytes = new TextEncoder().encode(name).length;
  if (bytes === 0 || bytes > MAX_NAME_BYTES) {
    throw new UsageError(
      `Invalid TAP name '${name}': ${bytes} bytes, use 1 to ${MAX_NAME_BYTES} (the kernel's IFNAMSIZ limit)`,
    );
  }
  if (/[/:\s]/.test(name) || name === "." || name === "..") {
    throw new UsageError(`Invalid TAP name '${name}': no '/', ':', whitespace, '.' or '..'`);
  }
}

/** An ifreq holding `name`. */
function ifreq(name: string): Uint8Array {
  const req = new Uint8Array(IFREQ_SIZE);
  req.set(new TextEncoder().encode(name));
  return req;
}

/** Opens /dev/net/tun, attaches a TAP named `name`, and opens the MTU control socket, in the current netns. */
function createTap(
  name: string,
  options: { mtu?: number; txQueueLength?: number; offload: boolean },
): { fd: number; control: number; actual: string } {
  const { mtu, txQueueLength, offload } = options;
  const c = libc();
  const fd = check(
    c.open(cstring("/dev/net/tun"), O_RDWR | O_NONBLOCK | O_CLOEXEC, 0),
    `Cannot open /dev/net/tun for TAP device '${name}'`,
  );
  let control = -1;
  try {
    const req = ifreq(name);
    new DataView(req.buffer).setUint16(16, IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0), true);
    if (c.ioctl(fd, BigInt(TUNSETIFF), req) < 0) {
      const code = errno();
      throw new SyscallError(
        `Cannot create TAP device '${name}'`,
        code,
        code === 22 || code === 16 ? "the name belongs to another link; pick a free name" : undefined,
      );
    }
    const actual = new TextDecoder().decode(req.subarray(0, req.indexOf(0)));
    control = check(
      c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0),
      `Cannot open a control socket for TAP device '${actual}'`,
    );
    if (offload) {
      const flags = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
      check(
        c.ioctlValue(fd, BigInt(TUNSETOFFLOAD), BigInt(flags)),
        `Cannot turn on checksum and TSO offloads of TAP device '${actual}'`,
      );
    }
    const setInt = (request: number, value: number, what: string) => {
      const m = ifreq(actual);
      new DataView(m.buffer).setInt32(16, value, true);
      check(c.ioctl(control, BigInt(request), m), `Cannot set ${what} ${value} on TAP device '${actual}'`);
    };
    if (mtu !== undefined) setInt(SIOCSIFMTU, mtu, "MTU");
    if (txQueueLength !== undefined) setInt(SIOCSIFTXQLEN, txQueueLength, "TX queue length");
    return { fd, control, actual };
  } catch (e) {
    if (control >= 0) c.close(control);
    c.close(fd);
    throw e;
  }
}
