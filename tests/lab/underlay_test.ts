import assert from "node:assert/strict";
import { contains, parseCIDR, parseIP } from "../../base/ip.ts";
import { UNDERLAY_CIDR } from "../../src/lab/constants.ts";
import { hostAddress, UNDERLAY_PREFIX_LENGTH } from "../../src/lab/underlay.ts";

Deno.test("hostAddress() numbers hosts from the start of the underlay", () => {
  assert.equal(hostAddress(1), "198.18.0.1");
  assert.equal(hostAddress(3), "198.18.0.3");
  assert.equal(hostAddress(200), "198.18.0.200");
  assert.equal(UNDERLAY_PREFIX_LENGTH, 15);
  assert.ok(contains(parseCIDR(UNDERLAY_CIDR), parseIP(hostAddress(200))));
});
