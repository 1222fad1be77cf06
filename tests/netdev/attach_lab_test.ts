import assert from "node:assert/strict";
import { linkAdd } from "../../ffi/netlink/link.ts";
import { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { attachContainer, detachContainer, listAttached } from "../../src/netdev/attach.ts";
import { ensureBridge } from "../../src/netdev/bridge.ts";
import { containerMac, hostVethName } from "../../src/netdev/names.ts";
import { ipJson, linkNames, run, sysctlIn, withWorld } from "./fixture.ts";

interface IpLink {
  ifname: string;
  mtu: number;
  flags: string[];
  address: string;
  master?: string;
  operstate: string;
}

interface IpAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
}

/** The global addresses of `ifname` in `ns`, "ADDRESS/PREFIX". */
async function addrsIn(ns: string, ifname: string): Promise<string[]> {
  const [a] = await ipJson<IpAddr>(ns, "addr", "show", "dev", ifname);
  return a.addr_info.filter((i) => i.scope === "global").map((i) => `${i.local}/${i.prefixlen}`).sort();
}

async function ping(ns: string, ip: string): Promise<void> {
  await run("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", ip);
}

Deno.test("attachContainer() connects two containers over the bridge with IPv4 and IPv6", async () => {
  await withWorld(2, async ({ host, hostNs, containers: [c1, c2] }) => {
    ensureBridge(host, { mtu: 1376 });
    const r1 = attachContainer(host, {
      container: c1,
      bridge: "weave",
      addresses: ["10.32.0.1/12", "fd00:32::1/64"],
      macSeed: "peer-a",
    });
    attachContainer(host, { container: c2, bridge: "weave", addresses: ["10.32.0.2/12", "fd00:32::2/64"] });
    assert.deepEqual(r1, {
      hostIfname: hostVethName(c1.id),
      mac: containerMac(c1.id, "peer-a"),
      created: true,
      added: ["10.32.0.1/12", "fd00:32::1/64"],
    });
    const [inside] = await ipJson<IpLink>(c1.id, "link", "show", "ethwe");
    assert.equal(inside.mtu, 1376);
    assert.equal(inside.address, r1.mac);
    assert.ok(inside.flags.includes("UP"));
    const [port] = await ipJson<IpLink>(hostNs, "link", "show", r1.hostIfname);
    assert.equal(port.master, "weave");
    assert.equal(port.mtu, 1376);
    assert.ok(port.flags.includes("UP"));
    assert.deepEqual(await addrsIn(c1.id, "ethwe"), ["10.32.0.1/12", "fd00:32::1/64"]);
    const routes = await ipJson<{ dst: string; dev: string }>(c1.id, "route", "show");
    assert.ok(routes.some((r) => r.dst === "224.0.0.0/4" && r.dev === "ethwe"));
    assert.equal(await sysctlIn(c1.id, "ipv6/conf/ethwe/accept_dad"), "0");
    assert.equal(await sysctlIn(c1.id, "ipv4/conf/ethwe/arp_ignore"), "1");
    assert.equal(await sysctlIn(c1.id, "ipv4/conf/ethwe/arp_announce"), "2");
    assert.equal(await sysctlIn(c1.id, "ipv4/neigh/ethwe/base_reachable_time_ms"), "5000");
    assert.equal(await sysctlIn(hostNs, `ipv6/conf/${r1.hostIfname}/disable_ipv6`), "1");
    // the host namespace's ethwe-free view and the test's own namespace were not touched
    assert.equal(await sysctlIn(c2.id, "ipv4/conf/default/arp_ignore"), "0");
    await ping(c1.id, "10.32.0.2");
    await ping(c2.id, "fd00:32::1");
  });
});

Deno.test("attachContainer() adds addresses to an attached container and refuses one it has", async () => {
  await withWorld(1, async ({ host, hostNs, containers: [c] }) => {
    ensureBridge(host);
    attachContainer(host, { container: c, bridge: "weave", addresses: ["10.32.0.5/12"] });
    const again = attachContainer(host, {
      container: c,
      bridge: "weave",
      addresses: ["10.32.0.6/12", "fd00:32::6/64"],
    });
    assert.equal(again.created, false);
    assert.deepEqual(await addrsIn(c.id, "ethwe"), ["10.32.0.5/12", "10.32.0.6/12", "fd00:32::6/64"]);
    assert.throws(
      () =>
        attachContainer(host, { container: c, bridge: "weave", addresses: ["10.32.0.9/12", "10.32.0.5/12"] }),
      { message: `Cannot attach 10.32.0.5/12 to ${c.label}: address already on ethwe; detach it first` },
    );
    assert.throws(
      () => attachContainer(host, { container: c, bridge: "weave", addresses: ["10.32.0.5/16"] }),
      /address already on ethwe/,
    );
    assert.deepEqual(await addrsIn(c.id, "ethwe"), ["10.32.0.5/12", "10.32.0.6/12", "fd00:32::6/64"]);
    assert.equal((await linkNames(hostNs)).filter((n) => n.startsWith("vethwe")).length, 1);
  });
});

Deno.test("attachContainer() refuses bad input before changing anything", async () => {
  await withWorld(1, async ({ host, hostNs, containers: [c] }) => {
    ensureBridge(host);
    const attach = (addresses: string[]) => () =>
      attachContainer(host, { container: c, bridge: "weave", addresses });
    assert.throws(attach([]), {
      message: `Cannot attach ${c.label}: no address given; pass at least one CIDR such as 10.32.1.5/12`,
    });
    assert.throws(attach(["10.32.0.1/12", "10.32.1"]), {
      message: `Cannot attach 10.32.1 to ${c.label}: Invalid CIDR '10.32.1': '10.32.1' is not an IP address`,
    });
    assert.throws(attach(["10.32.0.1/12", "10.32.0.1/24"]), /address given twice/);
    assert.throws(
      () => attachContainer(host, { container: c, bridge: "mnt-nd-nobr", addresses: ["10.32.0.1/12"] }),
      /Unknown link 'mnt-nd-nobr'/,
    );
    assert.deepEqual((await linkNames(hostNs)).filter((n) => n !== "lo" && n !== "weave"), []);
    assert.deepEqual(await linkNames(c.id), ["lo"]);
  });
});

Deno.test("attachContainer() removes everything it made when a step fails midway", async () => {
  await withWorld(1, async ({ host, hostNs, containers: [c] }) => {
    ensureBridge(host);
    // the kernel refuses a multicast IPv6 address, after the veth and the first address were made
    assert.throws(
      () =>
        attachContainer(host, { container: c, bridge: "weave", addresses: ["10.32.0.1/12", "ff0e::5/64"] }),
      /Cannot attach ff0e::5\/64 to .*: Cannot add address 'ff0e::5\/64'/,
    );
    assert.deepEqual((await linkNames(hostNs)).filter((n) => n.startsWith("vethwe")), []);
    assert.deepEqual(await linkNames(c.id), ["lo"]);
    // on an attached container, the addresses added before the failure are removed again
    attachContainer(host, { container: c, bridge: "weave", addresses: ["10.32.0.1/12"] });
    assert.throws(
      () =>
        attachContainer(host, { container: c, bridge: "weave", addresses: ["10.32.0.2/12", "ff0e::6/64"] }),
      /Cannot add address 'ff0e::6\/64'/,
    );
    assert.deepEqual(await addrsIn(c.id, "ethwe"), ["10.32.0.1/12"]);
  });
});

Deno.test("attachContainer() refuses a container whose ethwe is not a meshnet veth", async () => {
  await withWorld(1, async ({ host, containers: [c] }) => {
    ensureBridge(host);
    const cnl = NetlinkSocket.open({ netns: c.netnsPath });
    try {
      linkAdd(cnl, { kind: "bridge", name: "ethwe" });
    } finally {
      cnl.close();
    }
    assert.throws(
      () => attachContainer(host, { container: c, bridge: "weave", addresses: ["10.32.0.1/12"] }),
      {
        message:
          `Cannot attach ${c.label}: it has a bridge link named 'ethwe', not a meshnet veth; remove it or choose another interface name`,
      },
    );
    assert.throws(
      () => detachContainer({ container: c }),
      /Cannot detach .*: it has a bridge link named 'ethwe'/,
    );
    assert.deepEqual(await linkNames(c.id), ["ethwe", "lo"]);
  });
});

Deno.test("detachContainer() removes addresses, then the veth pair from both namespaces", async () => {
  await withWorld(1, async ({ host, hostNs, containers: [c] }) => {
    ensureBridge(host);
    attachContainer(host, { container: c, bridge: "weave", addresses: ["10.32.0.7/12", "fd00:32::7/64"] });
    assert.throws(() => detachContainer({ container: c, addresses: ["10.32.0.7", "10.32.0.99/12"] }), {
      message: `Cannot detach 10.32.0.99/12 from ${c.label}: address not on ethwe; list them with meshnet ps`,
    });
    assert.deepEqual(detachContainer({ container: c, addresses: ["10.32.0.7"] }), {
      removed: ["10.32.0.7/12"],
      interfaceRemoved: false,
    });
    assert.deepEqual(await addrsIn(c.id, "ethwe"), ["fd00:32::7/64"]);
    assert.deepEqual(detachContainer({ container: c, addresses: ["fd00:32::7/64"] }), {
      removed: ["fd00:32::7/64"],
      interfaceRemoved: true,
    });
    assert.deepEqual(await linkNames(c.id), ["lo"]);
    assert.deepEqual((await linkNames(hostNs)).filter((n) => n.startsWith("vethwe")), []);
    assert.throws(() => detachContainer({ container: c }), {
      message: `Cannot detach ${c.label}: it has no 'ethwe' interface; it is not attached`,
    });
    attachContainer(host, { container: c, bridge: "weave", addresses: ["10.32.0.8/12"] });
    assert.deepEqual(detachContainer({ container: c }), {
      removed: ["10.32.0.8/12"],
      interfaceRemoved: true,
    });
    assert.deepEqual((await linkNames(hostNs)).filter((n) => n.startsWith("vethwe")), []);
  });
});

Deno.test("listAttached() reports each container port with MAC and addresses read from the kernel", async () => {
  await withWorld(2, ({ host, containers: [c1, c2] }) => {
    ensureBridge(host);
    const r1 = attachContainer(host, {
      container: c1,
      bridge: "weave",
      addresses: ["fd00:32::1/64", "10.32.0.1/12"],
    });
    const r2 = attachContainer(host, { container: c2, bridge: "weave", addresses: ["10.32.0.2/12"] });
    linkAdd(host, { kind: "veth", name: "mnt-nd-tap", master: "weave", peer: { name: "mnt-nd-tap-p" } });
    const list = listAttached(host, "weave", { containers: [c1, c2] });
    assert.deepEqual(
      list.map((a) => [a.hostIfname, a.container?.id, a.ifname, a.mac, a.addresses]).sort(),
      [
        ["mnt-nd-tap", undefined, undefined, undefined, []],
        [r1.hostIfname, c1.id, "ethwe", r1.mac, ["10.32.0.1/12", "fd00:32::1/64"]],
        [r2.hostIfname, c2.id, "ethwe", r2.mac, ["10.32.0.2/12"]],
      ].sort(),
    );
    assert.ok(list.find((a) => a.hostIfname === r1.hostIfname)!.peerNetnsId !== undefined);
    // the default candidates are the names in /run/netns, which the test's namespaces are
    assert.deepEqual(
      listAttached(host, "weave").filter((a) => a.container).map((a) => a.container!.id).sort(),
      [c1.id, c2.id].sort(),
    );
    // without candidates the ports are still listed, without container details
    assert.deepEqual(listAttached(host, "weave", { containers: [] }).map((a) => a.addresses.length), [
      0,
      0,
      0,
    ]);
    assert.throws(() => listAttached(host, "mnt-nd-nobr"), /Unknown link 'mnt-nd-nobr'/);
  });
});

Deno.test("attachContainer() replaces a stale host end only when told, and never uses another attachment's interface", async () => {
  await withWorld(3, async ({ host, hostNs, containers: [c1, old, c3] }) => {
    ensureBridge(host, { mtu: 1376 });
    // The host end c1's id gives, left by a namespace of c1 that is gone (here: still alive elsewhere).
    linkAdd(host, { kind: "veth", name: hostVethName(c1.id), peer: { name: "ethwe", netns: old.netnsPath } });
    const opts = { container: c1, bridge: "weave", addresses: ["10.32.0.1/12"] };
    assert.throws(
      () => attachContainer(host, opts),
      new RegExp(`host interface '${hostVethName(c1.id)}' exists and may be another container's`),
    );
    assert.deepEqual(await linkNames(c1.netnsPath.slice(10)), ["lo"], "a refused attach changes nothing");
    const r = attachContainer(host, { ...opts, replaceStale: true });
    assert.equal(r.created, true);
    assert.deepEqual(await addrsIn(c1.netnsPath.slice(10), "ethwe"), ["10.32.0.1/12"]);
    assert.deepEqual(await linkNames(old.netnsPath.slice(10)), ["lo"], "the stale pair is gone");

    // Another id in c1's namespace: its ethwe is c1's, so attach is refused and detach (with host) leaves it.
    const intruder = { ...c1, id: "other-id", label: "other" };
    assert.throws(
      () => attachContainer(host, { ...opts, container: intruder, addresses: ["10.32.0.9/12"] }),
      /Cannot attach other: its 'ethwe' interface belongs to another attachment/,
    );
    assert.deepEqual(
      detachContainer({ container: intruder, host }),
      { removed: [], interfaceRemoved: false, absent: true },
    );
    assert.deepEqual(await addrsIn(c1.netnsPath.slice(10), "ethwe"), ["10.32.0.1/12"], "c1 is untouched");
    assert.deepEqual(detachContainer({ container: c3, host }).absent, true, "no interface at all is absent");
    assert.ok((await linkNames(hostNs)).includes(hostVethName(c1.id)));
  });
});

Deno.test("attachContainer() points the host's neighbour entry of a reused address at the new container at once", async () => {
  await withWorld(3, async ({ host, hostNs, containers: [c1, c2, other] }) => {
    ensureBridge(host);
    await run("ip", "-n", hostNs, "addr", "add", "10.32.0.100/12", "dev", "weave");
    // Another port keeps the bridge's carrier up, as on a host with more containers or a data plane: else
    // losing its last port flushes the bridge's neighbours and hides the problem.
    attachContainer(host, { container: other, bridge: "weave", addresses: ["10.32.0.9/12"] });
    attachContainer(host, { container: c1, bridge: "weave", addresses: ["10.32.0.5/12"] });
    await ping(hostNs, "10.32.0.5"); // the host now holds c1's MAC for 10.32.0.5
    detachContainer({ container: c1 });
    const { mac } = attachContainer(host, { container: c2, bridge: "weave", addresses: ["10.32.0.5/12"] });
    // Without the new entry the host kept c1's MAC and sent into nothing until it probed it out (~8 s).
    const [entry] = await ipJson<{ dst: string; lladdr: string }>(
      hostNs,
      "neigh",
      "show",
      "10.32.0.5",
      "dev",
      "weave",
    );
    assert.equal(entry.lladdr, mac);
    await run("ip", "netns", "exec", hostNs, "ping", "-c", "1", "-W", "1", "10.32.0.5");
  });
});
