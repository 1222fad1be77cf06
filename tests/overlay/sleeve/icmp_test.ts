import assert from "node:assert/strict";
import { checksum } from "./testbed.ts";
import { fragmentationNeeded, isIPv4DontFragment } from "../../../src/overlay/sleeve/icmp.ts";

function ipv4(flags: number, length = 1500): Uint8Array {
  const f = new Uint8Array(14 + length);
  f.set([2, 0, 0, 0, 0, 2], 0);
  f.set([2, 0, 0, 0, 0, 1], 6);
  f.set([0x08, 0x00, 0x45, 0, length >> 8, length & 0xff, 0x12, 0x34, flags, 0, 64, 6], 12);
  f.set([10, 0, 0, 1, 10, 0, 0, 2], 26);
  f.set([1, 2, 3, 4, 5, 6, 7, 8, 9], 34);
  return f;
}

Deno.test("isIPv4DontFragment() needs IPv4 with DF and a whole header", () => {
  assert.equal(isIPv4DontFragment(ipv4(0x40)), true);
  assert.equal(isIPv4DontFragment(ipv4(0x00)), false);
  const v6 = ipv4(0x40);
  v6[12] = 0x86;
  v6[13] = 0xdd;
  assert.equal(isIPv4DontFragment(v6), false);
  assert.equal(isIPv4DontFragment(ipv4(0x40).subarray(0, 30)), false);
  const badIhl = ipv4(0x40);
  badIhl[14] = 0x44;
  assert.equal(isIPv4DontFragment(badIhl), false);
});

Deno.test("fragmentationNeeded() answers the sender from the destination with type 3 code 4 and the MTU", () => {
  const orig = ipv4(0x40);
  const r = fragmentationNeeded(orig, 1376);
  assert.deepEqual([...r.subarray(0, 12)], [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
  assert.equal(r.length, 14 + 20 + 8 + 28);
  assert.deepEqual([...r.subarray(26, 34)], [10, 0, 0, 2, 10, 0, 0, 1]);
  assert.deepEqual([r[34], r[35], r[40] << 8 | r[41]], [3, 4, 1376]);
  assert.deepEqual(r.subarray(42), orig.subarray(14, 14 + 28), "quotes the IP header and 8 payload bytes");
  assert.equal(checksum(r.subarray(14, 34)), 0);
  assert.equal(checksum(r.subarray(34)), 0);
});
