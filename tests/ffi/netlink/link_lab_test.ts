import assert from "node:assert/strict";
import { NetlinkError } from "../../../ffi/netlink/socket.ts";
import { closeFd, openNetns } from "../../../ffi/netns.ts";
import {
  checkLinkName,
  type Link,
  linkAdd,
  linkDel,
  linkGet,
  linkIndex,
  linkList,
  linkSet,
  linkSetBridgePort,
} from "../../../ffi/netlink/link.ts";
import { ipJson, run, withTestNetns } from "./fixture.ts";

interface IpLink {
  ifindex: number;
  ifname: string;
  mtu: number;
  flags: string[];
  address?: string;
  master?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: Record<string, unknown>;
    info_slave_kind?: string;
    info_slave_data?: Record<string, unknown>;
  };
}

function byName(links: Link[]): Map<string, Link> {
  return new Map(links.map((l) => [l.name, l]));
}

/** Compares our view of every link with `ip -j -d link show`. */
async function assertSameAsIp(links: Link[], ns: string): Promise<void> {
  const ip = await ipJson<IpLink>(ns, "-d", "link", "show");
  const ours = byName(links);
  assert.deepEqual([...ours.keys()].sort(), ip.map((l) => l.ifname).sort());
  const names = new Map(links.map((l) => [l.index, l.name]));
  for (const l of ip) {
    const o = ours.get(l.ifname)!;
    assert.equal(o.index, l.ifindex, l.ifname);
    assert.equal(o.mtu, l.mtu, l.ifname);
    assert.equal(o.up, l.flags.includes("UP"), l.ifname);
    assert.equal(o.mac, l.address, l.ifname);
    assert.equal(o.master === undefined ? undefined : names.get(o.master), l.master, l.ifname);
    assert.equal(o.kind, l.linkinfo?.info_kind, l.ifname);
  }
}

Deno.test("linkAdd() creates bridge, veth and vxlan links that ip link show agrees with", async () => {
  await withTestNetns(async (nl, ns) => {
    const br = linkAdd(nl, { kind: "bridge", name: "mnt-br0", up: true, mtu: 1400 });
    assert.equal(br.kind, "bridge");
    assert.equal(br.up, true);
    assert.equal(br.mtu, 1400);
    const v = linkAdd(nl, {
      kind: "veth",
      name: "mnt-va",
      master: "mnt-br0",
      mac: "02:00:00:00:0a:01",
      up: true,
      peer: { name: "mnt-vb", up: true, mtu: 1300 },
    });
    assert.equal(v.master, br.index);
    assert.equal(v.mac, "02:00:00:00:0a:01");
    const peer = linkGet(nl, "mnt-vb");
    assert.equal(peer.up, true);
    assert.equal(peer.mtu, 1300);
    assert.equal(peer.parent, v.index);
    const vxlan = { id: 42, port: 6784, local: "198.18.0.1", dev: br.index, learning: false, ttl: 9 };
    const vx = linkAdd(nl, { kind: "vxlan", name: "mnt-vx0", ...vxlan });
    assert.deepEqual(vx.vxlan, vxlan);
    const links = linkList(nl);
    await assertSameAsIp(links, ns);
    const ipVx = (await ipJson<IpLink>(ns, "-d", "link", "show", "mnt-vx0"))[0].linkinfo!.info_data!;
    assert.equal(ipVx.id, 42);
    assert.equal(ipVx.port, 6784);
    assert.equal(ipVx.local, "198.18.0.1");
    assert.equal(ipVx.learning, false);
    assert.equal(ipVx.ttl, 9);
  });
});

Deno.test("linkAdd() puts a veth peer into another namespace and brings it up there", async () => {
  await withTestNetns(async (nl, ns) => {
    await withTestNetns(async (other, otherNs) => {
      linkAdd(nl, { kind: "veth", name: "mnt-host", peer: { name: "eth0", netns: otherNs, up: true } });
      assert.ok(!linkList(nl).some((l) => l.name === "eth0"));
      const eth0 = linkGet(other, "eth0");
      assert.equal(eth0.up, true);
      const ip = await ipJson<IpLink>(otherNs, "link", "show", "eth0");
      assert.ok(ip[0].flags.includes("UP"));
      const fd = openNetns(otherNs);
      try {
        linkAdd(nl, { kind: "veth", name: "mnt-host2", peer: { name: "eth1", netns: { fd } } });
      } finally {
        closeFd(fd);
      }
      assert.equal(linkGet(other, "eth1").kind, "veth");
      assert.ok((await ipJson(ns, "link", "show", "mnt-host2")).length === 1);
    });
  });
});

Deno.test("linkAdd() leaves nothing behind when the peer or master is refused", async () => {
  await withTestNetns(async (nl, ns) => {
    linkAdd(nl, { kind: "bridge", name: "mnt-taken" });
    assert.throws(
      () => linkAdd(nl, { kind: "veth", name: "mnt-new", peer: { name: "mnt-taken" } }),
      (e: unknown) =>
        e instanceof NetlinkError && e.code === "EEXIST" && /'mnt-new' with peer 'mnt-taken'/.test(e.message),
    );
    assert.throws(
      () => linkAdd(nl, { kind: "veth", name: "mnt-new", master: "mnt-nobr", peer: { name: "mnt-new-p" } }),
      /Unknown link 'mnt-nobr'/,
    );
    assert.throws(
      () =>
        linkAdd(nl, {
          kind: "veth",
          name: "mnt-new",
          peer: { name: "x", netns: "mnt-nl-missing", up: true },
        }),
      /'mnt-nl-missing'/,
    );
    linkAdd(nl, { kind: "vxlan", name: "mnt-vx", id: 5 });
    assert.throws(
      () => linkAdd(nl, { kind: "bridge", name: "mnt-new", master: "mnt-vx" }),
      (e: unknown) => e instanceof NetlinkError && e.code === "EOPNOTSUPP" && /'mnt-new'/.test(e.message),
    );
    assert.deepEqual((await ipJson<IpLink>(ns, "link", "show")).map((l) => l.ifname).sort(), [
      "lo",
      "mnt-taken",
      "mnt-vx",
    ]);
  });
});

Deno.test("linkAdd() and linkSet() check names before sending", async () => {
  await withTestNetns((nl) => {
    assert.throws(
      () => checkLinkName("a".repeat(16)),
      /Invalid link name 'a{16}': 16 bytes, must be 1 to 15/,
    );
    assert.throws(() => checkLinkName("ééééééééé"), /18 bytes/);
    assert.throws(() => checkLinkName(""), /0 bytes/);
    assert.throws(() => checkLinkName("a/b"), /no '\/'/);
    checkLinkName("a".repeat(15));
    assert.throws(() => linkAdd(nl, { kind: "bridge", name: "mnt-a-much-too-long" }), /Invalid link name/);
    assert.throws(
      () => linkAdd(nl, { kind: "veth", name: "mnt-ok", peer: { name: "mnt-peer-far-too-long" } }),
      /Invalid link name 'mnt-peer-far-too-long'/,
    );
    assert.throws(
      () => linkAdd(nl, { kind: "vxlan", name: "mnt-vx", id: 1 << 24 }),
      /Invalid VXLAN id 16777216/,
    );
    assert.throws(() => linkSet(nl, "lo", { name: "x".repeat(20) }), /Invalid link name/);
    assert.deepEqual(linkList(nl).map((l) => l.name), ["lo"]);
  });
});

Deno.test("linkGet(), linkIndex() and linkDel() name an unknown link", async () => {
  await withTestNetns((nl) => {
    assert.equal(linkIndex(nl, "lo"), 1);
    assert.equal(linkIndex(nl, 7), 7);
    assert.throws(() => linkIndex(nl, 0), /Invalid link index 0/);
    assert.throws(() => linkGet(nl, "mnt-ghost"), (e: unknown) => {
      assert.ok(e instanceof NetlinkError);
      assert.equal(e.code, "ENODEV");
      assert.match(e.message, /^Unknown link 'mnt-ghost' in netns 'mnt-nl-/);
      return true;
    });
    assert.throws(() => linkGet(nl, 999), /Unknown link '999'/);
    assert.throws(() => linkDel(nl, "mnt-ghost"), /Cannot delete link 'mnt-ghost'.*ENODEV/);
    assert.throws(() => linkSet(nl, "mnt-ghost", { up: true }), /on link 'mnt-ghost'.*ENODEV/);
  });
});

Deno.test("linkDel() removes a veth pair by name or index", async () => {
  await withTestNetns(async (nl, ns) => {
    const a = linkAdd(nl, { kind: "veth", name: "mnt-d1", peer: { name: "mnt-d1p" } });
    linkAdd(nl, { kind: "veth", name: "mnt-d2", peer: { name: "mnt-d2p" } });
    linkDel(nl, a.index);
    linkDel(nl, "mnt-d2p");
    assert.deepEqual((await ipJson<IpLink>(ns, "link", "show")).map((l) => l.ifname), ["lo"]);
  });
});

Deno.test("linkSet() changes up/down, MTU, MAC, name and master like ip link set", async () => {
  await withTestNetns(async (nl, ns) => {
    const br = linkAdd(nl, { kind: "bridge", name: "mnt-br" });
    const v = linkAdd(nl, { kind: "veth", name: "mnt-s", peer: { name: "mnt-sp" } });
    linkSet(nl, "mnt-s", { up: true, mtu: 1280, master: "mnt-br", mac: "02:00:00:00:00:33" });
    let got = linkGet(nl, v.index);
    assert.deepEqual([got.up, got.mtu, got.master, got.mac], [true, 1280, br.index, "02:00:00:00:00:33"]);
    await assertSameAsIp(linkList(nl), ns);
    linkSet(nl, v.index, { up: false, master: null, name: "mnt-renamed" });
    got = linkGet(nl, v.index);
    assert.deepEqual([got.name, got.up, got.master], ["mnt-renamed", false, undefined]);
    assert.throws(
      () => linkSet(nl, "mnt-renamed", { name: "mnt-sp" }),
      /Cannot set name "mnt-sp" on link 'mnt-renamed'.*EEXIST/,
    );
    await assertSameAsIp(linkList(nl), ns);
  });
});

Deno.test("linkSet() moves a link to another namespace by name, fd and pid", async () => {
  await withTestNetns(async (nl) => {
    await withTestNetns(async (other, otherNs) => {
      for (const n of ["mnt-m1", "mnt-m2", "mnt-m3"]) {
        linkAdd(nl, { kind: "veth", name: n, peer: { name: `${n}p` } });
      }
      linkSet(nl, "mnt-m1", { netns: otherNs });
      const fd = openNetns(otherNs);
      try {
        linkSet(nl, "mnt-m2", { netns: { fd } });
      } finally {
        closeFd(fd);
      }
      // ip netns exec and sh both exec, so the pid stays the same and is inside otherNs once it prints
      const sleeper = new Deno.Command("ip", {
        args: ["netns", "exec", otherNs, "sh", "-c", "echo ready; exec sleep 30"],
        stdout: "piped",
      }).spawn();
      try {
        const reader = sleeper.stdout.getReader();
        await reader.read();
        reader.releaseLock();
        linkSet(nl, "mnt-m3", { netns: { pid: sleeper.pid } });
      } finally {
        sleeper.kill();
        await sleeper.stdout.cancel();
        await sleeper.status;
      }
      const there = linkList(other).map((l) => l.name).sort();
      assert.deepEqual(there, ["lo", "mnt-m1", "mnt-m2", "mnt-m3"]);
      assert.deepEqual(linkList(nl).map((l) => l.name).sort(), ["lo", "mnt-m1p", "mnt-m2p", "mnt-m3p"]);
      const peer = linkGet(nl, "mnt-m1p");
      assert.ok(peer.linkNetnsId !== undefined, "the peer now points into another namespace");
      assert.ok((await run("ip", "-n", otherNs, "link", "show", "mnt-m3")).includes("mnt-m3"));
    });
  });
});

Deno.test("linkSetBridgePort() sets learning, hairpin and isolated like bridge link set", async () => {
  await withTestNetns(async (nl, ns) => {
    linkAdd(nl, { kind: "bridge", name: "mnt-br" });
    linkAdd(nl, { kind: "veth", name: "mnt-p", master: "mnt-br", peer: { name: "mnt-pp" } });
    assert.deepEqual(linkGet(nl, "mnt-p").port, { learning: true, hairpin: false, isolated: false });
    linkSetBridgePort(nl, "mnt-p", { learning: false, hairpin: true, isolated: true });
    assert.deepEqual(linkGet(nl, "mnt-p").port, { learning: false, hairpin: true, isolated: true });
    const slave = (await ipJson<IpLink>(ns, "-d", "link", "show", "mnt-p"))[0].linkinfo!.info_slave_data!;
    assert.deepEqual([slave.learning, slave.hairpin, slave.isolated], [false, true, true]);
    linkSetBridgePort(nl, "mnt-p", { isolated: false });
    assert.deepEqual(linkGet(nl, "mnt-p").port, { learning: false, hairpin: true, isolated: false });
    assert.throws(
      () => linkSetBridgePort(nl, "mnt-pp", { learning: false }),
      /Cannot set bridge port flags .* on link 'mnt-pp'.*enslave it to a bridge first/,
    );
  });
});

Deno.test("linkAdd() names a VXLAN whose VNI and port are in use", async () => {
  await withTestNetns((nl) => {
    linkAdd(nl, { kind: "vxlan", name: "mnt-vx0", id: 42 });
    assert.throws(() => linkAdd(nl, { kind: "vxlan", name: "mnt-vx1", id: 42 }), (e: unknown) => {
      assert.ok(e instanceof NetlinkError);
      assert.equal(e.code, "EEXIST");
      assert.match(e.message, /^Cannot add vxlan link 'mnt-vx1'.*VNI already exists/);
      return true;
    });
    assert.deepEqual(linkList(nl).map((l) => l.name), ["lo", "mnt-vx0"]);
  });
});
