import assert from "node:assert/strict";
import { linkAdd, linkGet } from "../../ffi/netlink/link.ts";
import { addrAdd } from "../../ffi/netlink/addr.ts";
import { routeAdd } from "../../ffi/netlink/route.ts";
import {
  addBridgePort,
  assertNoHostRouteOverlap,
  deleteBridge,
  ensureBridge,
  overlapsHostRoute,
} from "../../src/netdev/bridge.ts";
import { ipJson, linkNames, run, withWorld } from "./fixture.ts";

interface IpLink {
  ifname: string;
  mtu: number;
  flags: string[];
  address: string;
  linkinfo?: { info_kind?: string };
}

Deno.test("ensureBridge() creates the bridge up with its MTU and is idempotent", async () => {
  await withWorld(0, async ({ host, hostNs }) => {
    const br = ensureBridge(host, { mtu: 1376 });
    const [ip] = await ipJson<IpLink>(hostNs, "-d", "link", "show", "weave");
    assert.equal(ip.linkinfo?.info_kind, "bridge");
    assert.equal(ip.mtu, 1376);
    assert.ok(ip.flags.includes("UP"));
    assert.equal(br.index, linkGet(host, "weave").index);
    assert.equal(br.mac, ip.address);
    // again: same link, nothing changed
    assert.deepEqual(ensureBridge(host, { mtu: 1376 }), br);
    // down and another MTU: corrected
    await run("ip", "-n", hostNs, "link", "set", "weave", "down");
    const again = ensureBridge(host, { mtu: 1400 });
    assert.equal(again.index, br.index);
    assert.equal(again.mtu, 1400);
    assert.equal(again.up, true);
    // the MAC is pinned: a port with a lower MAC does not change it
    linkAdd(host, { kind: "veth", name: "mnt-nd-p", mac: "02:00:00:00:00:01", peer: { name: "mnt-nd-q" } });
    addBridgePort(host, "weave", "mnt-nd-p");
    assert.equal(linkGet(host, "weave").mac, br.mac);
  });
});

Deno.test("ensureBridge() names the link when it is not a bridge", async () => {
  await withWorld(0, async ({ host, hostNs }) => {
    linkAdd(host, { kind: "veth", name: "mnt-nd-x", peer: { name: "mnt-nd-y" } });
    assert.throws(
      () => ensureBridge(host, { name: "mnt-nd-x" }),
      {
        message:
          "Cannot use 'mnt-nd-x' as the bridge: it is a veth link, not a bridge; delete it or choose another bridge name",
      },
    );
    assert.throws(() => deleteBridge(host, "mnt-nd-x"), /it is a veth link, not a bridge/);
    assert.ok((await linkNames(hostNs)).includes("mnt-nd-x"));
  });
});

Deno.test("deleteBridge() deletes an existing bridge and reports a missing one", async () => {
  await withWorld(0, async ({ host, hostNs }) => {
    ensureBridge(host, { name: "mnt-nd-br" });
    assert.equal(deleteBridge(host, "mnt-nd-br"), true);
    assert.ok(!(await linkNames(hostNs)).includes("mnt-nd-br"));
    assert.equal(deleteBridge(host, "mnt-nd-br"), false);
  });
});

Deno.test("addBridgePort() plugs a link in with the flags asked for", async () => {
  await withWorld(0, ({ host }) => {
    const br = ensureBridge(host);
    linkAdd(host, { kind: "veth", name: "mnt-nd-a", peer: { name: "mnt-nd-b" } });
    addBridgePort(host, "weave", "mnt-nd-a", { isolated: true, learning: false, hairpin: true });
    const a = linkGet(host, "mnt-nd-a");
    assert.equal(a.master, br.index);
    assert.deepEqual(a.port, { isolated: true, learning: false, hairpin: true });
    addBridgePort(host, br.index, "mnt-nd-b");
    assert.deepEqual(linkGet(host, "mnt-nd-b").port, { isolated: false, learning: true, hairpin: false });
  });
});

Deno.test("overlapsHostRoute() lists host routes inside the range except default and bridge routes", async () => {
  await withWorld(0, ({ host }) => {
    ensureBridge(host);
    linkAdd(host, { kind: "veth", name: "mnt-nd-eth", up: true, peer: { name: "mnt-nd-eth-p", up: true } });
    addrAdd(host, "mnt-nd-eth", "198.18.0.1/24");
    routeAdd(host, { dst: "default", gateway: "198.18.0.254" });
    routeAdd(host, { dst: "10.64.1.0/24", dev: "mnt-nd-eth" });
    addrAdd(host, "weave", "10.32.0.1/12");
    assert.deepEqual(overlapsHostRoute(host, "10.32.0.0/12"), []);
    const hits = overlapsHostRoute(host, "10.64.0.0/16");
    assert.deepEqual(hits.map((h) => [h.dst, h.dev]), [["10.64.1.0/24", "mnt-nd-eth"]]);
    assert.deepEqual(overlapsHostRoute(host, "198.18.0.128/25").map((h) => h.dst), ["198.18.0.0/24"]);
    assert.deepEqual(overlapsHostRoute(host, "fd00::/8"), []);
    // our bridge's route counts when the range is checked against another bridge name
    assert.deepEqual(overlapsHostRoute(host, "10.32.0.0/16", "mnt-nd-other").map((h) => h.dev), ["weave"]);
    assert.throws(() => assertNoHostRouteOverlap(host, "10.64.0.0/16"), {
      message:
        "Cannot use range '10.64.0.0/16': it overlaps host route '10.64.1.0/24' dev 'mnt-nd-eth'; choose another range with --ipalloc-range",
    });
    assertNoHostRouteOverlap(host, "10.32.0.0/12");
    assert.throws(() => overlapsHostRoute(host, "10.64/16"), /Invalid CIDR '10.64\/16'/);
  });
});
