import assert from "node:assert/strict";
import { NetlinkError, type NetlinkSocket } from "../../../ffi/netlink/socket.ts";
import { type Link, linkAdd, linkList } from "../../../ffi/netlink/link.ts";
import { addrAdd } from "../../../ffi/netlink/addr.ts";
import { type Route, routeAdd, routeDel, routeList } from "../../../ffi/netlink/route.ts";
import { ipJson, withTestNetns } from "./fixture.ts";

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  scope?: string;
  protocol?: string;
}

/** One comparable line per route, in ip's terms (ip leaves out default scope and protocol "boot"). */
function ourLine(r: Route, names: Map<number, string>): string {
  const scope = r.scope === "global" ? "" : r.scope;
  const proto = r.protocol === "boot" ? "" : r.protocol;
  return [r.dst, r.gateway ?? "", r.dev === undefined ? "" : names.get(r.dev), r.metric ?? "", scope, proto]
    .join(" ");
}

function ipLine(r: IpRoute): string {
  return [r.dst, r.gateway ?? "", r.dev ?? "", r.metric ?? "", r.scope ?? "", r.protocol ?? ""].join(" ");
}

function names(links: Link[]): Map<number, string> {
  return new Map(links.map((l) => [l.index, l.name]));
}

function setUp(nl: NetlinkSocket): void {
  linkAdd(nl, { kind: "bridge", name: "mnt-br", up: true });
  addrAdd(nl, "mnt-br", "198.18.0.1/24");
  addrAdd(nl, "mnt-br", "fd00:18::1/64");
}

Deno.test("routeAdd() and routeList() handle v4 and v6 routes like ip route", async () => {
  await withTestNetns(async (nl, ns) => {
    setUp(nl);
    routeAdd(nl, { dst: "10.9.0.0/16", gateway: "198.18.0.2", metric: 7 });
    routeAdd(nl, { dst: "10.10.0.0/16", dev: "mnt-br" });
    routeAdd(nl, { dst: "10.11.0.0/24", dev: "mnt-br", scope: "global", src: "198.18.0.1" });
    routeAdd(nl, { dst: "default", gateway: "198.18.0.254" });
    routeAdd(nl, { dst: "fd00:20::/48", gateway: "fd00:18::2", metric: 50 });
    routeAdd(nl, { dst: "default", dev: "mnt-br", family: 6 });
    const n = names(linkList(nl));
    const v4 = routeList(nl, { family: 4 });
    assert.deepEqual(
      v4.map((r) => ourLine(r, n)).sort(),
      (await ipJson<IpRoute>(ns, "-4", "route", "show")).map(ipLine).sort(),
    );
    const v6 = routeList(nl, { family: 6 });
    assert.deepEqual(
      v6.map((r) => ourLine(r, n)).sort(),
      (await ipJson<IpRoute>(ns, "-6", "route", "show")).map(ipLine).sort(),
    );
    assert.equal(routeList(nl).length, v4.length + v6.length);
    const gw = v4.find((r) => r.dst === "10.9.0.0/16")!;
    assert.deepEqual([gw.gateway, gw.metric, gw.scope, gw.protocol, gw.table, gw.type], [
      "198.18.0.2",
      7,
      "global",
      "boot",
      254,
      "unicast",
    ]);
    assert.equal(v4.find((r) => r.dst === "10.10.0.0/16")?.scope, "link");
    assert.equal(v4.find((r) => r.dst === "10.11.0.0/24")?.prefsrc, "198.18.0.1");
  });
});

Deno.test("routeAdd() puts routes in other tables and routeList() filters them", async () => {
  await withTestNetns(async (nl, ns) => {
    setUp(nl);
    routeAdd(nl, { dst: "10.20.0.0/16", dev: "mnt-br", table: 100 });
    routeAdd(nl, { dst: "10.21.0.0/16", dev: "mnt-br", table: 1000 });
    const n = names(linkList(nl));
    assert.deepEqual(
      routeList(nl, { family: 4, table: 100 }).map((r) => ourLine(r, n)),
      (await ipJson<IpRoute>(ns, "-4", "route", "show", "table", "100")).map(ipLine),
    );
    assert.deepEqual(routeList(nl, { table: 1000 }).map((r) => r.dst), ["10.21.0.0/16"]);
    assert.ok(!routeList(nl).some((r) => r.table !== 254));
    const all = routeList(nl, { table: "all" });
    assert.ok(all.some((r) => r.table === 255 && r.type === "local"));
    routeDel(nl, { dst: "10.20.0.0/16", table: 100 });
    assert.deepEqual(routeList(nl, { table: 100 }), []);
  });
});

Deno.test("routeDel() removes v4 and v6 routes and names a missing one", async () => {
  await withTestNetns(async (nl, ns) => {
    setUp(nl);
    routeAdd(nl, { dst: "10.9.0.0/16", gateway: "198.18.0.2" });
    routeAdd(nl, { dst: "fd00:20::/48", gateway: "fd00:18::2" });
    routeDel(nl, { dst: "10.9.0.0/16" });
    routeDel(nl, { dst: "fd00:20::/48", gateway: "fd00:18::2", dev: "mnt-br" });
    const dsts = (await ipJson<IpRoute>(ns, "route", "show")).map((r) => r.dst);
    assert.deepEqual(dsts, ["198.18.0.0/24"]);
    assert.throws(() => routeDel(nl, { dst: "10.9.0.0/16" }), (e: unknown) => {
      assert.ok(e instanceof NetlinkError);
      assert.equal(e.code, "ESRCH");
      assert.match(e.message, /^Cannot delete route '10.9.0.0\/16'/);
      return true;
    });
  });
});

Deno.test("routeAdd() names bad input, duplicates and unreachable gateways", async () => {
  await withTestNetns((nl) => {
    setUp(nl);
    assert.throws(() => routeAdd(nl, { dst: "10.9.0.0/99" }), /Invalid CIDR '10.9.0.0\/99'/);
    assert.throws(() => routeAdd(nl, { dst: "10.9.0.0/16", gateway: "fd00::1" }), /gateway is not IPv4/);
    assert.throws(() => routeAdd(nl, { dst: "10.9.0.0/16", gateway: "1.2.3" }), /Invalid IP address '1.2.3'/);
    assert.throws(() => routeAdd(nl, { dst: "10.9.0.0/16", dev: "mnt-nope" }), /Unknown link 'mnt-nope'/);
    assert.throws(
      () => routeAdd(nl, { dst: "10.9.0.0/16", gateway: "10.99.0.1" }),
      /Cannot add route '10.9.0.0\/16' via '10.99.0.1': .*ENETUNREACH/,
    );
    routeAdd(nl, { dst: "10.9.0.0/16", dev: "mnt-br" });
    assert.throws(() => routeAdd(nl, { dst: "10.9.0.0/16", dev: "mnt-br" }), /Cannot add route .*EEXIST/);
  });
});
