/**
 * Waiting for a raw O_NONBLOCK fd to become readable without blocking the event loop, and closing it safely.
 *
 * Flow (limits.md §4b): one `poll(2)` per wakeup runs as a `nonblocking` FFI call on Deno's thread pool, then
 * the owner drains the fd with synchronous calls until EAGAIN. An eventfd sits beside the fd in the same poll
 * set, so {@link FdPoller.close} can wake a pending wait at once; the fds are closed only after that poll has
 * returned, so the kernel never polls a number that was closed and reused meanwhile.
 *
 * A wait through the pool costs a hop between threads each way (the pool thread's poll, its eventfd write to
 * the event loop, the loop's wakeup). Where the next event is expected within a millisecond (a stream), a
 * {@link BlockingPoll} waits on the caller's own thread instead: one poll(2) with a short timeout, woken
 * directly by the kernel, while the caller's event loop stands still.
 *
 * @module
 */
import { check, libc } from "./libc.ts";

const POLLIN = 0x001;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
/** Size of `struct pollfd`: int fd, short events, short revents. */
const POLLFD_SIZE = 8;

/** Owns one fd: waits for it to become readable and closes it (with its wake-up eventfd) exactly once. */
export class FdPoller {
  #fd: number;
  readonly #what: string;
  readonly #wake: number;
  readonly #pollfds = new Uint8Array(2 * POLLFD_SIZE);
  readonly #view = new DataView(this.#pollfds.buffer);
  #pending = false;
  #closed = false;

  /**
   * @param fd an open O_NONBLOCK fd; the poller owns it from now on
   * @param what the device's description for errors, e.g. `TAP device 'mnt0'`
   * @throws {SyscallError} when the wake-up eventfd cannot be made (the fd is then closed)
   */
  constructor(fd: number, what: string) {
    this.#fd = fd;
    this.#what = what;
    try {
      this.#wake = check(
        libc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
        `Cannot create a wake-up eventfd for ${what}`,
      );
    } catch (e) {
      libc().close(fd);
      throw e;
    }
    this.#view.setInt32(0, fd, true);
    this.#view.setInt16(4, POLLIN, true);
    this.#view.setInt32(POLLFD_SIZE, this.#wake, true);
    this.#view.setInt16(POLLFD_SIZE + 4, POLLIN, true);
  }

  /**
   * The polled fd, for the owner's synchronous reads and writes; -1 from {@link close} on (the number itself is
   * closed only once a pending wait has returned).
   */
  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  /**
   * Throws when the poller was closed; owners call it at the top of every synchronous I/O method.
   *
   * @throws {Deno.errors.BadResource} after {@link close}
   */
  assertOpen(): void {
    if (this.#closed) throw new Deno.errors.BadResource(`${this.#what} is closed`);
  }

  /**
   * Resolves when the fd has data (or an error) to read, or after `timeoutMs`.
   *
   * @param timeoutMs milliseconds to wait at most; negative waits without limit
   * @returns true when a read will not block; false on timeout, on a spurious wakeup, or when closed while waiting
   * @throws {Deno.errors.BadResource} when already closed
   * @throws {Deno.errors.Busy} when another wait is pending (one reader per device)
   */
  async readable(timeoutMs = -1): Promise<boolean> {
    this.assertOpen();
    if (this.#pending) throw new Deno.errors.Busy(`${this.#what} already has a pending readable() wait`);
    this.#pending = true;
    let n: number;
    try {
      this.#view.setInt16(6, 0, true);
      n = await libc().pollAsync(this.#pollfds, 2n, Math.min(Math.trunc(timeoutMs), 0x7fffffff));
    } finally {
      this.#pending = false;
      if (this.#closed) this.#release();
    }
    return n > 0 && !this.#closed && this.#view.getInt16(6, true) !== 0;
  }

  /** Closes the fd, waking a pending {@link readable} (which then resolves false). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#pending) return this.#release();
    const one = new Uint8Array(8);
    one[0] = 1;
    libc().write(this.#wake, one, 8n);
  }

  #release(): void {
    if (this.#fd < 0) return;
    libc().close(this.#fd);
    libc().close(this.#wake);
    this.#fd = -1;
  }
}

/**
 * A synchronous poll(2) over a fixed set of fds on the caller's own thread: a short blocking wait that costs
 * one wakeup where {@link FdPoller.readable} costs a hop through the thread pool. The caller's event loop
 * (timers, messages, pending promises) stands still until it returns, so keep the timeout short; the caller
 * must not close a polled fd meanwhile, which holds when the fds are closed on the same thread.
 */
export class BlockingPoll {
  readonly #pollfds: Uint8Array;
  readonly #view: DataView;
  /** The number of fds, as poll(2)'s nfds argument. */
  readonly #count: bigint;

  /** @param fds the fds to wait on, read for readability; a negative one is ignored (poll(2) skips it) */
  constructor(fds: readonly number[]) {
    this.#count = BigInt(fds.length);
    this.#pollfds = new Uint8Array(fds.length * POLLFD_SIZE);
    this.#view = new DataView(this.#pollfds.buffer);
    fds.forEach((fd, i) => {
      this.#view.setInt32(i * POLLFD_SIZE, fd, true);
      this.#view.setInt16(i * POLLFD_SIZE + 4, POLLIN, true);
    });
  }

  /**
   * Blocks the calling thread until one of the fds is readable (or has an error, or was closed), or for
   * `timeoutMs` at most.
   *
   * @param timeoutMs milliseconds to block at most, 0 to only look
   * @returns true when one is ready; false on timeout or when a signal interrupted the wait
   */
  wait(timeoutMs: number): boolean {
    for (let at = 6; at < this.#pollfds.length; at += POLLFD_SIZE) this.#view.setInt16(at, 0, true);
    return libc().poll(this.#pollfds, this.#count, timeoutMs) > 0;
  }
}
