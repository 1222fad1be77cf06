import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import {
  formatMac48,
  isGroupMac,
  parseMac48,
  readMac48,
  writeMac48,
} from "../../../src/overlay/sleeve/mac48.ts";

Deno.test("parseMac48() and formatMac48() round-trip names, and parse refuses malformed ones", () => {
  assert.equal(parseMac48("00:00:00:00:01:00", "MAC"), 256);
  assert.equal(parseMac48("CE:31:e0:06:45:1e", "peer name"), 0xce31e006451e);
  assert.equal(formatMac48(0xce31e006451e), "ce:31:e0:06:45:1e");
  assert.equal(formatMac48(1), "00:00:00:00:00:01");
  for (
    const bad of ["", "ce:31:e0:06:45", "ce:31:e0:06:45:1e:00", "ce-31-e0-06-45-1e", "zz:31:e0:06:45:1e"]
  ) {
    assert.throws(() => parseMac48(bad, "peer name"), new RegExp(`Invalid peer name '${bad}'`));
  }
});

Deno.test("readMac48() and writeMac48() round-trip every bit pattern", () => {
  const rnd = new SeededRandom(5);
  const b = new Uint8Array(8);
  for (
    const v of [
      0,
      0xffff_ffff_ffff,
      0x8000_0000_0000,
      0x0000_8000_0000,
      ...Array.from({ length: 1000 }, () => rnd.int(2 ** 48)),
    ]
  ) {
    writeMac48(b, 1, v);
    assert.equal(readMac48(b, 1), v);
    assert.equal(formatMac48(v), [...b.subarray(1, 7)].map((x) => x.toString(16).padStart(2, "0")).join(":"));
  }
});

Deno.test("isGroupMac() tests bit 0 of the first byte", () => {
  assert.equal(isGroupMac(0xffff_ffff_ffff), true);
  assert.equal(isGroupMac(0x0100_5e00_0001), true);
  assert.equal(isGroupMac(0x0200_0000_0001), false);
  assert.equal(isGroupMac(0xfe00_0000_0000), false);
});
