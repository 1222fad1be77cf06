/**
 * End-to-end tests of the fast datapath with real meshnet daemons on lab hosts:
 *
 *   full:  h1, h2, h3 all reach each other: every pair on fastdp; blocking UDP 6784 between h1 and h2 moves
 *          that pair to sleeve while a transfer runs, unblocking brings it back; a stale bridge entry on the
 *          sleeve's port for a container behind a fastdp peer goes at its first frame
 *   mixed: h1–h3 blocked on UDP 6784 from the start: h1–h3 sleeve, the others fastdp; broadcasts and
 *          multicasts arrive exactly once
 *   line:  h1 ── h2 ── h3 on fastdp per pair; h1 reaches h3 through h2's sleeve
 *   off:   --no-fastdp and a password keep connections on sleeve, and status says why
 */
import assert from "node:assert/strict";
import {
  type Lab,
  labContainerAddress,
  launchMeshnet,
  meshnet,
  startMeshnet,
  withLab,
} from "../../src/lab/mod.ts";
import {
  broadcastOnce,
  converge,
  multicastOnce,
  mustExec,
  overlayAddress as addr,
  poll,
  report,
  tcpdump,
  Watched,
} from "./lab_traffic.ts";

/** Fixed container addresses (startMeshnet) and an IPAM range apart from them, as in the sleeve tests. */
const LAUNCH = ["--ipalloc-range", "10.48.0.0/12"];
/** Our nftables table in a host namespace. */
const TABLE = "mnt_fastdp";

/** Each connection's overlay on `host`, by the peer's nickname (h1, h2, …). */
async function overlays(lab: Lab, host: number): Promise<Record<string, string>> {
  const r = await report(lab, host);
  return Object.fromEntries(r.router.connections.map((c) => [c.nickname, c.overlay]));
}

/** Polls until `host`'s overlays match `want` (nickname → regexp), failing after `ms` with what it saw. */
async function overlaysBecome(
  lab: Lab,
  host: number,
  want: Record<string, RegExp>,
  ms = 20_000,
): Promise<void> {
  let seen: Record<string, string> = {};
  await poll(
    async () => {
      seen = await overlays(lab, host);
      return Object.entries(want).every(([peer, re]) => re.test(seen[peer] ?? "")) || undefined;
    },
    ms,
    () =>
      `h${host} overlays: ${JSON.stringify(seen)}, want ${Object.entries(want).map(([p, r]) => `${p}=${r}`)}`,
  );
}

/** Drops VXLAN from `from`'s underlay address in `host`'s namespace (both ends then miss their acks). */
async function blockVxlan(lab: Lab, host: number, from: number): Promise<void> {
  await mustExec(lab, `h${host}`, [
    "nft",
    `add table inet ${TABLE}; add chain inet ${TABLE} input { type filter hook input priority 0 ; }; ` +
    `add rule inet ${TABLE} input ip saddr ${lab.host(from).address} udp dport 6784 drop`,
  ]);
}

async function unblockVxlan(lab: Lab, host: number): Promise<void> {
  await mustExec(lab, `h${host}`, ["nft", `delete table inet ${TABLE}`]);
}

/** Pings between every pair of hosts' first containers, both ways. */
async function pingAll(lab: Lab): Promise<void> {
  const n = lab.hosts.length;
  for (let a = 1; a <= n; a++) {
    for (let b = 1; b <= n; b++) {
      if (a === b) continue;
      const out = await mustExec(lab, `h${a}c1`, ["ping", "-c2", "-i0.2", "-W2", addr(b)]);
      assert.match(out, / 0% packet loss/, `h${a}c1 → ${addr(b)}`);
    }
  }
}

/** Counts VXLAN datagrams on the LAN while h1c1 pings h2c1 (fastdp carries the pings, not the sleeve). */
async function vxlanCarries(lab: Lab): Promise<number> {
  const cap = await tcpdump(lab, "lan", ["-i", "any", "udp port 6784 and greater 100 and less 200"]);
  await mustExec(lab, "h1c1", ["ping", "-c5", "-i0.1", "-W2", addr(2)]);
  const out = await cap.stop();
  return out.split("\n").filter((l) => l.includes(".6784")).length;
}

const FAST = /^fastdp$/;

Deno.test("fastdp: a full mesh of 3 runs fastdp; a pair blocked on UDP 6784 falls back to sleeve under a running transfer and returns", async (t) => {
  await withLab({ hosts: 3, containers: 1, topology: "full" }, async (lab) => {
    await startMeshnet(lab, LAUNCH);
    await converge(lab, [["h1c1", addr(2)], ["h1c1", addr(3)], ["h2c1", addr(3)]]);
    await t.step("every pair is on fastdp, status and metrics say so", async () => {
      for (const h of [1, 2, 3]) {
        const others = [1, 2, 3].filter((x) => x !== h).map((x) => [`h${x}`, FAST]);
        await overlaysBecome(lab, h, Object.fromEntries(others));
      }
      const conns = (await meshnet(lab, 1, ["status", "connections"])).stdout;
      assert.equal(conns.split("\n").filter((l) => / established .* fastdp /.test(l)).length, 2, conns);
      const metrics = await lab.exec("h1", ["curl", "-sf", "http://127.0.0.1:6784/metrics"]);
      assert.match(
        metrics.stdout,
        /^weave_connections\{state="established",type="fastdp",encryption="no"\} 2$/m,
      );
    });
    await t.step("containers reach each other, over VXLAN", async () => {
      await pingAll(lab);
      const n = await vxlanCarries(lab);
      assert.ok(n >= 10, `saw ${n} VXLAN datagrams for 5 pings`);
    });
    await t.step("blocking UDP 6784 moves h1–h2 to sleeve and back while a transfer runs", async () => {
      const server = new Watched(lab, "h2c1", ["iperf3", "-s", "-1", "-J"]);
      await poll(
        async () =>
          (await lab.exec("h2c1", ["ss", "-ltn", "sport = :5201"])).stdout.includes("5201") || undefined,
        5_000,
        () => "iperf3 server did not listen",
      );
      const client = new Watched(lab, "h1c1", [
        "iperf3",
        "-c",
        addr(2),
        "-t",
        "26",
        "-b",
        "40M",
        "-i",
        "1",
        "-J",
      ]);
      const started = Date.now();
      await new Promise((r) => setTimeout(r, 2_000));
      await blockVxlan(lab, 2, 1);
      const fell = Date.now();
      const sleeve = /^sleeve \(fastdp heartbeats stopped/;
      await overlaysBecome(lab, 1, { h2: sleeve, h3: FAST }, 15_000);
      await overlaysBecome(lab, 2, { h1: sleeve, h3: FAST }, 15_000);
      const fellMs = Date.now() - fell;
      const conns = (await meshnet(lab, 1, ["status", "connections"])).stdout;
      assert.match(conns, /established .*unencrypted sleeve \(fastdp heartbeats stopped .*UDP 6784/, conns);
      await new Promise((r) => setTimeout(r, 10_000)); // the transfer runs on sleeve for a while
      const unblocked = Date.now();
      await unblockVxlan(lab, 2);
      await overlaysBecome(lab, 1, { h2: FAST }, 15_000);
      await overlaysBecome(lab, 2, { h1: FAST }, 15_000);
      assert.equal(await client.wait(), 0, client.stdout.slice(-2000));
      await server.wait();
      const intervals: { sum: { bytes: number } }[] = JSON.parse(client.stdout).intervals;
      const bytes = intervals.map((i) => i.sum.bytes);
      const end = JSON.parse(server.stdout).end.sum_received.bytes;
      // 26 s at 40 Mbit/s is 130 MB; the switch costs a few seconds of retransmission backoff.
      assert.ok(end > 60e6, `received ${end} bytes; per second sent: ${bytes}`);
      assert.ok(bytes.slice(-3).every((b) => b > 0), `the transfer stalled at the end: ${bytes}`);
      // After the block the transfer is silent until TCP's first retransmission after the fallback; its backoff
      // doubles through the outage, so that comes up to the outage's length after the fallback (at 0.2 s ·
      // (2ⁿ − 1) after the block: 3.0 or 6.2 s for a fallback within 2–4 s, 12.6 s when it took longer). From then
      // on the sleeve carries it: every whole second from the first with data to the unblock.
      const [blockedSecond, lastSleeveSecond] = [
        (fell - started) / 1000 + 1,
        (unblocked - started) / 1000 - 1,
      ]
        .map(Math.floor);
      const resumed = bytes.findIndex((b, i) => i >= blockedSecond && b > 0);
      assert.ok(
        resumed >= 0 && resumed < lastSleeveSecond,
        `the transfer did not resume on sleeve before second ${lastSleeveSecond} (blocked in ${
          blockedSecond - 1
        }): ${bytes}`,
      );
      assert.ok(
        bytes.slice(resumed, lastSleeveSecond).every((b) => b > 0),
        `seconds ${resumed}..${lastSleeveSecond} on sleeve carried ${bytes}`,
      );
      // Heartbeats go fast a second after the first miss: the fallback comes 2–4 s after the block (plus the
      // polling of both hosts); the bound leaves room for a loaded machine.
      assert.ok(fellMs < 10_000, `fell back after ${fellMs} ms`);
    });
    await t.step(
      "a bridge entry on the sleeve's port for a container behind a fastdp peer goes at its first frame",
      async () => {
        // What the bridge learns when the peer's end of a pair switches after ours (its frames still came over
        // the sleeve): the bridge then sends that MAC's frames to the sleeve only, which leaves them to VXLAN.
        // h1's sleeve knows h2c1's MAC from the transfer it carried above.
        const mac = (await mustExec(lab, "h2c1", ["cat", "/sys/class/net/ethwe/address"])).trim();
        await mustExec(lab, "h1", ["bridge", "fdb", "replace", mac, "dev", "weave-tap", "master", "dynamic"]);
        const r = await lab.exec("h1c1", ["ping", "-c4", "-i0.3", "-W2", addr(2)]);
        assert.match(r.stdout, / [34] received/, `only the first ping may meet the stale entry: ${r.stdout}`);
        const fdb = await mustExec(lab, "h1", ["bridge", "fdb", "show", "dev", "weave-tap"]);
        assert.ok(!fdb.includes(mac), `the stale entry is gone: ${fdb}`);
      },
    );
  });
});

Deno.test("fastdp: in a mixed mesh (h1–h3 on sleeve, the rest fastdp) broadcast and multicast arrive exactly once", async (t) => {
  await withLab({ hosts: 3, containers: 1, topology: "full" }, async (lab) => {
    await blockVxlan(lab, 1, 3);
    await blockVxlan(lab, 3, 1);
    await startMeshnet(lab, LAUNCH);
    await converge(lab, [["h1c1", addr(2)], ["h1c1", addr(3)], ["h2c1", addr(3)]]);
    const probing = /^sleeve \(fastdp heartbeats not answered yet/;
    await overlaysBecome(lab, 1, { h2: FAST, h3: probing });
    await overlaysBecome(lab, 2, { h1: FAST, h3: FAST });
    await overlaysBecome(lab, 3, { h1: probing, h2: FAST });
    for (const from of ["h1c1", "h2c1", "h3c1"]) {
      await t.step(`a broadcast from ${from}`, () => broadcastOnce(lab, "10.32.99.3", from));
    }
    await t.step("multicast", () => multicastOnce(lab));
    await t.step("containers reach each other", () => pingAll(lab));
  });
});

Deno.test("fastdp: in a line h1–h2–h3 each pair is fastdp and h1 reaches h3 through h2's sleeve", async (t) => {
  await withLab({ hosts: 3, containers: 1, topology: "line" }, async (lab) => {
    await startMeshnet(lab, LAUNCH);
    await converge(lab, [["h1c1", addr(3)], ["h3c1", addr(1)]]);
    await overlaysBecome(lab, 2, { h1: FAST, h3: FAST });
    await t.step("ping across two hops both ways", () => pingAll(lab));
    await t.step("broadcast once", () => broadcastOnce(lab, "10.32.99.4"));
    await t.step("a TCP stream across two hops", async () => {
      const server = new Watched(lab, "h3c1", ["iperf3", "-s", "-1"]);
      await poll(
        async () =>
          (await lab.exec("h3c1", ["ss", "-ltn", "sport = :5201"])).stdout.includes("5201") || undefined,
        5_000,
        () => "iperf3 server did not listen",
      );
      await mustExec(lab, "h1c1", ["iperf3", "-c", addr(3), "-t", "2"]);
      assert.equal(await server.wait(), 0);
    });
  });
});

Deno.test("fastdp: --no-fastdp and encrypted meshes stay on sleeve and status says why", async (t) => {
  await t.step(
    "--no-fastdp on one end",
    () =>
      withLab({ hosts: 2, containers: 1, topology: "full" }, async (lab) => {
        await launchMeshnet(lab, 1, [...LAUNCH, "--no-fastdp"]);
        await launchMeshnet(lab, 2, LAUNCH);
        for (const h of lab.hosts) {
          const r = await meshnet(lab, h.number, [
            "attach",
            labContainerAddress(h.number, 1),
            h.containers[0],
          ]);
          assert.equal(r.code, 0, r.stderr);
        }
        await converge(lab, [["h1c1", addr(2)]]);
        await overlaysBecome(lab, 1, { h2: /^sleeve \(fastdp turned off with --no-fastdp\)$/ });
        await overlaysBecome(lab, 2, { h1: /^sleeve \(the peer does not offer fastdp\)$/ });
      }),
  );
  await t.step("a password", () =>
    withLab({ hosts: 2, containers: 1, topology: "full" }, async (lab) => {
      await startMeshnet(lab, [...LAUNCH, "--password", "s3cret"]);
      await converge(lab, [["h1c1", addr(2)]]);
      const conns = (await meshnet(lab, 1, ["status", "connections"])).stdout;
      assert.match(conns, /established +encrypted sleeve \(encrypted: fastdp has no encryption/, conns);
      const links = await mustExec(lab, "h1", ["ip", "-d", "link", "show"]);
      assert.doesNotMatch(links, /vxlan-6784/);
    }));
});
