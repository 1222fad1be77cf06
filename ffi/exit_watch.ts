/**
 * Learning at once that processes exited, without polling /proc: each watched process is a pidfd
 * (pidfd_open(2), Linux 5.3+), which becomes readable when the process exits, and one `poll(2)` over all of
 * them runs as a `nonblocking` FFI call on Deno's thread pool. An eventfd sits first in the poll set, so a
 * change to the set (watch, unwatch, close) restarts the wait; fds are closed only after the poll that may
 * hold them has returned.
 *
 * A pidfd names one process, never a later one that reuses its PID: a watch made while the process runs
 * reports that process's exit even if the PID is taken again before the report is read.
 *
 * @module
 */
import { check, errno, libc, SyscallError } from "./libc.ts";

const POLLIN = 0x001;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const SYS_PIDFD_OPEN = 434n;
const ESRCH = 3;
/** Size of `struct pollfd`: int fd, short events, short revents. */
const POLLFD_SIZE = 8;

/** Watches processes and calls back once for each that exits. */
export class ExitWatch {
  readonly #onExit: (key: string) => void;
  readonly #wake: number;
  readonly #fds = new Map<string, number>();
  /** Fds unwatched while a poll may hold them, closed when it returns. */
  #retired: number[] = [];
  #closed = false;
  #loop?: Promise<void>;

  /**
   * @param onExit called with the key of each watched process that exited (after it is unwatched)
   * @throws {SyscallError} when the wake-up eventfd cannot be made
   */
  constructor(onExit: (key: string) => void) {
    this.#onExit = onExit;
    this.#wake = check(libc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "Cannot create an eventfd");
  }

  /** The keys watched now. */
  keys(): string[] {
    return [...this.#fds.keys()];
  }

  /**
   * Watches process `pid` under `key` (replacing an earlier watch of that key).
   *
   * @returns false when there is no such process (it exited already); nothing is watched then
   * @throws {SyscallError} when the pidfd cannot be opened for another reason
   */
  watch(key: string, pid: number): boolean {
    if (this.#closed) throw new Deno.errors.BadResource("The exit watch is closed");
    const fd = Number(libc().syscall3(SYS_PIDFD_OPEN, BigInt(pid), 0n, 0n));
    if (fd < 0) {
      const code = errno();
      if (code === ESRCH) return false;
      throw new SyscallError(`Cannot watch process ${pid} (pidfd_open)`, code, "it needs Linux 5.3 or newer");
    }
    this.unwatch(key);
    this.#fds.set(key, fd);
    this.#restart();
    return true;
  }

  /** Stops watching `key`; no callback comes for it any more. */
  unwatch(key: string): void {
    const fd = this.#fds.get(key);
    if (fd === undefined) return;
    this.#fds.delete(key);
    this.#retired.push(fd);
    this.#restart();
  }

  /** Stops every watch and waits until the poll has returned and every fd is closed. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#retired.push(...this.#fds.values());
      this.#fds.clear();
      this.#restart();
    }
    await this.#loop;
  }

  /** Wakes a running poll so it picks up the new set, or starts the loop. */
  #restart(): void {
    if (this.#loop) {
      const one = new Uint8Array(8);
      one[0] = 1;
      libc().write(this.#wake, one, 8n);
      return;
    }
    this.#loop = this.#run().finally(() => this.#loop = undefined);
  }

  async #run(): Promise<void> {
    const drain = new Uint8Array(8);
    while (!this.#closed && this.#fds.size > 0) {
      const watched = [...this.#fds];
      const set = new Uint8Array((1 + watched.length) * POLLFD_SIZE);
      const view = new DataView(set.buffer);
      [this.#wake, ...watched.map(([, fd]) => fd)].forEach((fd, i) => {
        view.setInt32(i * POLLFD_SIZE, fd, true);
        view.setInt16(i * POLLFD_SIZE + 4, POLLIN, true);
      });
      const n = await libc().pollAsync(set, BigInt(1 + watched.length), -1);
      this.#closeRetired();
      if (n <= 0) continue; // EINTR
      if (view.getInt16(6, true) !== 0) libc().read(this.#wake, drain, 8n);
      watched.forEach(([key, fd], i) => {
        if (view.getInt16((i + 1) * POLLFD_SIZE + 6, true) === 0 || this.#fds.get(key) !== fd) return;
        this.#fds.delete(key);
        libc().close(fd);
        this.#onExit(key);
      });
    }
    this.#closeRetired();
    if (this.#closed) libc().close(this.#wake);
  }

  #closeRetired(): void {
    for (const fd of this.#retired) libc().close(fd);
    this.#retired = [];
  }
}
