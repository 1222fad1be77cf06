/**
 * A synchronous rtnetlink socket over libc FFI. One request is in flight at a time: a verb builds its
 * message in the socket's reused {@link MessageWriter}, then {@link NetlinkSocket.ack} or
 * {@link NetlinkSocket.dump} sends it with the next sequence number and reads replies into one reused
 * receive buffer until the kernel's acknowledgement, error or NLMSG_DONE. Replies to older sequence
 * numbers (left over from a timed-out request) are skipped. Calls block the calling thread, normally for
 * microseconds; a kernel that does not answer within {@link REPLY_TIMEOUT_SECONDS} fails the call.
 *
 * A socket lives in the network namespace it was opened in, also after the thread returns home, so
 * callers hold one socket per namespace.
 *
 * @module
 */
import { check, EAGAIN, errno, libc, SyscallError } from "../libc.ts";
import { withNetns } from "../netns.ts";
import {
  align4,
  attrStr,
  type Message,
  MessageWriter,
  NetlinkDecodeError,
  parseAttrs,
  parseMessages,
} from "./codec.ts";
import {
  AF_NETLINK,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_ROUTE,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_OVERRUN,
  NLMSGERR_ATTR_MSG,
  RECV_BUFFER_BYTES,
  REPLY_TIMEOUT_SECONDS,
  SO_RCVTIMEO,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOL_NETLINK,
  SOL_SOCKET,
} from "./constants.ts";

const EINTR = 4;
const DUMP_ATTEMPTS = 3;
const RECV_LEN = BigInt(RECV_BUFFER_BYTES);

/** What to tell the user for common errnos of rtnetlink requests; a verb may pass more specific ones. */
const DEFAULT_HINTS: Record<number, string> = {
  1: "run as root or with CAP_NET_ADMIN",
  16: "it is in use; bring the link down or detach it first",
  17: "it already exists; delete it first or choose another name",
  19: "no such link; list links with 'ip link show'",
  99: "no such address on that link",
  100: "bring the link up first",
  101: "the gateway is not on a connected network; add an address or route for it first",
};

/** The kernel refused a netlink request: which request, on what object, errno and the kernel's own text. */
export class NetlinkError extends SyscallError {
  /** The kernel's extended-ack message, when it sent one. */
  readonly kernelMessage?: string;

  /**
   * @param what the attempted operation naming the object, e.g. `Cannot add link 'veth0'`
   * @param code the positive errno value
   * @param kernelMessage the kernel's extended-ack text
   * @param hint what to do about it
   */
  constructor(what: string, code: number, kernelMessage?: string, hint?: string) {
    const extra = [kernelMessage && `kernel says '${kernelMessage}'`, hint].filter(Boolean).join("; ");
    super(what, code, extra || undefined);
    this.name = "NetlinkError";
    this.kernelMessage = kernelMessage;
  }
}

/** Options of {@link NetlinkSocket.open}. */
export interface NetlinkSocketOptions {
  /** The network namespace to open the socket in: a name in /run/netns, a path or a PID. Default: the caller's. */
  netns?: string | number;
  /** The netlink protocol: `NETLINK_ROUTE` (default) or `NETLINK_NETFILTER` (nf_tables, see nft_table.ts). */
  protocol?: number;
}

/** Per-errno hints for one request, merged over the defaults. */
export type Hints = Partial<Record<number, string>>;

function setIntOption(fd: number, level: number, name: number, value: number): void {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setInt32(0, value, true);
  check(libc().setsockopt(fd, level, name, v, 4), `Cannot set netlink socket option ${name}`);
}

/**
 * An open netlink socket (NETLINK_ROUTE unless another protocol is asked for) bound to one network namespace.
 *
 * @example
 * ```ts
 * const nl = NetlinkSocket.open({ netns: "mnt-nl-1" });
 * try {
 *   console.log(linkList(nl).map((l) => l.name));
 * } finally {
 *   nl.close();
 * }
 * ```
 */
export class NetlinkSocket {
  #fd: number;
  #seq = 0;
  #recv = new Uint8Array(RECV_BUFFER_BYTES);
  /** The reused request builder; {@link message} starts each request in it. */
  readonly writer: MessageWriter = new MessageWriter();
  /** The namespace given to {@link open}, for error messages; undefined for the caller's own. */
  readonly netns?: string | number;

  private constructor(fd: number, netns?: string | number) {
    this.#fd = fd;
    this.netns = netns;
  }

  /**
   * Opens a netlink socket (rtnetlink by default), inside `options.netns` when given (the socket stays in that
   * namespace).
   *
   * @throws {SyscallError} when the namespace does not exist or the socket cannot be made
   */
  static open(options: NetlinkSocketOptions = {}): NetlinkSocket {
    const make = () => {
      const fd = check(
        libc().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, options.protocol ?? NETLINK_ROUTE),
        `Cannot open netlink socket of protocol ${options.protocol ?? NETLINK_ROUTE}`,
      );
      try {
        const addr = new Uint8Array(12);
        new DataView(addr.buffer).setUint16(0, AF_NETLINK, true);
        check(libc().bind(fd, addr, addr.length), "Cannot bind netlink socket");
        setIntOption(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
        setIntOption(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
        const tv = new Uint8Array(16);
        new DataView(tv.buffer).setBigInt64(0, BigInt(REPLY_TIMEOUT_SECONDS), true);
        check(libc().setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16), "Cannot set netlink reply timeout");
        return fd;
      } catch (e) {
        libc().close(fd);
        throw e;
      }
    };
    const fd = options.netns === undefined ? make() : withNetns(options.netns, make);
    return new NetlinkSocket(fd, options.netns);
  }

  /** True until {@link close}. */
  get open(): boolean {
    return this.#fd >= 0;
  }

  /** Closes the socket; later requests throw. Closing twice is harmless. */
  close(): void {
    if (this.#fd >= 0) libc().close(this.#fd);
    this.#fd = -1;
  }

  /**
   * Starts a request of `type` in {@link writer}; NLM_F_REQUEST and NLM_F_ACK are added to `flags`.
   *
   * @returns the writer, to append the fixed header and attributes
   */
  message(type: number, flags = 0): MessageWriter {
    return this.writer.begin(type, flags | NLM_F_REQUEST | NLM_F_ACK);
  }

  /**
   * Sends the request in {@link writer} and waits for the kernel's acknowledgement. Data messages that
   * come before it (an NLM_F_ECHO copy, a GET's answer) are passed to `onData` while their bytes are valid.
   *
   * @param what the operation for errors, naming the object: `Cannot add link 'veth0'`
   * @param onData called for each data message of this request
   * @param hints per-errno advice that overrides the defaults
   * @throws {NetlinkError} when the kernel refuses the request
   * @throws {SyscallError} on a socket failure or a reply timeout
   * @throws {NetlinkDecodeError} when a reply is malformed
   */
  ack(what: string, onData?: (m: Message) => void, hints?: Hints): void {
    this.#exchange(this.writer.finish(this.#next()), what, onData, hints);
  }

  /**
   * Sends the request in {@link writer} as a dump (NLM_F_DUMP) and decodes every reply message with
   * `decode`; undefined results are dropped. A dump the kernel marks interrupted is retried.
   *
   * @throws {NetlinkError} when the kernel refuses the dump
   * @throws {SyscallError} on a socket failure or a reply timeout
   * @throws {NetlinkDecodeError} when a reply is malformed
   */
  dump<T>(what: string, decode: (m: Message) => T | undefined): T[] {
    const view = this.writer.view;
    view.setUint16(6, view.getUint16(6, true) | NLM_F_DUMP, true);
    for (let attempt = 1;; attempt++) {
      const out: T[] = [];
      let interrupted = false;
      this.#exchange(this.writer.finish(this.#next()), what, (m) => {
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        const v = decode(m);
        if (v !== undefined) out.push(v);
      });
      if (!interrupted || attempt === DUMP_ATTEMPTS) return out;
    }
  }

  #next(): number {
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    return this.#seq;
  }

  #exchange(request: Uint8Array, what: string, onData?: (m: Message) => void, hints?: Hints): void {
    if (this.#fd < 0) throw new Error(`${what}: the netlink socket is closed; open a new one`);
    const lib = libc();
    const sent = Number(lib.send(this.#fd, request, BigInt(request.length), 0));
    if (sent < 0) throw new SyscallError(`${what}: cannot send to the kernel`, errno());
    const seq = this.#seq;
    for (;;) {
      const n = Number(lib.recv(this.#fd, this.#recv, RECV_LEN, 0));
      if (n < 0) {
        const code = errno();
        if (code === EINTR) continue;
        const hint = code === EAGAIN ? `no reply within ${REPLY_TIMEOUT_SECONDS} s` : undefined;
        throw new SyscallError(`${what}: cannot receive the kernel's reply`, code, hint);
      }
      for (const m of parseMessages(this.#recv.subarray(0, n))) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) {
          const code = errorCode(m);
          if (code === 0) return;
          throw new NetlinkError(what, code, extAckMessage(m), hints?.[code] ?? DEFAULT_HINTS[code]);
        }
        if (m.type === NLMSG_DONE) {
          const code = m.payload.length >= 4
            ? -new DataView(m.payload.buffer, m.payload.byteOffset).getInt32(0, true)
            : 0;
          if (code > 0) throw new NetlinkError(what, code, undefined, hints?.[code] ?? DEFAULT_HINTS[code]);
          return;
        }
        if (m.type === NLMSG_OVERRUN) {
          throw new NetlinkDecodeError(`${what}: the kernel reported lost replies`);
        }
        onData?.(m);
      }
    }
  }
}

/** The positive errno of an NLMSG_ERROR message (0 for an acknowledgement). */
function errorCode(m: Message): number {
  if (m.payload.length < 4) {
    throw new NetlinkDecodeError(`Truncated NLMSG_ERROR: ${m.payload.length} bytes, need 4`);
  }
  return -new DataView(m.payload.buffer, m.payload.byteOffset).getInt32(0, true);
}

/** The kernel's extended-ack text of an NLMSG_ERROR message, when present. */
function extAckMessage(m: Message): string | undefined {
  if (!(m.flags & NLM_F_ACK_TLVS) || m.payload.length < 4 + NLMSG_HDRLEN) return undefined;
  const view = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
  const inner = m.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : view.getUint32(4, true);
  const start = 4 + align4(inner);
  if (start > m.payload.length) return undefined;
  return attrStr(parseAttrs(m.payload, start), NLMSGERR_ATTR_MSG);
}
