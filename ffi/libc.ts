/**
 * The one place that loads libc. Every other file in ffi/ takes its symbols from {@link libc};
 * nothing above ffi/ calls `Deno.dlopen`.
 *
 * Calls are synchronous unless a symbol is marked `nonblocking` (those run on a pool thread, so
 * errno is meaningless after them: see {@link errno}).
 *
 * @module
 */

const symbols = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recvfrom: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"], result: "isize" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "buffer"], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  /** ioctl(2) whose argument is a value, not a pointer (e.g. TUNSETOFFLOAD). */
  ioctlValue: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  pollAsync: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  /** syscall(2) with up to three integer arguments, for calls glibc has no wrapper for (pidfd_open). */
  syscall3: { name: "syscall", parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  __errno_location: { parameters: [], result: "pointer" },
  malloc_trim: { parameters: ["usize"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The libc symbols meshnet uses, loaded once per isolate (each Worker loads its own). */
export type Libc = Deno.DynamicLibrary<typeof symbols>["symbols"];

let loaded: Libc | undefined;

/**
 * Returns libc's symbols, loading the library on first use.
 *
 * @throws {Deno.errors.NotCapable} when the process or Worker has no FFI permission.
 */
export function libc(): Libc {
  loaded ??= Deno.dlopen("libc.so.6", symbols).symbols;
  return loaded;
}

/** The calling thread's errno; valid only right after a synchronous call that failed. */
export function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/**
 * Gives the memory malloc holds free back to the kernel (glibc's malloc_trim, every arena). A long-running
 * process whose peak (a mesh forming) is behind it otherwise keeps that peak resident.
 */
export function trimHeap(): void {
  libc().malloc_trim(0n);
}

/** libc's text for an errno value, e.g. 17 → "File exists". */
export function strerror(code: number): string {
  const p = libc().strerror(code);
  return p === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(p);
}

/** Socket and file flags shared by every fd meshnet opens through libc (Linux x86_64 values). */
export const SOCK_NONBLOCK = 0o4000;
/** `SOCK_CLOEXEC` / `O_CLOEXEC`: the fd does not leak into child processes. */
export const SOCK_CLOEXEC = 0o2000000;
/** `SOL_SOCKET`: the socket-level option namespace of setsockopt. */
export const SOL_SOCKET = 1;
/** `EAGAIN`: nothing to read, or the send queue is full, on a non-blocking fd. */
export const EAGAIN = 11;

/** Symbolic names of the errno values meshnet reports or tests for (Linux x86_64). */
export const ERRNO: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  24: "EMFILE",
  34: "ERANGE",
  90: "EMSGSIZE",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  105: "ENOBUFS",
  111: "ECONNREFUSED",
};

/** A failed system call: which call, on what, with errno and its text. */
export class SyscallError extends Error {
  /** The positive errno value. */
  readonly errno: number;
  /** The errno's symbolic name, e.g. "EEXIST", or "E<n>" when unknown. */
  readonly code: string;

  /**
   * @param what what was attempted, e.g. `Cannot open TAP device 'tap0'`
   * @param code the positive errno value
   * @param hint what the user can do about it; appended when given
   */
  constructor(what: string, code: number, hint?: string) {
    const name = ERRNO[code] ?? `E${code}`;
    super(`${what}: ${strerror(code)} (${name})${hint ? `; ${hint}` : ""}`);
    this.name = "SyscallError";
    this.errno = code;
    this.code = name;
  }
}

/**
 * Throws a {@link SyscallError} built from errno when `result` is negative, else returns it as a number.
 *
 * @param result the raw result of a synchronous libc call (number or bigint)
 * @param what the description of the attempted operation, used in the error
 */
export function check(result: number | bigint, what: string): number {
  const n = Number(result);
  if (n < 0) throw new SyscallError(what, errno());
  return n;
}

/** A NUL-terminated C string for `buffer` parameters. */
export function cstring(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}
