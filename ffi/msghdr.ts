/**
 * `struct mmsghdr` vectors for sendmsg(2)/recvmsg(2)/sendmmsg(2)/recvmmsg(2) (Linux x86_64 layout), each
 * slot with one iovec, its own sockaddr slot and its own control (cmsg) slot.
 *
 * ```
 * mmsghdr (64): msg_name(8) msg_namelen(4) pad(4) msg_iov(8) msg_iovlen(8) msg_control(8)
 *               msg_controllen(8) msg_flags(4) msg_len(4)
 * iovec (16):   iov_base(8) iov_len(8)
 * cmsghdr (16): cmsg_len(8) cmsg_level(4) cmsg_type(4), then data, padded to 8
 * ```
 *
 * The structures live in one `ArrayBuffer` allocated here (never a small on-heap typed array, whose memory
 * the JavaScript engine may move), so the addresses written into them stay valid; the data buffers are the
 * caller's, and {@link MessageSlots.setData} takes a buffer's address only when the slot held another array
 * (taking one costs more than the rest of a slot's set-up: a receive loop passes the same buffers every
 * time). Addresses and lengths are written as two 32-bit halves, without BigInt.
 *
 * @module
 */

const MMSGHDR_SIZE = 64;
const IOVEC_SIZE = 16;
/** Room for a `sockaddr_in6`, rounded up to 8. */
const NAME_SLOT = 32;
const SOCKADDR_IN6_SIZE = 28;
/** Bytes of a `cmsghdr` before its data. */
export const CMSG_HEADER_SIZE = 16;

/** CMSG_SPACE(n): a control message with `n` data bytes, padded to 8. */
export function cmsgSpace(n: number): number {
  return CMSG_HEADER_SIZE + ((n + 7) & ~7);
}

/** The address of the first byte of `bytes`. */
export function addressOf(bytes: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes as Uint8Array<ArrayBuffer>)));
}

const TWO_32 = 0x1_0000_0000;

/** A reusable vector of message headers for the socket calls that take `msghdr` or `mmsghdr`. */
export class MessageSlots {
  /** Number of slots. */
  readonly capacity: number;
  /** Control bytes per slot. */
  readonly controlSize: number;
  /** The `mmsghdr` array (slot 0 doubles as a `msghdr` for sendmsg/recvmsg). */
  readonly vector: Uint8Array;
  readonly #memory: Uint8Array;
  readonly #view: DataView;
  /** The address of {@link #memory} (below 2^53, as every user-space address on x86_64). */
  readonly #base: number;
  /** Per slot, the array its iovec points at (and that array's length) after the last {@link setData}. */
  readonly #data: (Uint8Array | undefined)[];
  /** Per slot, the sockaddr its name points at after the last {@link setName}; undefined for its own slot. */
  readonly #nameArrays: (Uint8Array | undefined)[];
  readonly #dataLength: number[];
  readonly #iovecs: number;
  readonly #names: number;
  readonly #controls: number;

  /**
   * @param capacity slots (messages per call)
   * @param controlSize control bytes per slot (0 for none; use {@link cmsgSpace})
   */
  constructor(capacity: number, controlSize = 0) {
    this.capacity = capacity;
    this.controlSize = controlSize;
    this.#iovecs = capacity * MMSGHDR_SIZE;
    this.#names = this.#iovecs + capacity * IOVEC_SIZE;
    this.#controls = this.#names + capacity * NAME_SLOT;
    this.#memory = new Uint8Array(new ArrayBuffer(this.#controls + capacity * controlSize));
    this.#view = new DataView(this.#memory.buffer);
    this.#base = Number(addressOf(this.#memory));
    this.#data = new Array(capacity).fill(undefined);
    this.#nameArrays = new Array(capacity).fill(undefined);
    this.#dataLength = new Array(capacity).fill(0);
    this.vector = this.#memory.subarray(0, this.#iovecs);
    for (let i = 0; i < capacity; i++) {
      const m = i * MMSGHDR_SIZE;
      this.#put(m + 16, this.#base + this.#iovecs + i * IOVEC_SIZE);
      this.#put(m + 24, 1);
    }
  }

  /**
   * Points slot `i`'s iovec at `data[0, length)`. The address is taken again only when `data` is not the
   * array the slot pointed at last: keep an array passed here alive and do not transfer its buffer.
   */
  setData(i: number, data: Uint8Array, length: number): void {
    const v = this.#iovecs + i * IOVEC_SIZE;
    if (this.#data[i] !== data) {
      this.#data[i] = data;
      this.#put(v, Number(addressOf(data)));
    }
    if (this.#dataLength[i] !== length) {
      this.#dataLength[i] = length;
      this.#put(v + 8, length);
    }
  }

  /**
   * Points slot `i`'s name at `sockaddr` (a destination to send to; keep it alive, unmoved and unchanged): the
   * address is taken only when the slot pointed at another array, as in {@link setData}.
   */
  setName(i: number, sockaddr: Uint8Array): void {
    if (this.#nameArrays[i] === sockaddr) return;
    this.#nameArrays[i] = sockaddr;
    const m = i * MMSGHDR_SIZE;
    this.#put(m, Number(addressOf(sockaddr)));
    this.#view.setUint32(m + 8, sockaddr.length, true);
  }

  /** Points slot `i`'s name at its own sockaddr slot, empty, for the kernel to fill on receive. */
  receiveName(i: number): void {
    this.#nameArrays[i] = undefined;
    const m = i * MMSGHDR_SIZE;
    this.#put(m, this.#base + this.#names + i * NAME_SLOT);
    this.#view.setUint32(m + 8, SOCKADDR_IN6_SIZE, true);
  }

  /** Writes `value` (an integer below 2^53) as a little-endian 64-bit field at `at`. */
  #put(at: number, value: number): void {
    this.#view.setUint32(at, value % TWO_32, true);
    this.#view.setUint32(at + 4, Math.floor(value / TWO_32), true);
  }

  /** Slot `i`'s own sockaddr bytes (what the kernel wrote on receive). */
  name(i: number): Uint8Array {
    return this.#memory.subarray(
      this.#names + i * NAME_SLOT,
      this.#names + i * NAME_SLOT + SOCKADDR_IN6_SIZE,
    );
  }

  /** Slot `i`'s control bytes, to fill before a send or read after a receive. */
  control(i: number): Uint8Array {
    const at = this.#controls + i * this.controlSize;
    return this.#memory.subarray(at, at + this.controlSize);
  }

  /** Points slot `i`'s control at its first `length` control bytes (0: no control messages). */
  setControl(i: number, length: number): void {
    const m = i * MMSGHDR_SIZE;
    this.#put(m + 32, length === 0 ? 0 : this.#base + this.#controls + i * this.controlSize);
    this.#put(m + 40, length);
  }

  /** The control bytes the kernel wrote into slot `i` on receive (msg_controllen). */
  controlLength(i: number): number {
    return this.#get(i * MMSGHDR_SIZE + 40);
  }

  /** The little-endian 32-bit integer at byte `at` of slot `i`'s control bytes (see {@link findControl}). */
  controlInt32(i: number, at: number): number {
    return this.#view.getInt32(this.#controls + i * this.controlSize + at, true);
  }

  /** Reads a little-endian 64-bit field at `at` as a number (the kernel's lengths fit 53 bits). */
  #get(at: number): number {
    return this.#view.getUint32(at + 4, true) * TWO_32 + this.#view.getUint32(at, true);
  }

  /** The msg_flags of slot `i` after a receive (e.g. MSG_TRUNC). */
  flags(i: number): number {
    return this.#view.getInt32(i * MMSGHDR_SIZE + 48, true);
  }

  /** The bytes sent or received for slot `i` by sendmmsg/recvmmsg (msg_len). */
  length(i: number): number {
    return this.#view.getUint32(i * MMSGHDR_SIZE + 56, true);
  }

  /**
   * Finds a control message of `level` and `type` in slot `i` after a receive.
   *
   * @returns the offset of its data in {@link control}(i), or -1
   */
  findControl(i: number, level: number, type: number): number {
    const c = this.#controls + i * this.controlSize, end = Math.min(this.controlLength(i), this.controlSize);
    for (let at = 0; at + CMSG_HEADER_SIZE <= end;) {
      const len = this.#get(c + at);
      if (len < CMSG_HEADER_SIZE) return -1;
      if (
        this.#view.getInt32(c + at + 8, true) === level && this.#view.getInt32(c + at + 12, true) === type
      ) {
        return at + CMSG_HEADER_SIZE;
      }
      at += (len + 7) & ~7;
    }
    return -1;
  }
}
