import assert from "node:assert/strict";
import { NetlinkError } from "../../../ffi/netlink/socket.ts";
import { linkAdd } from "../../../ffi/netlink/link.ts";
import { addrAdd, addrDel, addrList } from "../../../ffi/netlink/addr.ts";
import { ipJson, withTestNetns } from "./fixture.ts";

interface IpAddrLink {
  ifindex: number;
  addr_info: { family: string; local: string; prefixlen: number; scope: string; label?: string }[];
}

async function ipAddrs(ns: string): Promise<string[]> {
  const links = await ipJson<IpAddrLink>(ns, "addr", "show");
  return links.flatMap((l) =>
    l.addr_info.map((a) => `${l.ifindex} ${a.family === "inet" ? 4 : 6} ${a.local}/${a.prefixlen} ${a.scope}`)
  ).sort();
}

Deno.test("addrAdd() and addrList() handle IPv4 and IPv6 like ip addr", async () => {
  await withTestNetns(async (nl, ns) => {
    const br = linkAdd(nl, { kind: "bridge", name: "mnt-br", up: true });
    addrAdd(nl, "mnt-br", "198.18.0.1/24");
    addrAdd(nl, br.index, "198.18.1.1/32", { scope: "link" });
    addrAdd(nl, "mnt-br", "fd00:18::1/64");
    addrAdd(nl, "lo", "fd00:19::1/128", { scope: "host" });
    const ours = addrList(nl);
    assert.deepEqual(
      ours.map((a) => `${a.index} ${a.family} ${a.address}/${a.prefix} ${a.scope}`).sort(),
      await ipAddrs(ns),
    );
    const v4 = addrList(nl, { link: "mnt-br", family: 4 });
    assert.deepEqual(v4.map((a) => [a.address, a.prefix, a.scope, a.label]).sort(), [
      ["198.18.0.1", 24, "global", "mnt-br"],
      ["198.18.1.1", 32, "link", "mnt-br"],
    ]);
    const v6 = addrList(nl, { family: 6 }).map((a) => a.address);
    assert.ok(v6.includes("fd00:18::1") && v6.includes("fd00:19::1"));
    assert.ok(v6.every((a) => a.includes(":")));
  });
});

Deno.test("addrDel() removes one address and names a missing one", async () => {
  await withTestNetns(async (nl, ns) => {
    linkAdd(nl, { kind: "bridge", name: "mnt-br" });
    addrAdd(nl, "mnt-br", "198.18.0.1/24");
    addrAdd(nl, "mnt-br", "fd00::1/64");
    addrDel(nl, "mnt-br", "198.18.0.1/24");
    addrDel(nl, "mnt-br", "fd00::1/64");
    assert.deepEqual(addrList(nl, { link: "mnt-br" }), []);
    assert.deepEqual(await ipAddrs(ns), []);
    assert.throws(() => addrDel(nl, "mnt-br", "198.18.0.1/24"), (e: unknown) => {
      assert.ok(e instanceof NetlinkError);
      assert.equal(e.code, "EADDRNOTAVAIL");
      assert.match(e.message, /^Cannot delete address '198.18.0.1\/24' from link 'mnt-br'/);
      return true;
    });
  });
});

Deno.test("addrAdd() names bad CIDRs, unknown links and duplicates", async () => {
  await withTestNetns((nl) => {
    linkAdd(nl, { kind: "bridge", name: "mnt-br" });
    assert.throws(
      () => addrAdd(nl, "mnt-br", "198.18.0.1"),
      /Invalid CIDR '198.18.0.1': add a prefix length/,
    );
    assert.throws(() => addrAdd(nl, "mnt-br", "198.18.0.1/40"), /Invalid CIDR '198.18.0.1\/40'/);
    assert.throws(() => addrAdd(nl, "mnt-br", "fd00::g/64"), /Invalid CIDR 'fd00::g\/64'/);
    assert.throws(() => addrAdd(nl, "mnt-nope", "198.18.0.1/24"), /Unknown link 'mnt-nope'/);
    assert.throws(() => addrList(nl, { link: "mnt-nope" }), /Unknown link 'mnt-nope'/);
    addrAdd(nl, "mnt-br", "198.18.0.1/24");
    assert.throws(
      () => addrAdd(nl, "mnt-br", "198.18.0.1/24"),
      /Cannot add address '198.18.0.1\/24' to link 'mnt-br': .*EEXIST/,
    );
    assert.throws(
      () => addrAdd(nl, "mnt-br", "198.18.0.2/24", { scope: "galaxy" as "global" }),
      /Invalid scope 'galaxy'/,
    );
  });
});
