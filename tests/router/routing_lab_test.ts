/**
 * Containers reach the world, Services and DNS through their host's gateway, and application subnets stay
 * apart, on a lab of three hosts: h1 and h2 run meshnet, h3 is "the world" (an underlay address nobody
 * routes the overlay to, so a reply can only come back masqueraded). The rendered nftables table is
 * covered in tests/netdev/nftables_test.ts.
 */
import assert from "node:assert/strict";
import { type Lab, launchMeshnet, meshnet, meshnetDataDir, withLab } from "../../src/lab/mod.ts";
import { until } from "../../testing/poll.ts";
import { GATEWAY_ADDRESS } from "../../src/netdev/constants.ts";

const SERVICE_IP = "10.96.0.10";

async function ok(lab: Lab, host: number, ...args: string[]): Promise<string> {
  const r = await meshnet(lab, host, args);
  assert.equal(r.code, 0, `h${host} meshnet ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Whether `from` gets an answer to a ping of `to` (two tries, one second each). */
async function pings(lab: Lab, from: string, to: string): Promise<boolean> {
  return (await lab.exec(from, ["ping", "-c2", "-i0.2", "-W1", to])).code === 0;
}

/** Pings until one reply within `ms`, for paths that need a moment (ARP, the mesh coming up). */
async function reaches(lab: Lab, from: string, to: string, ms = 15_000): Promise<void> {
  await until(`${from} to reach ${to}`, ms, async () => (await pings(lab, from, to)) || undefined);
}

async function routes(lab: Lab, ns: string): Promise<string> {
  return (await lab.exec(ns, ["ip", "-4", "route", "show"])).stdout;
}

async function sysctl(lab: Lab, host: string, key: string): Promise<string> {
  return (await lab.exec(host, ["cat", `/proc/sys/net/${key}`])).stdout.trim();
}

/** Launches meshnet on h1 and h2, peered with each other only: h3 stays a plain underlay host. */
async function launchPair(lab: Lab): Promise<void> {
  for (const h of [1, 2]) {
    await launchMeshnet(lab, h, ["--ipalloc-init", "consensus=2", "--no-fastdp"], [
      lab.host(3 - h).address,
    ]);
  }
}

Deno.test("a container reaches the world and a Service on another host through its gateway; reset undoes it", async () => {
  await withLab({ hosts: 3, containers: 2 }, async (lab) => {
    const [h1c1, h1c2] = lab.containersOf(1), [h2c1, h2c2] = lab.containersOf(2);
    const world = lab.host(3).address;
    assert.equal(await sysctl(lab, "h1", "ipv4/ip_forward"), "0");
    await launchPair(lab);

    // An automatic address, a default route through the gateway, and the world answers through h1.
    await ok(lab, 1, "attach", h1c1);
    assert.match(await routes(lab, h1c1), new RegExp(`^default via ${GATEWAY_ADDRESS} dev ethwe`, "m"));
    await reaches(lab, h1c1, world);
    assert.equal(await sysctl(lab, "h1", "ipv4/ip_forward"), "1");

    // --no-default-route, and a default route the container has (Docker's eth0) is never replaced.
    await ok(lab, 1, "attach", "--no-default-route", h1c2);
    assert.doesNotMatch(await routes(lab, h1c2), /^default/m);
    assert.match(await routes(lab, h1c2), new RegExp(`^${GATEWAY_ADDRESS} dev ethwe`, "m"));
    for (
      const cmd of [
        ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer"],
        ["ip", "link", "set", "eth0-peer", "up"],
        ["ip", "link", "set", "eth0", "up"],
        ["ip", "addr", "add", "192.0.2.2/24", "dev", "eth0"],
        ["ip", "route", "add", "default", "via", "192.0.2.1"],
      ]
    ) assert.equal((await lab.exec(h2c2, cmd)).code, 0, cmd.join(" "));
    await ok(lab, 2, "attach", h2c2);
    assert.match(await routes(lab, h2c2), /^default via 192\.0\.2\.1 dev eth0/m);
    assert.equal((await routes(lab, h2c2)).match(/^default/gm)?.length, 1);

    // A Service: h1 DNATs its virtual IP to an HTTP server in a container on h2, as kube-proxy would.
    const backend = (await ok(lab, 2, "attach", h2c1)).split("/")[0];
    const server = lab.spawn(h2c1, ["python3", "-m", "http.server", "8080", "--bind", backend]);
    try {
      const rules = [
        "add table ip svc",
        "add chain ip svc pre { type nat hook prerouting priority dstnat; }",
        `add rule ip svc pre ip daddr ${SERVICE_IP} tcp dport 80 dnat to ${backend}:8080`,
      ].join("\n");
      const nft = await lab.exec("h1", ["sh", "-c", `printf '%s\\n' '${rules}' | nft -f -`]);
      assert.equal(nft.code, 0, nft.stderr);
      const body = await until("the Service to answer", 20_000, async () => {
        const r = await lab.exec(h1c1, ["curl", "-s", "-m", "2", `http://${SERVICE_IP}/`]);
        return r.code === 0 ? r.stdout : undefined;
      });
      assert.match(body, /Directory listing/);
    } finally {
      server.kill();
      await server.status;
    }

    const status = await ok(lab, 1, "status");
    assert.match(status, new RegExp(`Gateway: ${GATEWAY_ADDRESS} on weave`));
    assert.match(status, /Masquerade: on/);
    assert.match(status, /Forwarding: on: .*reset puts back 0/);

    // reset: no meshnet table, and the sysctl meshnet changed is back; the one it found set stays.
    for (const h of [1, 2]) await ok(lab, h, "reset", "--data-dir", meshnetDataDir(lab, h));
    for (const h of ["h1", "h2"]) {
      const t = await lab.exec(h, ["nft", "list", "table", "inet", "meshnet"]);
      assert.notEqual(t.code, 0, `${h} still has the meshnet table`);
      assert.equal(await sysctl(lab, h, "ipv4/ip_forward"), "0", `${h} ip_forward restored`);
      assert.equal(await sysctl(lab, h, "bridge/bridge-nf-call-iptables"), "1", `${h} left as it was`);
    }
  });
});

Deno.test("application subnets stay apart on one host and across hosts; each reaches the world and DNS", async () => {
  await withLab({ hosts: 3, containers: 3 }, async (lab) => {
    const [a1, b1, web] = lab.containersOf(1), [a2, b2, client] = lab.containersOf(2);
    const world = lab.host(3).address;
    await launchPair(lab);
    // Hand-set addresses only, all outside the IPAM range: no automatic address is ever allocated.
    await ok(lab, 1, "attach", "10.2.1.1/24", a1);
    await ok(lab, 2, "attach", "10.2.1.2/24", a2);
    await ok(lab, 1, "attach", "10.2.2.1/24", b1);
    await ok(lab, 2, "attach", "10.2.2.2/24", b2);
    await ok(lab, 1, "attach", "--name", "web", "10.2.0.1/16", web);
    await ok(lab, 2, "attach", "--name", "client", "10.2.0.2/16", client);

    await reaches(lab, a1, "10.2.1.2");
    await reaches(lab, b2, "10.2.2.1");
    for (const c of [a1, a2, b1, b2]) await reaches(lab, c, world);
    for (const [from, to] of [[a1, "10.2.2.1"], [a1, "10.2.2.2"], [b2, "10.2.1.2"], [b2, "10.2.1.1"]]) {
      assert.equal(await pings(lab, from, to), false, `${from} must not reach ${to}`);
    }

    // DNS from launch, on the gateway, through the resolv.conf attach wrote; no IPAM ring was needed.
    const rings = JSON.parse(await ok(lab, 2, "report")).ipam.rings as { state: string }[];
    assert.ok(rings.every((r) => r.state !== "ready"), `no ring was made ready: ${JSON.stringify(rings)}`);
    const answer = await until("web.weave.local from h2's client", 15_000, async () => {
      const r = await lab.exec(client, ["dig", "+short", "+time=1", "+tries=1", "web.weave.local"]);
      return r.stdout.trim() === "10.2.0.1" ? r.stdout.trim() : undefined;
    });
    assert.equal(answer, "10.2.0.1");
    // A container of another subnet reaches the same DNS address.
    const r = await lab.exec(a2, [
      "dig",
      "+short",
      "+time=1",
      "+tries=2",
      `@${GATEWAY_ADDRESS}`,
      "web.weave.local",
    ]);
    assert.equal(r.stdout.trim(), "10.2.0.1", r.stderr);

    // meshnet's forward rule is what keeps them apart: without it h1 routes between the subnets.
    assert.equal((await lab.exec("h1", ["nft", "flush", "chain", "inet", "meshnet", "forward"])).code, 0);
    await reaches(lab, a1, "10.2.2.1");

    // The host route of a subnet goes with its last container on the host.
    const hostRoutes = async () =>
      (await lab.exec("h1", ["ip", "-4", "route", "show", "dev", "weave"])).stdout;
    assert.match(await hostRoutes(), /^10\.2\.1\.0\/24 .*metric 1000/m);
    await ok(lab, 1, "detach", a1);
    assert.doesNotMatch(await hostRoutes(), /^10\.2\.1\.0\/24/m);
    assert.match(await hostRoutes(), /^10\.2\.2\.0\/24 .*metric 1000/m);
    assert.match(await hostRoutes(), /^10\.32\.0\.0\/12 .*metric 1000/m, "the IPAM range stays routed");
  });
});

Deno.test("--no-masquerade leaves containers' addresses as they are; reset restores only what meshnet changed, across a restart", async () => {
  await withLab({ hosts: 2, containers: 1 }, async (lab) => {
    const [c] = lab.containersOf(1);
    const dir = meshnetDataDir(lab, 1);
    const nf = "bridge/bridge-nf-call-iptables";
    assert.equal((await lab.exec("h1", ["sh", "-c", `echo 0 > /proc/sys/net/${nf}`])).code, 0);
    await launchMeshnet(lab, 1, ["--no-masquerade", "--ipalloc-init", "consensus=1"], []);
    assert.equal(await sysctl(lab, "h1", nf), "1");
    assert.equal(await sysctl(lab, "h1", "ipv4/ip_forward"), "1");
    assert.match(await ok(lab, 1, "status"), /Masquerade: off/);
    const table = (await lab.exec("h1", ["nft", "list", "table", "inet", "meshnet"])).stdout;
    assert.match(table, /chain forward/);
    assert.doesNotMatch(table, /masquerade/);
    await ok(lab, 1, "attach", c);
    // h2 has no route back to the overlay: without masquerade the world cannot answer.
    assert.equal(await pings(lab, c, lab.host(2).address), false);

    // A restart finds both set: the record still holds the values from before the first launch.
    await ok(lab, 1, "stop");
    await launchMeshnet(lab, 1, ["--ipalloc-init", "consensus=1"], []);
    await reaches(lab, c, lab.host(2).address);
    await ok(lab, 1, "reset", "--data-dir", dir);
    assert.equal(await sysctl(lab, "h1", nf), "0");
    assert.equal(await sysctl(lab, "h1", "ipv4/ip_forward"), "0");
    assert.notEqual((await lab.exec("h1", ["nft", "list", "table", "inet", "meshnet"])).code, 0);
  });
});

Deno.test("an IPv6 container reaches the world through its host's IPv6 gateway; forwarding waits while the host takes router advertisements", async () => {
  await withLab({ hosts: 2, containers: 2 }, async (lab) => {
    const [c, c2] = lab.containersOf(1);
    const dir = meshnetDataDir(lab, 1);
    const [h1, world] = ["fd00:1ab::1", "fd00:1ab::2"];
    const forwarding6 = "ipv6/conf/all/forwarding";
    for (const [h, address] of [["h1", h1], ["h2", world]]) {
      const r = await lab.exec(h, ["ip", "-6", "addr", "add", `${address}/64`, "dev", "eth0", "nodad"]);
      assert.equal(r.code, 0, r.stderr);
    }
    // h1 holds a route learned from a router advertisement on eth0, which takes them (accept_ra 1).
    const ra = ["ip", "-6", "route", "add", "2001:db8::/32", "via", world, "dev", "eth0", "proto", "ra"];
    assert.equal((await lab.exec("h1", ra)).code, 0);
    assert.equal(await sysctl(lab, "h1", "ipv6/conf/eth0/accept_ra"), "1");
    const launch = ["--ipalloc-init", "consensus=1", "--ipalloc-range", "10.32.0.0/12,fd00:6d65:7368::/64"];
    await launchMeshnet(lab, 1, launch, []);
    assert.equal(await sysctl(lab, "h1", forwarding6), "0", "forwarding would drop the advertised route");
    assert.match(
      await ok(lab, 1, "status"),
      /Problem: IPv6 forwarding left off.*advertisements on eth0.*set net\.ipv6\.conf\.eth0\.accept_ra=2/,
    );

    const addresses = (await ok(lab, 1, "attach", c)).split(" ");
    assert.equal(addresses.length, 2, addresses.join(" "));
    const v6routes = (await lab.exec(c, ["ip", "-6", "route", "show", "default"])).stdout;
    assert.match(v6routes, /^default via fe80::a9fe:2001 dev ethwe/m);
    assert.match(
      (await lab.exec(c, ["ip", "-6", "neigh", "show", "fe80::a9fe:2001"])).stdout,
      /lladdr \S+ PERMANENT/,
    );
    assert.equal(await pings(lab, c, world), false, "not forwarded yet");

    // The operator does what status said; after a restart IPv6 is routed and masqueraded (the world has no
    // route to the overlay, so only a masqueraded reply can come back).
    assert.equal((await lab.exec("h1", ["sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=2"])).code, 0);
    await ok(lab, 1, "stop");
    await launchMeshnet(lab, 1, launch, []);
    assert.equal(await sysctl(lab, "h1", forwarding6), "1");
    await reaches(lab, c, world);
    const status = await ok(lab, 1, "status");
    assert.match(status, /Gateway6: fe80::a9fe:2001 on weave/);
    assert.match(status, /Forwarding6: on: .*reset puts back 0/);
    assert.doesNotMatch(status, /Problem/);
    const bridge = (await lab.exec("h1", ["ip", "-6", "addr", "show", "dev", "weave"])).stdout;
    assert.match(bridge, /inet6 fe80::a9fe:2001\/128 scope link nodad/);
    assert.doesNotMatch(bridge, /dadfailed|tentative/);

    // A container attached with IPv4 only gets its IPv6 default route with its first IPv6 address, and the
    // host routes that address's subnet into the bridge until it is detached.
    await ok(lab, 1, "attach", "10.2.0.5/24", c2);
    assert.equal((await lab.exec(c2, ["ip", "-6", "route", "show", "default"])).stdout, "");
    await ok(lab, 1, "attach", "fd00:beef::5/64", c2);
    assert.match(
      (await lab.exec(c2, ["ip", "-6", "route", "show", "default"])).stdout,
      /via fe80::a9fe:2001/,
    );
    const subnet = ["ip", "-6", "route", "show", "fd00:beef::/64"];
    assert.match((await lab.exec("h1", subnet)).stdout, /dev weave .*metric 1000/);
    await reaches(lab, c2, world);
    await ok(lab, 1, "detach", "fd00:beef::5/64", c2);
    assert.equal((await lab.exec("h1", subnet)).stdout, "", "the subnet's last address left");

    await ok(lab, 1, "reset", "--data-dir", dir);
    assert.equal(await sysctl(lab, "h1", forwarding6), "0", "reset puts IPv6 forwarding back");
    assert.match((await lab.exec("h1", ["ip", "-6", "route", "show", "2001:db8::/32"])).stdout, /proto ra/);
  });
});

Deno.test("what someone else removes of the routing (a firewall reload, sysctl --system) is put back within seconds", async () => {
  // Put back within one check period (ROUTING_CHECK_MS, 10 s); the wait allows for a loaded machine.
  await withLab({ hosts: 2, containers: 1 }, async (lab) => {
    const [c] = lab.containersOf(1);
    const world = lab.host(2).address;
    await launchMeshnet(lab, 1, ["--ipalloc-init", "consensus=1"], []);
    await ok(lab, 1, "attach", c);
    await reaches(lab, c, world);
    const removals = [
      ["nft", "flush", "ruleset"],
      ["ip", "addr", "del", `${GATEWAY_ADDRESS}/32`, "dev", "weave"],
      ["sysctl", "-qw", "net.ipv4.ip_forward=0"],
    ];
    for (const cmd of removals) assert.equal((await lab.exec("h1", cmd)).code, 0, cmd.join(" "));
    assert.equal(await pings(lab, c, world), false, "the removals cut the container off");
    await reaches(lab, c, world, 25_000);
    assert.equal((await lab.exec("h1", ["nft", "list", "table", "inet", "meshnet"])).code, 0);
    assert.equal(await sysctl(lab, "h1", "ipv4/ip_forward"), "1");
    assert.match(
      (await lab.exec("h1", ["ip", "addr", "show", "dev", "weave"])).stdout,
      /169\.254\.32\.1\/32/,
    );
    // Deleting the bridge's last IPv4 address made the kernel drop the subnet's route too.
    assert.match(
      (await lab.exec("h1", ["ip", "route", "show", "10.32.0.0/12"])).stdout,
      /dev weave .*metric 1000/,
    );
    const log = await Deno.readTextFile(`${meshnetDataDir(lab, 1)}/meshnet.log`);
    assert.match(
      log,
      /Put back what someone else removed.*the routes of containers' subnets.*nftables table inet meshnet/,
    );
  });
});
