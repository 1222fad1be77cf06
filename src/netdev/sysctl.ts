/**
 * Network sysctls of one namespace, read and written: /proc/sys/net/… shows the values of the namespace of the thread that
 * opens it, so a write runs inside {@link withNetns}. The file is opened and written through libc FFI
 * because Deno's own file API demands --allow-all for anything under /proc.
 *
 * @module
 */
import { cstring, errno, libc, SyscallError } from "../../ffi/libc.ts";
import { withNetns } from "../../ffi/netns.ts";

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CLOEXEC = 0o2000000;
const ENOENT = 2;

/** Options of {@link writeSysctl}. */
export interface SysctlOptions {
  /** Return false instead of throwing when the key does not exist (e.g. IPv6 disabled at boot). */
  optional?: boolean;
}

function checkKey(key: string): void {
  if (!/^[A-Za-z0-9_.\-]+(\/[A-Za-z0-9_.\-]+)*$/.test(key) || key.split("/").some((p) => /^\.+$/.test(p))) {
    throw new Error(`Invalid sysctl key '${key}': use a path below /proc/sys/net like 'ipv4/ip_forward'`);
  }
}

/**
 * Reads /proc/sys/net/`key` in the namespace `netns` (the caller's when undefined), trimmed.
 *
 * @param netns a name in /run/netns, an absolute namespace path or a PID; undefined for the current one
 * @returns the value, or undefined when the key does not exist (e.g. a module not loaded)
 * @throws {Error} `Invalid sysctl key 'x'` for keys that leave /proc/sys/net
 * @throws {SyscallError} `Cannot read sysctl 'net/…'` when the kernel refuses
 * @example
 * ```ts
 * readSysctl(undefined, "ipv4/ip_forward"); // "0"
 * ```
 */
export function readSysctl(netns: string | number | undefined, key: string): string | undefined {
  checkKey(key);
  const read = () => {
    const what = `Cannot read sysctl 'net/${key}'${netns === undefined ? "" : ` in netns '${netns}'`}`;
    const fd = Number(libc().open(cstring(`/proc/sys/net/${key}`), O_RDONLY | O_CLOEXEC, 0));
    if (fd < 0) {
      const code = errno();
      if (code === ENOENT) return undefined;
      throw new SyscallError(what, code);
    }
    try {
      const buf = new Uint8Array(4096);
      const n = Number(libc().read(fd, buf, BigInt(buf.length)));
      if (n < 0) throw new SyscallError(what, errno());
      return new TextDecoder().decode(buf.subarray(0, n)).trim();
    } finally {
      libc().close(fd);
    }
  };
  return netns === undefined ? read() : withNetns(netns, read);
}

/**
 * Writes `value` to /proc/sys/net/`key` in the namespace `netns` (the caller's when undefined).
 *
 * @param netns a name in /run/netns, an absolute namespace path or a PID; undefined for the current one
 * @param key the path below /proc/sys/net, e.g. `ipv6/conf/ethwe/accept_dad`
 * @returns true when written, false when `optional` and the key does not exist
 * @throws {Error} `Invalid sysctl key 'x'` for keys that leave /proc/sys/net
 * @throws {SyscallError} `Cannot write sysctl 'net/…' = 'v'` when the kernel refuses the value
 * @example
 * ```ts
 * writeSysctl("/run/netns/c1", "ipv4/conf/ethwe/arp_ignore", "1");
 * ```
 */
export function writeSysctl(
  netns: string | number | undefined,
  key: string,
  value: string,
  options: SysctlOptions = {},
): boolean {
  checkKey(key);
  const write = () => {
    const what = `Cannot write sysctl 'net/${key}' = '${value}'${
      netns === undefined ? "" : ` in netns '${netns}'`
    }`;
    const fd = Number(libc().open(cstring(`/proc/sys/net/${key}`), O_WRONLY | O_CLOEXEC, 0));
    if (fd < 0) {
      const code = errno();
      if (code === ENOENT && options.optional) return false;
      throw new SyscallError(what, code);
    }
    try {
      const bytes = new TextEncoder().encode(value + "\n");
      const n = Number(libc().write(fd, bytes, BigInt(bytes.length)));
      if (n < 0) throw new SyscallError(what, errno());
      return true;
    } finally {
      libc().close(fd);
    }
  };
  return netns === undefined ? write() : withNetns(netns, write);
}
