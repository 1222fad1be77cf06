/**
 * Network namespaces: run a function inside another namespace on the calling thread.
 *
 * `setns(2)` moves only the calling thread, and Deno runs JavaScript on one thread per isolate, so a
 * synchronous function passed to {@link withNetns} sees the target namespace for its whole run: netlink and
 * UDP sockets opened by FFI, `Deno.listenDatagram` and `Deno.Command` children all land there, and keep that
 * namespace after the switch back. The function must be synchronous: an `await` inside it would let other
 * code run in the wrong namespace, so a Promise result is refused.
 *
 * @module
 */
import { check, cstring, errno, libc, SyscallError } from "./libc.ts";

/** `CLONE_NEWNET` from <sched.h>: the namespace type for `setns(2)`. */
const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;

/** Where `ip netns add NAME` mounts named namespaces. */
export const NETNS_RUN_DIR = "/run/netns";

/** Where `ip netns exec NAME` finds files to bind-mount over /etc. */
export const NETNS_ETC_DIR = "/etc/netns";

/**
 * Resolves a namespace given as a name in /run/netns, an absolute path, or a PID (`/proc/PID/ns/net`).
 *
 * @example
 * ```ts
 * netnsPath("mnlab-h1"); // "/run/netns/mnlab-h1"
 * netnsPath(1234);       // "/proc/1234/ns/net"
 * ```
 */
export function netnsPath(ns: string | number): string {
  if (typeof ns === "number") return `/proc/${ns}/ns/net`;
  if (/^\d+$/.test(ns)) return `/proc/${ns}/ns/net`;
  return ns.startsWith("/") ? ns : `${NETNS_RUN_DIR}/${ns}`;
}

/**
 * Opens a namespace file and returns its fd (O_CLOEXEC). The caller closes it with {@link closeFd}.
 *
 * @throws {SyscallError} naming the namespace when it does not exist or cannot be opened.
 */
export function openNetns(ns: string | number): number {
  const path = netnsPath(ns);
  const fd = Number(libc().open(cstring(path), O_RDONLY | O_CLOEXEC, 0));
  if (fd < 0) {
    const code = errno();
    const hint = code === 2 ? "create it with 'ip netns add' or pass a running PID" : undefined;
    throw new SyscallError(`Cannot open network namespace '${ns}' (${path})`, code, hint);
  }
  return fd;
}

/** Closes an fd returned by {@link openNetns}. */
export function closeFd(fd: number): void {
  libc().close(fd);
}

/**
 * Runs `fn` inside the network namespace `ns` and always switches the thread back, also when `fn` throws.
 *
 * @param ns a name in /run/netns, an absolute path to a namespace file, or a PID
 * @param fn a synchronous function; its result is returned
 * @throws {SyscallError} when the namespace cannot be opened or entered; whatever `fn` throws
 * @throws {TypeError} when `fn` returns a Promise (async work would run in the wrong namespace)
 *
 * @example
 * ```ts
 * const sock = withNetns("mnlab-h1", () => openUdpSocket("198.18.0.1", 6783));
 * ```
 */
export function withNetns<T>(ns: string | number, fn: () => T): T {
  const home = openNetns("/proc/thread-self/ns/net");
  try {
    const target = openNetns(ns);
    try {
      check(libc().setns(target, CLONE_NEWNET), `Cannot enter network namespace '${ns}'`);
    } finally {
      closeFd(target);
    }
    try {
      const result = fn();
      if (result instanceof Promise) {
        throw new TypeError("withNetns() takes a synchronous function: an await would leave the namespace");
      }
      return result;
    } finally {
      check(libc().setns(home, CLONE_NEWNET), "Cannot return to the original network namespace");
    }
  } finally {
    closeFd(home);
  }
}
