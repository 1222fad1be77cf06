import assert from "node:assert/strict";
import {
  bigIntToIP,
  contains,
  formatCIDR,
  formatIP,
  ipToBigInt,
  isIP,
  networkOf,
  overlaps,
  parseCIDR,
  parseIP,
  sizeOf,
} from "../../base/ip.ts";

Deno.test("parseIP() and formatIP() round-trip IPv4 and canonical IPv6", () => {
  for (
    const s of [
      "0.0.0.0",
      "10.32.0.1",
      "255.255.255.255",
      "::",
      "::1",
      "fd00:6d65:7368::1",
      "2001:db8::1:0:0:1",
      "1::",
    ]
  ) assert.equal(formatIP(parseIP(s)), s);
  assert.equal(formatIP(parseIP("2001:DB8:0:0:0:0:0:1")), "2001:db8::1");
  assert.equal(formatIP(parseIP("::ffff:10.0.0.1")), "::ffff:a00:1");
});

Deno.test("parseIP() refuses malformed addresses with the value in the message", () => {
  for (
    const s of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "01.2.3.4",
      "1::2::3",
      "12345::",
      "g::1",
      "1:2:3:4:5:6:7:8:9",
    ]
  ) {
    assert.throws(() => parseIP(s), (e: Error) => e.message.includes(`'${s}'`), s);
    assert.equal(isIP(s), false);
  }
});

Deno.test("parseCIDR() checks prefixes and keeps host bits", () => {
  const c = parseCIDR("10.32.1.5/12");
  assert.equal(c.family, 4);
  assert.equal(c.prefix, 12);
  assert.equal(formatCIDR(c), "10.32.1.5/12");
  assert.equal(bigIntToIP(networkOf(c), 4).join("."), "10.32.0.0");
  assert.equal(sizeOf(c), 1n << 20n);
  assert.throws(() => parseCIDR("10.0.0.0/33"), /prefix length '33' must be 0 to 32/);
  assert.throws(() => parseCIDR("10.0.0.0"), /add a prefix length/);
  assert.equal(parseCIDR("10.0.0.1", 32).prefix, 32);
  assert.throws(() => parseCIDR("x/8"), /'x' is not an IP address/);
  assert.equal(parseCIDR("fd00::/64").family, 6);
});

Deno.test("overlaps() and contains()", () => {
  assert.ok(overlaps(parseCIDR("10.32.0.0/12"), parseCIDR("10.40.0.0/16")));
  assert.ok(!overlaps(parseCIDR("10.32.0.0/12"), parseCIDR("10.48.0.0/12")));
  assert.ok(!overlaps(parseCIDR("10.32.0.0/12"), parseCIDR("fd00::/8")));
  assert.ok(contains(parseCIDR("fd00::/64"), parseIP("fd00::ffff")));
  assert.ok(!contains(parseCIDR("fd00::/64"), parseIP("fd00:0:0:1::")));
});

Deno.test("ipToBigInt() and bigIntToIP() are inverse for random addresses", () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff;
  for (let i = 0; i < 500; i++) {
    const b = Uint8Array.from({ length: i % 2 ? 4 : 16 }, rnd);
    assert.deepEqual(bigIntToIP(ipToBigInt(b), b.length === 4 ? 4 : 6), b);
    assert.deepEqual(parseIP(formatIP(b)), b);
  }
  assert.throws(() => bigIntToIP(1n << 32n, 4), RangeError);
});
