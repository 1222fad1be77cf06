/**
 * DNS end to end on a three-host line (h1 — h2 — h3): names gossiped across two hops, answered to dig and
 * getent inside containers through the resolv.conf meshnet writes, removed within 2 s of a detach or a
 * container's death on every host, outside addresses, PTR, and forwarding to an upstream dnsmasq that runs
 * on h2's underlay address. The name table's logic is covered in tests/router/dns_service_test.ts and
 * tests/dns.
 */
import assert from "node:assert/strict";
import { type Lab, launchMeshnet, meshnet, withLab } from "../../src/lab/mod.ts";
import { GATEWAY_ADDRESS } from "../../src/netdev/constants.ts";
import { until } from "../../testing/poll.ts";

/** The addresses dig returns for `name` asked inside `ns` (its resolv.conf, or `server` when given). */
async function dig(lab: Lab, ns: string, name: string, args: string[] = []): Promise<string[]> {
  const r = await lab.exec(ns, ["dig", "+short", "+tries=2", "+time=1", ...args, name]);
  return r.stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith(";"));
}

Deno.test("DNS across the mesh: names, resolv.conf, detach and death within 2 s, PTR, upstream", async () => {
  await withLab({ hosts: 3, containers: 2, topology: "line" }, async (lab) => {
    const etcDirs = lab.hosts.flatMap((h) => h.containers.map((c) => `/etc/netns/${c}`));
    const upstreamConf = await Deno.makeTempFile({ prefix: "mnt-dns-resolv-" });
    let dnsmasq: Deno.ChildProcess | undefined;
    try {
      const upstream = lab.host(2).address;
      await Deno.writeTextFile(upstreamConf, `nameserver ${upstream}\n`);
      dnsmasq = lab.spawn("h2", [
        "dnsmasq",
        "--no-daemon",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        `--listen-address=${upstream}`,
        "--address=/ext.example/192.0.2.7",
      ]);
      for (const h of lab.hosts) {
        await launchMeshnet(lab, h.number, [
          "--ipalloc-init",
          "consensus=3",
          "--resolv-conf",
          upstreamConf,
          "--no-fastdp",
        ]);
      }
      const ok = async (host: number, ...args: string[]) => {
        const r = await meshnet(lab, host, args);
        assert.equal(r.code, 0, `h${host} ${args.join(" ")}: ${r.stderr}`);
        return r.stdout.trim();
      };
      const [h1c1, h1c2] = lab.containersOf(1),
        [h2c1] = lab.containersOf(2),
        [h3c1, h3c2] = lab.containersOf(3);
      const ip = (cidr: string) => cidr.split("/")[0];

      const server = async (h: number) => {
        const r = await meshnet(lab, h, ["report"]);
        return r.code === 0 ? JSON.parse(r.stdout).dns?.address as string | undefined : undefined;
      };
      // A host serves DNS from its first container on: none yet, so no server (and no DNS Worker).
      assert.deepEqual(await Promise.all([1, 2, 3].map(server)), [undefined, undefined, undefined]);
      // Attached as DNS comes up (the server binds the gateway then): its resolv.conf follows at once.
      const mid = ip(await ok(2, "attach", "--name", "mid", h2c1));
      const servers = [undefined, await until("the DNS server of h2", 60_000, () => server(2)), undefined];
      assert.match(
        await ok(1, "status", "dns"),
        new RegExp(`^mid +${mid.replaceAll(".", "\\.")} +${h2c1} `, "m"),
      );
      await until(`${h2c1}'s resolv.conf`, 10_000, async () => {
        const text = await Deno.readTextFile(`/etc/netns/${h2c1}/resolv.conf`).catch(() => "");
        return text.includes(`nameserver ${servers[1]}`) && text.includes("search weave.local")
          ? true
          : undefined;
      });

      const web1 = ip(await ok(1, "attach", "--name", "web", h1c1));
      const alpha = ip(await ok(1, "attach", "--name", "alpha", h1c2));
      const web3 = ip(await ok(3, "attach", "--name", "web", h3c1));
      for (const h of [1, 3]) {
        servers[h - 1] = await until(`the DNS server of h${h}`, 60_000, () => server(h));
      }
      assert.deepEqual(servers, [GATEWAY_ADDRESS, GATEWAY_ADDRESS, GATEWAY_ADDRESS], "each on its gateway");
      const db = ip(await ok(3, "attach", "--name", "db.weave.local", h3c2));

      // A name registered on h1 resolves on h3, two hops away, through the container's resolv.conf.
      await until(
        "alpha on h3",
        10_000,
        async () => (await dig(lab, h3c1, "alpha.weave.local"))[0] === alpha || undefined,
      );
      const getent = await lab.exec(h3c1, ["getent", "hosts", "alpha"]);
      assert.equal(getent.code, 0, `getent via the search domain: ${getent.stderr}`);
      assert.match(getent.stdout, new RegExp(`^${alpha.replaceAll(".", "\\.")}\\s+alpha\\.weave\\.local`));

      // One name on two hosts: both come back, in varying order.
      await until(
        "both web addresses",
        10_000,
        async () => (await dig(lab, h2c1, "web.weave.local")).length === 2 || undefined,
      );
      const orders = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const got = await dig(lab, h2c1, "web.weave.local");
        assert.deepEqual([...got].sort(), [web1, web3].sort());
        orders.add(got.join(","));
      }
      assert.equal(orders.size, 2, "the order of the two addresses varies");

      // PTR, outside addresses, the CLI's own lookup, status dns, upstream forwarding.
      assert.deepEqual(await dig(lab, h3c1, web1, ["-x"]), ["web.weave.local."]);
      await ok(1, "dns-add", "192.0.2.50", "-h", "extern.weave.local");
      await until(
        "extern on h3",
        10_000,
        async () => (await dig(lab, h3c1, "extern.weave.local"))[0] === "192.0.2.50" || undefined,
      );
      assert.equal(await ok(3, "dns-lookup", "extern"), "192.0.2.50");
      assert.equal(await ok(2, "dns-lookup", "ext.example"), "192.0.2.7");
      assert.deepEqual(
        await dig(lab, h1c1, "ext.example"),
        ["192.0.2.7"],
        "forwarded to the upstream dnsmasq",
      );
      const status = await ok(2, "status", "dns");
      assert.match(
        status,
        new RegExp(`^alpha +${alpha.replaceAll(".", "\\.")} +${h1c2} +([0-9a-f]{2}:){5}[0-9a-f]{2}$`, "m"),
      );
      assert.match(status, /^extern +192\.0\.2\.50 +weave:extern /m);
      await ok(1, "dns-remove", "192.0.2.50", "-h", "extern.weave.local");
      await until(
        "extern gone on h3",
        10_000,
        async () => (await dig(lab, h3c1, "extern.weave.local")).length === 0 || undefined,
      );

      // Detach removes the name on every host within 2 s.
      await ok(1, "detach", h1c1);
      const detachedAt = Date.now();
      await Promise.all([h2c1, h3c1].map((c) =>
        until(`web1 gone as seen from ${c}`, 2000, async () => {
          const got = await dig(lab, c, "web.weave.local");
          return got.length === 1 && got[0] === web3 ? true : undefined;
        })
      ));
      assert.ok(Date.now() - detachedAt < 2500, "within 2 s (and the poll's own step)");
      await assert.rejects(Deno.stat(`/etc/netns/${h1c1}/resolv.conf`), Deno.errors.NotFound);

      // A container that dies (its namespace deleted) leaves DNS on every host within 2 s.
      assert.deepEqual(await dig(lab, h1c2, "db.weave.local"), [db]);
      assert.equal((await lab.exec("h3", ["ip", "netns", "delete", h3c2])).code, 0);
      const diedAt = Date.now();
      await Promise.all(
        [h1c2, h2c1].map((c) =>
          until(
            `db gone as seen from ${c}`,
            2000,
            async () => (await dig(lab, c, "db.weave.local")).length === 0 || undefined,
          )
        ),
      );
      assert.ok(Date.now() - diedAt < 2500, "within 2 s of its death");
      assert.doesNotMatch(await ok(3, "ps"), new RegExp(h3c2), "its record is forgotten");
      await until(
        `${h3c2}'s resolv.conf removed`,
        2000,
        async () =>
          (await Deno.stat(`/etc/netns/${h3c2}/resolv.conf`).then(() => false, () => true)) || undefined,
      );
      assert.equal(
        (await meshnet(lab, 1, ["dns-lookup", "db"])).code,
        1,
        "dns-lookup says when a name is unknown",
      );
    } finally {
      if (dnsmasq) {
        try {
          dnsmasq.kill("SIGTERM");
        } catch { /* already exited */ }
        await dnsmasq.status;
      }
      await Deno.remove(upstreamConf).catch(() => {});
      for (const d of etcDirs) await Deno.remove(d, { recursive: true }).catch(() => {});
    }
  });
});

Deno.test("launch --no-dns: nothing listens on port 53, and DNS commands and attach --name say DNS is off", async () => {
  await withLab({ hosts: 1, containers: 1 }, async (lab) => {
    await launchMeshnet(lab, 1, ["--no-dns", "--no-fastdp"], []);
    const [c1] = lab.containersOf(1);
    const attach = await meshnet(lab, 1, ["attach", "--name", "web", "10.32.1.1/12", c1]);
    assert.equal(attach.code, 2, attach.stderr);
    assert.match(attach.stderr, /Cannot name a container 'web': DNS is off on this router/);
    assert.notEqual((await lab.exec(c1, ["ip", "link", "show", "ethwe"])).code, 0, "nothing was attached");
    const lookup = await meshnet(lab, 1, ["dns-lookup", "web"]);
    assert.equal(lookup.code, 1);
    assert.match(lookup.stderr, /DNS is off on this router; launch it without --no-dns/);
    assert.equal((await meshnet(lab, 1, ["status", "dns"])).stdout, "DNS is off (launched with --no-dns)\n");
    assert.equal((await meshnet(lab, 1, ["attach", "10.32.1.1/12", c1])).code, 0);
    await new Promise((r) => setTimeout(r, 1000));
    assert.doesNotMatch((await lab.exec("h1", ["ss", "-Hlnu"])).stdout, /:53\s/, "no DNS server");
  });
});
