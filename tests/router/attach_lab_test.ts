/**
 * `meshnet attach/detach/ps` against a real router on a lab host; the kernel side is covered in
 * tests/netdev, the data plane across hosts in tests/overlay.
 */
import assert from "node:assert/strict";
import { launchMeshnet, meshnet, meshnetDataDir, withLab } from "../../src/lab/mod.ts";
import { runCommand } from "../../src/lab/runner.ts";
import { until } from "../../testing/poll.ts";

Deno.test("attach, ps and detach: addresses, errors with exit codes, nothing half-made", async () => {
  await withLab({ hosts: 1, containers: 2 }, async (lab) => {
    await launchMeshnet(lab, 1, [], []);
    const [c1, c2] = lab.containersOf(1);
    const ok = async (...args: string[]) => {
      const r = await meshnet(lab, 1, args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      return r.stdout.trim();
    };
    assert.equal(await ok("attach", "10.32.1.1/12", c1), "10.32.1.1/12");
    assert.equal(await ok("attach", "10.32.1.2/12", "fd00:6d65::2/64", c2), "10.32.1.2/12 fd00:6d65::2/64");
    assert.equal((await lab.exec(c1, ["ping", "-c1", "-W2", "10.32.1.2"])).code, 0);
    assert.equal(await ok("attach", "10.32.1.3/12", c1), "10.32.1.1/12 10.32.1.3/12", "a second attach adds");
    assert.equal(await ok("attach", "10.32.1.3/12", c1), "10.32.1.1/12 10.32.1.3/12", "attach is idempotent");

    const ps = await ok("ps");
    assert.match(
      ps,
      new RegExp(`^${c1} ([0-9a-f]{2}:){5}[0-9a-f]{2} 10\\.32\\.1\\.1/12 10\\.32\\.1\\.3/12$`, "m"),
    );
    assert.match(ps, new RegExp(`^${c2} .* 10\\.32\\.1\\.2/12 fd00:6d65::2/64$`, "m"));

    const cases: [string[], number, RegExp][] = [
      [["attach", "10.32.1.2/12", c1], 1, /Cannot claim 10\.32\.1\.2 for .*c1: container .*c2 has it/],
      [["attach", "10.32.1.9/12", "mnt-no-such-container"], 1, /no such netns 'mnt-no-such-container'/],
      [["attach", "10.32/12", c2], 2, /Invalid CIDR '10\.32\/12'/],
      [["attach", "net:10.32/12", c2], 2, /Invalid CIDR '10\.32\/12'/],
      [["detach", "mnt-no-such-container"], 1, /no such netns/],
      [["expose", "10.32.5.5"], 2, /Invalid CIDR '10\.32\.5\.5': add a prefix length/],
      [["hide", "10.32.9.9/12"], 1, /Cannot hide 10\.32\.9\.9\/12: it is not exposed on weave; exposed: /],
      [["attach", "--name", "bad name!!", c2], 2, /Invalid name 'bad name!!'/],
      [["dns-add", "10.32.1.2", c2, "-h", "db.example.com"], 2, /outside the DNS domain 'weave\.local\.'/],
      [["connect", "bad host!!"], 2, /neither an IP address nor a host name/],
    ];
    for (const [args, code, re] of cases) {
      const r = await meshnet(lab, 1, args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, "one line, no stack trace");
    }
    const addrs = JSON.parse((await lab.exec(c2, ["ip", "-j", "addr", "show", "ethwe"])).stdout)[0].addr_info
      .filter((a: { scope: string }) => a.scope === "global").map((a: { local: string }) => a.local);
    assert.deepEqual(addrs, ["10.32.1.2", "fd00:6d65::2"], "failed attaches changed nothing");

    assert.equal(await ok("detach", "10.32.1.3/12", c1), "10.32.1.3/12");
    assert.equal(await ok("detach", c2), "10.32.1.2/12 fd00:6d65::2/64");
    assert.equal(
      (await lab.exec(c2, ["ip", "link", "show", "ethwe"])).code,
      1,
      "detach removed the interface",
    );
    assert.equal(
      (await lab.exec("h1", ["ip", "-o", "link", "show", "master", "weave"])).stdout.split("\n").filter((l) =>
        l.includes("vethwe")
      ).length,
      1,
      "one container port left on the bridge",
    );
    assert.match(await ok("ps"), new RegExp(`^${c1} .* 10\\.32\\.1\\.1/12$`));

    assert.match(
      await ok("expose", "10.32.5.5/12"),
      /(^| )10\.32\.5\.5\/12($| )/,
      "expose prints every exposed address",
    );
    assert.equal(await ok("hide", "10.32.5.5/12"), "10.32.5.5/12");
  });
});

Deno.test("launch refuses an overlay range that overlaps a host route, naming it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "mnt-unused-" });
  try {
    await withLab({ hosts: 1 }, async (lab) => {
      const r = await meshnet(lab, 1, ["launch", "--ipalloc-range", "198.18.0.0/16", "--data-dir", dir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /overlaps host route '198\.18\.0\.0\/15'[\s\S]*--ipalloc-range/);
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("reset stops the router and removes container interfaces, the bridge and the state", async () => {
  await withLab({ hosts: 1, containers: 1 }, async (lab) => {
    const dir = meshnetDataDir(lab, 1);
    const name = await launchMeshnet(lab, 1, [], []);
    const [c1] = lab.containersOf(1);
    assert.equal((await meshnet(lab, 1, ["attach", "10.32.1.1/12", c1])).code, 0);
    const r = await meshnet(lab, 1, ["reset", "--data-dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /Removed vethwe\w+, weave, the nftables table inet meshnet and \d+ state files; restored net\.ipv4\.ip_forward=0/,
    );
    assert.equal((await meshnet(lab, 1, ["status"])).code, 1, "the router is stopped");
    assert.equal((await lab.exec("h1", ["ip", "link", "show", "weave"])).code, 1, "the bridge is gone");
    assert.equal(
      (await lab.exec(c1, ["ip", "link", "show", "ethwe"])).code,
      1,
      "the container interface is gone",
    );
    assert.notEqual(await launchMeshnet(lab, 1, [], []), name, "a reset host starts as a new peer");
  });
});

Deno.test("a container whose namespace dies while something holds it: its host end is removed, and its restart attaches again", async () => {
  await withLab({ hosts: 1, containers: 0 }, async (lab) => {
    await launchMeshnet(lab, 1, [], []);
    const name = `${lab.prefix}r`;
    const bridgePorts = async () =>
      (await lab.exec("h1", ["ip", "-o", "link", "show", "master", "weave"])).stdout.split("\n")
        .filter((l) => l.includes("vethwe")).length;
    const make = async () => assert.equal((await runCommand(["ip", "netns", "add", name])).code, 0);
    await make();
    // A process keeps the first namespace alive after its name is gone, as a container runtime's
    // teardown can, so the kernel keeps the veth pair.
    const holder = new Deno.Command("ip", { args: ["netns", "exec", name, "sleep", "600"], stdout: "null" })
      .spawn();
    try {
      const first = await meshnet(lab, 1, ["attach", "10.32.1.7/12", name]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal((await runCommand(["ip", "netns", "del", name])).code, 0);
      await until(
        "the dead container's host end to be removed",
        10_000,
        async () => await bridgePorts() === 0 || undefined,
      );
      await make();
      const again = await meshnet(lab, 1, ["attach", "10.32.1.7/12", name]);
      assert.equal(again.code, 0, `re-attach after the restart: ${again.stderr}`);
      assert.equal(await bridgePorts(), 1);
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
      await runCommand(["ip", "netns", "del", name]);
    }
  });
});
