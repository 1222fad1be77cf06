import assert from "node:assert/strict";
import type { Addr } from "../../../ffi/netlink/addr.ts";
import type { Link } from "../../../ffi/netlink/link.ts";
import { underlayMtuOf } from "../../../src/overlay/fastdp/underlay_mtu.ts";

const link = (index: number, name: string, mtu: number, more: Partial<Link> = {}): Link => ({
  index,
  name,
  mtu,
  up: true,
  lowerUp: true,
  flags: 0,
  ...more,
});
const addr = (index: number, scope = "global"): Addr => ({
  index,
  family: 4,
  address: `198.18.0.${index}`,
  prefix: 24,
  scope,
  flags: 0,
});

Deno.test("underlayMtuOf() takes the smallest addressed underlay link, never the overlay's own devices", () => {
  const links = [
    link(1, "lo", 65536),
    link(2, "eth0", 1500),
    link(3, "eth1", 9000),
    link(4, "weave", 1376, { kind: "bridge" }),
    link(5, "vethwe-x", 1376, { kind: "veth", master: 4 }),
    link(6, "vxlan-6784", 1450, { kind: "vxlan" }),
    link(7, "eth2", 1280, { up: false }),
  ];
  const addrs = [addr(1, "host"), addr(2), addr(3), addr(4), addr(5), addr(6), addr(7)];
  assert.equal(underlayMtuOf(links, addrs, "weave"), 1500);
  assert.equal(underlayMtuOf(links, addrs.filter((a) => a.index !== 2), "weave"), 9000);
  assert.equal(underlayMtuOf(links, [addr(1, "host"), addr(4)], "weave"), undefined);
});
