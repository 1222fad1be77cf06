/**
 * A raw packet socket (AF_PACKET, SOCK_RAW) bound to one device that receives the frames of one EtherType
 * (fastdp's heartbeats on the VXLAN device: what it sends leaves through VXLAN to the host its destination
 * MAC's forwarding entry names). It listens to all protocols, because only such taps see a frame before a
 * bridge takes it; a classic BPF filter keeps every other EtherType out in the kernel (no copy per data
 * frame), and outgoing frames are ignored. Non-blocking, synchronous FFI calls from the caller's event
 * loop: meant for a few frames per second.
 *
 * @module
 */
import { check, EAGAIN, errno, libc, SOCK_CLOEXEC, SOCK_NONBLOCK, SOL_SOCKET, SyscallError } from "./libc.ts";

const AF_PACKET = 17;
const SOCK_RAW = 3;
const MSG_DONTWAIT = 0x40;
/** Reported once after the device went down; the socket keeps working when it is up again. */
const ENETDOWN = 100;
const SOCKADDR_LL_SIZE = 20;
const ETH_P_ALL = 3;
const SO_ATTACH_FILTER = 26;
const SOL_PACKET = 263;
const PACKET_IGNORE_OUTGOING = 23;

/** `ldh [12]; jeq #etherType, 0, 1; ret #65535; ret #0` as struct sock_filter[]. */
function etherTypeFilter(etherType: number): Uint8Array {
  const code: [number, number, number, number][] = [
    [0x28, 0, 0, 12],
    [0x15, 0, 1, etherType],
    [0x06, 0, 0, 0xffff],
    [0x06, 0, 0, 0],
  ];
  const b = new Uint8Array(code.length * 8);
  const v = new DataView(b.buffer);
  code.forEach(([op, jt, jf, k], i) => {
    v.setUint16(i * 8, op, true);
    v.setUint8(i * 8 + 2, jt);
    v.setUint8(i * 8 + 3, jf);
    v.setUint32(i * 8 + 4, k, true);
  });
  return b;
}

/** Frames of one EtherType in and out of one device. */
export class PacketSocket {
  readonly #fd: number;
  readonly #device: string;
  #closed = false;

  private constructor(fd: number, device: string) {
    this.#fd = fd;
    this.#device = device;
  }

  /**
   * Opens a socket on the device with index `ifindex` (named `device` in errors) that receives the frames
   * of `etherType`.
   *
   * @throws {SyscallError} when the socket cannot be made or bound (EPERM without CAP_NET_RAW)
   */
  static open(ifindex: number, device: string, etherType: number): PacketSocket {
    const c = libc();
    // Protocol 0: nothing is received until the filter is on and the socket is bound to the device.
    const fd = check(
      c.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
      `Cannot open a packet socket for EtherType 0x${etherType.toString(16)} on '${device}'`,
    );
    const filter = etherTypeFilter(etherType);
    const prog = new Uint8Array(16);
    const pv = new DataView(prog.buffer);
    pv.setUint16(0, filter.length / 8, true);
    pv.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(filter))), true);
    const sa = new Uint8Array(SOCKADDR_LL_SIZE);
    const v = new DataView(sa.buffer);
    v.setUint16(0, AF_PACKET, true);
    v.setUint16(2, ETH_P_ALL); // sll_protocol, big-endian
    v.setInt32(4, ifindex, true);
    const one = Uint8Array.of(1, 0, 0, 0);
    const steps: [string, () => number][] = [
      [
        "attach the EtherType filter",
        () => c.setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, prog, prog.length),
      ],
      ["ignore outgoing frames", () => c.setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, one, one.length)],
      [`bind to '${device}'`, () => c.bind(fd, sa, SOCKADDR_LL_SIZE)],
    ];
    for (const [what, step] of steps) {
      if (step() < 0) {
        const e = errno();
        c.close(fd);
        throw new SyscallError(
          `Cannot ${what} of the EtherType 0x${etherType.toString(16)} packet socket`,
          e,
        );
      }
    }
    return new PacketSocket(fd, device);
  }

  /**
   * Sends one whole Ethernet frame.
   *
   * @returns false when the kernel refused it (no buffer space, device down); the frame is then lost
   */
  send(frame: Uint8Array): boolean {
    return Number(libc().send(this.#fd, frame, BigInt(frame.length), MSG_DONTWAIT)) === frame.length;
  }

  /**
   * Receives one frame into `buf` without waiting.
   *
   * @returns its length, or undefined when none is queued (or the device just went down)
   * @throws {SyscallError} for errors other than EAGAIN and ENETDOWN
   */
  receive(buf: Uint8Array): number | undefined {
    const n = Number(libc().recv(this.#fd, buf, BigInt(buf.length), MSG_DONTWAIT));
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN || e === ENETDOWN) return undefined;
    throw new SyscallError(`Cannot receive from the packet socket on '${this.#device}'`, e);
  }

  /** Closes the socket. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc().close(this.#fd);
  }
}
