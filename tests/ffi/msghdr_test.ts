import assert from "node:assert/strict";
import { addressOf, cmsgSpace, MessageSlots } from "../../ffi/msghdr.ts";

/** The 64-bit little-endian field at `at` of the slots' memory, as a bigint. */
function field(slots: MessageSlots, at: number): bigint {
  return new DataView(slots.vector.buffer).getBigUint64(at, true);
}

const MMSGHDR = 64, IOVEC = 16;

Deno.test("MessageSlots writes iovecs, names and controls as the kernel reads them, and reuses a buffer's address", () => {
  const slots = new MessageSlots(4, cmsgSpace(4));
  const iovecs = 4 * MMSGHDR, base = addressOf(new Uint8Array(slots.vector.buffer));
  for (let i = 0; i < 4; i++) {
    assert.equal(field(slots, i * MMSGHDR + 16), base + BigInt(iovecs + i * IOVEC), "msg_iov");
    assert.equal(field(slots, i * MMSGHDR + 24), 1n, "msg_iovlen");
  }
  const a = new Uint8Array(70_000), b = new Uint8Array(9000);
  slots.setData(1, a, a.length);
  assert.equal(field(slots, iovecs + IOVEC), addressOf(a));
  assert.equal(field(slots, iovecs + IOVEC + 8), 70_000n);
  slots.setData(1, a, 1200); // the same array: only the length changes
  assert.equal(field(slots, iovecs + IOVEC), addressOf(a));
  assert.equal(field(slots, iovecs + IOVEC + 8), 1200n);
  slots.setData(1, b, b.length);
  assert.equal(field(slots, iovecs + IOVEC), addressOf(b));
  const view = a.subarray(100); // another array over the same memory: its own address
  slots.setData(1, view, view.length);
  assert.equal(field(slots, iovecs + IOVEC), addressOf(a) + 100n);

  slots.receiveName(2);
  const ownName = base + BigInt(iovecs + 4 * IOVEC + 2 * 32);
  assert.equal(field(slots, 2 * MMSGHDR), ownName, "msg_name");
  const sa = new Uint8Array(new ArrayBuffer(16)), other = new Uint8Array(new ArrayBuffer(28));
  slots.setName(2, sa);
  assert.deepEqual([field(slots, 2 * MMSGHDR), field(slots, 2 * MMSGHDR + 8) & 0xffffffffn], [
    addressOf(sa),
    16n,
  ]);
  slots.setName(2, sa); // the same array: nothing to rewrite
  assert.equal(field(slots, 2 * MMSGHDR), addressOf(sa));
  slots.setName(2, other);
  assert.deepEqual([field(slots, 2 * MMSGHDR), field(slots, 2 * MMSGHDR + 8) & 0xffffffffn], [
    addressOf(other),
    28n,
  ]);
  slots.receiveName(2); // back to its own slot, so the next setName must write again
  assert.equal(field(slots, 2 * MMSGHDR), ownName);
  slots.setName(2, other);
  assert.equal(field(slots, 2 * MMSGHDR), addressOf(other));
  slots.receiveName(2);
  slots.setControl(3, slots.controlSize);
  const control = field(slots, 3 * MMSGHDR + 32);
  assert.equal(control, base + BigInt(iovecs + 4 * IOVEC + 4 * 32 + 3 * slots.controlSize));
  assert.equal(slots.controlLength(3), slots.controlSize);
  slots.setControl(3, 0);
  assert.deepEqual([field(slots, 3 * MMSGHDR + 32), slots.controlLength(3)], [0n, 0]);

  // A UDP_GRO control message as the kernel writes it: cmsg_len 20, SOL_UDP (17), UDP_GRO (104), then an int.
  const c = new DataView(slots.control(0).buffer, slots.control(0).byteOffset);
  c.setBigUint64(0, 20n, true);
  c.setInt32(8, 17, true);
  c.setInt32(12, 104, true);
  c.setInt32(16, 1430, true);
  slots.setControl(0, slots.controlSize);
  const at = slots.findControl(0, 17, 104);
  assert.equal(at, 16);
  assert.equal(slots.controlInt32(0, at), 1430);
  assert.equal(slots.findControl(0, 17, 103), -1);
});
