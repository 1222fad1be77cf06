/**
 * End-to-end tests of the mesh control plane with real meshnet processes on lab hosts.
 *
 *   line:  h1 ── h2 ── h3      (h1 and h3 cannot reach each other on the underlay)
 */
import assert from "node:assert/strict";
import { until as poll } from "../../testing/poll.ts";
import { launchMeshnet, meshnet, meshnetDataDir, withLab } from "../../src/lab/mod.ts";
import type { Lab } from "../../src/lab/mod.ts";
import type { Report } from "../../src/client/wire.ts";

async function report(lab: Lab, host: string): Promise<Report> {
  const r = await meshnet(lab, host, ["report"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Polls `host`'s report until `ok` holds, or fails with the last report after `ms`. */
function until(lab: Lab, host: string, ok: (r: Report) => boolean, ms = 15_000): Promise<Report> {
  let last: Report | undefined;
  return poll(
    () => `a condition on ${host}; last report: ${JSON.stringify(last?.router, null, 1)}`,
    ms,
    async () => {
      last = await report(lab, host);
      return ok(last) ? last : undefined;
    },
    200,
  );
}

function log(lab: Lab, host: string): string {
  return Deno.readTextFileSync(`${meshnetDataDir(lab, host)}/meshnet.log`);
}

Deno.test("mesh: in a line h1–h2–h3, h1 learns h3 by gossip and routes to it via h2; status shows it", async () => {
  await withLab({ hosts: 3, topology: "line" }, async (lab) => {
    const [n1, n2, n3] = [
      await launchMeshnet(lab, 1),
      await launchMeshnet(lab, 2),
      await launchMeshnet(lab, 3),
    ];
    const r = await until(lab, "h1", (r) => r.router.routes[n3] === n2);
    // A port scanner's garbage and an HTTP request close only their own connections.
    const h2 = lab.host(2).address;
    for (
      const junk of [
        "head -c 20000 /dev/urandom",
        "printf 'GET / HTTP/1.1\\r\\n\\r\\n'",
        "printf 'meshnet\\1\\1'",
      ]
    ) {
      await lab.exec("h1", ["bash", "-c", `${junk} > /dev/tcp/${h2}/6783`]);
    }
    await until(lab, "h2", (r) => r.router.handshaking === 0 && r.router.connections.length === 2);
    assert.match(log(lab, "h2"), /Handshake failed/);
    assert.deepEqual(r.router.peers.map((p) => p.name).sort(), [n1, n2, n3].sort());
    assert.equal(r.router.connections.length, 1);

    const status = (await meshnet(lab, "h1", ["status"])).stdout;
    assert.match(status, new RegExp(`Name: ${n1}\\(h1\\)`));
    assert.match(status, /Peers: 3 \(with 4 established connections\)/);
    assert.match(status, /Encryption: disabled/);
    const peers = (await meshnet(lab, "h1", ["status", "peers"])).stdout;
    for (const n of [n1, n2, n3]) assert.match(peers, new RegExp(`^${n}\\(h\\d\\)$`, "m"));
    const conns = (await meshnet(lab, "h2", ["status", "connections"])).stdout;
    assert.equal(conns.split("\n").filter((l) => / established /.test(l)).length, 2, conns);
    assert.equal((await meshnet(lab, "h1", ["status", "targets"])).stdout, `${lab.host(2).address}:6783\n`);
    const bad = await meshnet(lab, "h1", ["status", "nope"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Unknown status view 'nope'/);
    // h1 learns h3's address by discovery but the line keeps h1 and h3 apart: the summary says so.
    const h3 = `${lab.host(3).address}:6783`.replaceAll(".", "\\.");
    const explained = new RegExp(`failed ${h3}: .*; this address was learned by discovery`);
    const deadline = Date.now() + 30_000;
    let summary = "";
    while (
      !explained.test(summary = (await meshnet(lab, "h1", ["status"])).stdout) && Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.match(summary, explained);

    const metrics = await lab.exec("h2", ["curl", "-sf", "http://127.0.0.1:6784/metrics"]);
    assert.equal(metrics.code, 0, metrics.stderr);
    const established = [
      ...metrics.stdout.matchAll(
        /^weave_connections\{state="established",type="(?:fastdp|sleeve)",encryption="no"\} (\d+)$/gm,
      ),
    ];
    assert.equal(established.reduce((n, m) => n + Number(m[1]), 0), 2, metrics.stdout);
    assert.match(metrics.stdout, /^meshnet_peers 3$/m);
    assert.match(metrics.stdout, /^meshnet_gossip_sent_bytes_total\{channel="topology"\} [1-9]\d*$/m);
    for (
      const family of [
        "meshnet_sleeve_frames_total",
        "meshnet_sleeve_drops_total",
        "weave_max_ips",
        "weave_dns_entries",
      ]
    ) assert.match(metrics.stdout, new RegExp(`^# TYPE ${family} `, "m"));
    assert.match(metrics.stdout, /^weave_max_ips\{family="ipv4"\} 1048576$/m);
  });
});

Deno.test("mesh: a peer killed with -9 and restarted rejoins, and the others see its new UID", async () => {
  await withLab({ hosts: 3, topology: "line" }, async (lab) => {
    await launchMeshnet(lab, 1);
    await launchMeshnet(lab, 2);
    const n3 = await launchMeshnet(lab, 3);
    const before = await until(lab, "h1", (r) => r.router.peers.length === 3);
    const oldUid = before.router.peers.find((p) => p.name === n3)!.uid;
    const pid = Deno.readTextFileSync(`${meshnetDataDir(lab, 3)}/meshnet.pid`).trim();
    Deno.kill(Number(pid), "SIGKILL");
    await until(lab, "h2", (r) => r.router.connections.length === 1);
    assert.equal(await launchMeshnet(lab, 3), n3, "the peer name survives a kill -9");
    const after = await until(lab, "h1", (r) => {
      const p = r.router.peers.find((p) => p.name === n3);
      return p !== undefined && p.uid !== oldUid && r.router.routes[n3] !== undefined;
    });
    assert.equal(after.router.peers.length, 3);
  });
});

Deno.test("mesh: a wrong or missing password is refused on both sides with a clear log line", async () => {
  await withLab({ hosts: 3 }, async (lab) => {
    const a = lab.host(1).address;
    await launchMeshnet(lab, 1, ["--password", "right"], []);
    await launchMeshnet(lab, 2, ["--password", "wrong"], [a]);
    await launchMeshnet(lab, 3, [], [a]);
    await new Promise((r) => setTimeout(r, 2500));
    for (const h of ["h1", "h2", "h3"]) {
      const r = await report(lab, h);
      assert.equal(r.router.connections.length, 0, `${h} must have no connection`);
      assert.equal(r.router.peers.length, 1);
    }
    assert.match(log(lab, "h2"), /Handshake failed.*(password|authenticat)/i);
    assert.match(log(lab, "h3"), /Handshake failed.*password/i);
    assert.match(log(lab, "h1"), /Handshake failed.*password/i);
    const conns = (await meshnet(lab, "h2", ["status", "connections"])).stdout;
    // Between attempts the target is failed with its retry time; during one, connecting with the last error.
    assert.match(conns, /(failed .*password.*retry: |connecting .*password.*dialling again now)/i);
  });
});

Deno.test("mesh: --conn-limit caps connections and says so in the log", async () => {
  await withLab({ hosts: 4 }, async (lab) => {
    await launchMeshnet(lab, 1, ["--conn-limit", "2", "--no-discovery"], []);
    const a = [lab.host(1).address];
    for (const h of [2, 3, 4]) await launchMeshnet(lab, h, ["--no-discovery"], a);
    await until(lab, "h1", (r) => r.router.connections.length === 2);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await report(lab, "h1")).router.connections.length, 2);
    assert.match(log(lab, "h1"), /Connection limit reached \(2\)/);
  });
});

Deno.test("mesh: connect and forget change the targets; bad peers are refused with exit 2", async () => {
  await withLab({ hosts: 2 }, async (lab) => {
    await launchMeshnet(lab, 1, [], []);
    const n2 = await launchMeshnet(lab, 2, [], []);
    const c = await meshnet(lab, "h1", ["connect", lab.host(2).address]);
    assert.equal(c.code, 0, c.stderr);
    await until(lab, "h1", (r) => r.router.connections.some((x) => x.name === n2));
    assert.equal((await meshnet(lab, "h1", ["forget", lab.host(2).address])).code, 0);
    assert.equal((await meshnet(lab, "h1", ["status", "targets"])).stdout, "");
    const bad = await meshnet(lab, "h1", ["connect", "host:99999"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /port '99999'/);
  });
});
