/**
 * The frame device: where the sleeve reads Ethernet frames from the local bridge and writes frames
 * that arrived from peers (wireguard-go's `tun.Device`, for layer 2). The TAP device ({@link openTap} in
 * tap.ts) is the real one; testing/memory_frame_device.ts has an in-memory pair for tests of pure cores.
 *
 * Reads and writes are synchronous and never block: a reader loops
 * `await dev.readable(); n = dev.read(bufs, sizes)` and handles `n` frames per wakeup.
 *
 * @module
 */

/** A source and sink of whole Ethernet frames (no packet-information header, no FCS). */
export interface FrameDevice {
  /** The interface name, e.g. `weave-tap`; fixed for the device's life. */
  readonly name: string;

  /** The most frames one {@link read} returns; a hint for sizing `bufs`, fixed for the device's life. */
  readonly batchSize: number;

  /**
   * Bytes of offload metadata before every frame {@link read} returns and {@link write} takes: 10 when the
   * device has the kernel's virtio-net header (`struct virtio_net_hdr`, a TAP with offloads on), else 0 or
   * absent (bare frames). With it, reads may return TCP super-frames of up to 64 KiB.
   */
  readonly vnetHeaderSize?: number;

  /**
   * The device's MTU in bytes (IP payload; a frame is at most MTU + 14, or + 18 with a VLAN tag).
   *
   * @throws {Deno.errors.BadResource} after {@link close}
   */
  mtu(): number;

  /**
   * Reads up to `bufs.length` queued frames without blocking: frame i goes into `bufs[i]` and its length
   * into `sizes[i]`. A frame longer than its buffer is truncated to the buffer.
   *
   * @returns the number of frames read; 0 when none is queued
   * @throws {Deno.errors.BadResource} after {@link close}
   * @throws {SyscallError} when the device fails (e.g. it was deleted)
   */
  read(bufs: Uint8Array[], sizes: number[]): number;

  /**
   * Writes each of `frames` as one frame without blocking.
   *
   * @returns how many frames were written, in order; fewer than `frames.length` when the device queue is full
   * @throws {Deno.errors.BadResource} after {@link close}
   * @throws {SyscallError} naming the frame when the device refuses it (e.g. shorter than an Ethernet header)
   */
  write(frames: Uint8Array[]): number;

  /**
   * The fd behind {@link readable}, for a short wait on the caller's own thread (fd_poller.ts's `BlockingPoll`);
   * −1 after {@link close}. Absent where there is no fd (the in-memory doubles): callers then use {@link readable}.
   */
  readonly pollFd?: number;

  /**
   * Resolves when {@link read} will find a frame, or after `timeoutMs`. One wait at a time.
   *
   * @param timeoutMs milliseconds to wait at most; negative or omitted waits without limit
   * @returns true when frames are queued; false on timeout, on a spurious wakeup, or when closed while waiting
   * @throws {Deno.errors.BadResource} when already closed
   * @throws {Deno.errors.Busy} when another wait is pending
   */
  readable(timeoutMs?: number): Promise<boolean>;

  /** Releases the device; a pending {@link readable} resolves false and every later call throws BadResource. Idempotent. */
  close(): void;
}
