import assert from "node:assert/strict";
import { NetlinkError } from "../../../ffi/netlink/socket.ts";
import { type Link, linkAdd, linkGet, linkList } from "../../../ffi/netlink/link.ts";
import { addrAdd } from "../../../ffi/netlink/addr.ts";
import { fdbAdd, fdbDel, fdbList, neighAdd, neighDel, neighList } from "../../../ffi/netlink/neigh.ts";
import { bridgeJson, ipJson, withTestNetns } from "./fixture.ts";

interface IpNeigh {
  dst: string;
  dev: string;
  lladdr?: string;
  state: string[];
}

interface BridgeFdb {
  mac: string;
  ifname: string;
  dst?: string;
  master?: string;
  flags: string[];
  state: string;
  vni?: number;
}

function names(links: Link[]): Map<number, string> {
  return new Map(links.map((l) => [l.index, l.name]));
}

Deno.test("neighAdd() and neighList() handle IPv4 and IPv6 entries like ip neigh", async () => {
  await withTestNetns(async (nl, ns) => {
    linkAdd(nl, { kind: "bridge", name: "mnt-br", up: true });
    addrAdd(nl, "mnt-br", "198.18.0.1/24");
    neighAdd(nl, { link: "mnt-br", address: "198.18.0.9", mac: "02:00:00:00:00:09" });
    neighAdd(nl, { link: "mnt-br", address: "fd00::9", mac: "02:00:00:00:00:0a", state: "noarp" });
    neighAdd(nl, { link: "mnt-br", address: "198.18.0.10", mac: "02:00:00:00:00:10", state: "reachable" });
    neighAdd(nl, { link: "mnt-br", address: "198.18.0.10", mac: "02:00:00:00:00:11", replace: true });
    const n = names(linkList(nl));
    // The kernel adds multicast entries of its own at any moment (ff02::16 for MLD, 224.0.0.22 for IGMPv3),
    // also between our listing and ip's: leave them out.
    const unicast = (a: string) => !a.startsWith("ff") && !/^2(2[4-9]|3\d)\./.test(a);
    const ours = neighList(nl).filter((e) => unicast(e.address)).map((e) =>
      `${e.address} ${n.get(e.index)} ${e.mac} ${e.state.join(",")}`
    )
      .sort();
    const ip = (await ipJson<IpNeigh>(ns, "neigh", "show", "nud", "all")).filter((e) => unicast(e.dst))
      .map((e) => `${e.dst} ${e.dev} ${e.lladdr} ${e.state.join(",").toLowerCase()}`).sort();
    assert.deepEqual(ours, ip);
    assert.ok(ours.includes("198.18.0.10 mnt-br 02:00:00:00:00:11 permanent"));
    assert.deepEqual(neighList(nl, { family: 6 }).map((e) => e.address).filter(unicast), ["fd00::9"]);
    assert.deepEqual(neighList(nl, { link: "lo" }), []);
  });
});

Deno.test("neighDel() removes entries and neighAdd() names bad input and duplicates", async () => {
  await withTestNetns(async (nl, ns) => {
    linkAdd(nl, { kind: "bridge", name: "mnt-br", up: true });
    neighAdd(nl, { link: "mnt-br", address: "198.18.0.9", mac: "02:00:00:00:00:09" });
    assert.throws(
      () => neighAdd(nl, { link: "mnt-br", address: "198.18.0.9", mac: "02:00:00:00:00:09" }),
      (e: unknown) =>
        e instanceof NetlinkError && e.code === "EEXIST" &&
        /neighbour '198.18.0.9' on link 'mnt-br'/.test(e.message),
    );
    assert.throws(
      () => neighAdd(nl, { link: "mnt-br", address: "198.18.0", mac: "02:00:00:00:00:09" }),
      /Invalid IP address/,
    );
    assert.throws(
      () => neighAdd(nl, { link: "mnt-br", address: "198.18.0.3", mac: "02:00" }),
      /Invalid MAC address '02:00'/,
    );
    assert.throws(
      () => neighAdd(nl, { link: "mnt-br", address: "198.18.0.3", state: "bogus" as "stale" }),
      /Invalid neighbour state 'bogus'/,
    );
    assert.throws(() => neighAdd(nl, { link: "mnt-x", address: "198.18.0.3" }), /Unknown link 'mnt-x'/);
    neighDel(nl, { link: "mnt-br", address: "198.18.0.9" });
    assert.deepEqual(await ipJson(ns, "neigh", "show"), []);
    assert.throws(
      () => neighDel(nl, { link: "mnt-br", address: "198.18.0.9" }),
      /Cannot delete neighbour '198.18.0.9'.*ENOENT/,
    );
  });
});

Deno.test("fdbAdd() builds a VXLAN flood list and bridge entries that bridge fdb show agrees with", async () => {
  await withTestNetns(async (nl, ns) => {
    linkAdd(nl, { kind: "bridge", name: "mnt-br", up: true });
    addrAdd(nl, "mnt-br", "198.18.0.1/24");
    linkAdd(nl, { kind: "vxlan", name: "mnt-vx", id: 42, port: 6784, learning: false, master: "mnt-br" });
    linkAdd(nl, { kind: "veth", name: "mnt-p", master: "mnt-br", peer: { name: "mnt-pp" } });
    const zero = "00:00:00:00:00:00";
    fdbAdd(nl, { link: "mnt-vx", mac: zero, dst: "198.18.0.2", append: true });
    fdbAdd(nl, { link: "mnt-vx", mac: zero, dst: "198.18.0.3", append: true });
    fdbAdd(nl, { link: "mnt-vx", mac: "02:00:00:00:00:77", dst: "198.18.0.4", vni: 43, port: 8472 });
    fdbAdd(nl, { link: "mnt-p", mac: "02:00:00:00:00:05", master: true, state: "static" });
    const n = names(linkList(nl));
    const line = (mac: string, dev: string | undefined, dst: string | undefined, state: string) =>
      `${mac} ${dev} ${dst ?? "-"} ${state}`;
    const ours = fdbList(nl).filter((e) => !e.mac.startsWith("33:33") && !e.mac.startsWith("01:00:5e"))
      .map((e) => line(e.mac, n.get(e.index), e.dst, e.state));
    const theirs = (await bridgeJson<BridgeFdb>(ns, "fdb", "show"))
      .filter((e) => !e.mac.startsWith("33:33") && !e.mac.startsWith("01:00:5e"))
      .map((e) => line(e.mac, e.ifname, e.dst, e.state || "dynamic"));
    for (
      const want of [
        line(zero, "mnt-vx", "198.18.0.2", "permanent"),
        line(zero, "mnt-vx", "198.18.0.3", "permanent"),
        line("02:00:00:00:00:77", "mnt-vx", "198.18.0.4", "permanent"),
        line("02:00:00:00:00:05", "mnt-p", undefined, "static"),
      ]
    ) {
      assert.ok(ours.includes(want), `ours has ${want}`);
      assert.ok(theirs.includes(want), `bridge fdb has ${want}`);
    }
    assert.deepEqual(
      ours.filter((l) => !l.endsWith("dynamic")).sort(),
      theirs.filter((l) => !l.endsWith("dynamic")).sort(),
    );
    const remote = fdbList(nl, { link: "mnt-vx" }).find((e) => e.mac === "02:00:00:00:00:77")!;
    assert.deepEqual([remote.vni, remote.port, remote.self], [43, 8472, true]);
    const port = fdbList(nl, { link: "mnt-p" }).find((e) => e.mac === "02:00:00:00:00:05")!;
    assert.equal(port.master, linkGet(nl, "mnt-br").index);
    assert.equal(port.self, false);
  });
});

Deno.test("fdbDel() removes one flood destination and fdbAdd() names duplicates", async () => {
  await withTestNetns(async (nl, ns) => {
    linkAdd(nl, { kind: "vxlan", name: "mnt-vx", id: 7, learning: false });
    const zero = "00:00:00:00:00:00";
    fdbAdd(nl, { link: "mnt-vx", mac: zero, dst: "198.18.0.2", append: true });
    fdbAdd(nl, { link: "mnt-vx", mac: zero, dst: "198.18.0.3", append: true });
    assert.throws(
      () => fdbAdd(nl, { link: "mnt-vx", mac: zero, dst: "198.18.0.2" }),
      /Cannot add FDB entry '00:00:00:00:00:00' dst '198.18.0.2' on link 'mnt-vx': .*EEXIST/,
    );
    fdbDel(nl, { link: "mnt-vx", mac: zero, dst: "198.18.0.2" });
    const left = (await bridgeJson<BridgeFdb>(ns, "fdb", "show", "dev", "mnt-vx")).map((e) => e.dst);
    assert.deepEqual(left, ["198.18.0.3"]);
    assert.deepEqual(fdbList(nl, { link: "mnt-vx" }).map((e) => e.dst), ["198.18.0.3"]);
    fdbDel(nl, { link: "mnt-vx", mac: zero });
    assert.deepEqual(fdbList(nl, { link: "mnt-vx" }), []);
    assert.throws(
      () => fdbDel(nl, { link: "mnt-vx", mac: zero }),
      /Cannot delete FDB entry '00:00:00:00:00:00' on link 'mnt-vx'/,
    );
    assert.throws(() => fdbAdd(nl, { link: "mnt-vx", mac: "zz" }), /Invalid MAC address 'zz'/);
    assert.throws(
      () => fdbAdd(nl, { link: "mnt-vx", mac: zero, state: "sticky" as "static" }),
      /Invalid FDB state 'sticky'/,
    );
  });
});

Deno.test("fdbAdd() with replace overwrites a VXLAN entry, learned or permanent, and append repeats idempotently", async () => {
  await withTestNetns(async (nl, ns) => {
    linkAdd(nl, { kind: "vxlan", name: "mnt-vx", id: 7, learning: true });
    const mac = "02:00:00:00:00:0b", zero = "00:00:00:00:00:00";
    fdbAdd(nl, { link: "mnt-vx", mac, dst: "198.18.0.2", state: "dynamic" });
    fdbAdd(nl, { link: "mnt-vx", mac, dst: "198.18.0.3", replace: true });
    fdbAdd(nl, { link: "mnt-vx", mac, dst: "198.18.0.3", replace: true });
    fdbAdd(nl, { link: "mnt-vx", mac: zero, dst: "198.18.0.2", append: true });
    fdbAdd(nl, { link: "mnt-vx", mac: zero, dst: "198.18.0.2", append: true });
    const shown = await bridgeJson<BridgeFdb>(ns, "fdb", "show", "dev", "mnt-vx");
    assert.deepEqual(
      shown.map((e) => `${e.mac} ${e.dst} ${e.state}`).sort(),
      [`${zero} 198.18.0.2 permanent`, `${mac} 198.18.0.3 permanent`],
    );
    assert.throws(
      () => fdbAdd(nl, { link: "mnt-vx", mac, dst: "198.18.0.2", append: true, replace: true }),
      /append and replace exclude each other/,
    );
  });
});
