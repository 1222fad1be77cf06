/**
 * The dashboard's view model against hand-made reports (links, first-hand states, failed targets, DNS,
 * containers) and, seeded, against a simple oracle of random gossiped topologies: a link is established
 * exactly when both ends report each other established, and the partitions are the connected components of
 * those links. The embedded script must parse. The page in a browser is tests/api/dashboard_lab_test.ts.
 */
import assert from "node:assert/strict";
import { dashboardView, newViewMemory } from "../../src/api/dashboard/view.ts";
import { APP_JS } from "../../src/api/dashboard/assets.ts";
import { between, prng } from "../lab/prng.ts";
import { A, B, C, conn, peer, report } from "./report_fixture.ts";

Deno.test("view: this host's links first-hand, gossiped ones by both ends, a failed target joined to its peer", () => {
  const r = report([
    peer(A, "h1", [conn(B, "198.18.0.2:6783", true)]),
    peer(B, "h2", [conn(A, "198.18.0.1:40000", false), conn(C, "198.18.0.3:6783", true, false)]),
    peer(C, "h3", [conn(A, "198.18.0.1:6783", true)]),
  ], {
    connections: [{
      name: B,
      nickname: "h2",
      address: "198.18.0.2:6783",
      outbound: true,
      encrypted: true,
      state: "established",
      since: "2026-01-01T00:00:00.000Z",
      overlay: "sleeve (fastdp heartbeats stopped for 3 s; check UDP 6784)",
      mtu: 1376,
    }],
    targets: [{
      address: "198.18.0.3:6783",
      explicit: false,
      state: "failed",
      lastError: "connection refused",
    }],
    routes: { [B]: B },
  });
  const v = dashboardView(r, [], undefined, 5);
  const ab = v.links.find((l) => [l.a, l.b].sort().join() === [A, B].join())!;
  assert.deepEqual(
    { state: ab.state, overlay: ab.overlay, encrypted: ab.encrypted, mtu: ab.mtu, local: ab.local },
    { state: "down", overlay: "sleeve", encrypted: true, mtu: 1376, local: true },
  );
  assert.match(ab.reason!, /heartbeats stopped/);
  const bc = v.links.find((l) => [l.a, l.b].sort().join() === [B, C].join())!;
  assert.equal(bc.state, "pending", "h2 reports h3 not established and h3 does not report h2");
  const ac = v.links.find((l) => [l.a, l.b].sort().join() === [A, C].join())!;
  assert.equal(ac.state, "failed");
  assert.match(ac.reason!, /connection refused \(address learned by discovery\)/);
  assert.deepEqual(v.peers.map((p) => [p.nickname, p.reachable]), [["h1", true], ["h2", true], [
    "h3",
    false,
  ]]);
  assert.deepEqual(v.partitions, [[A, B].sort(), [C]]);
  assert.deepEqual(v.rings[0].shares.map((s) => [s.nickname, s.size, s.percent, s.reachable]), [
    ["h1", "2", 50, true],
    ["h3", "2", 50, false],
  ]);
});

Deno.test("view: a failed target at an unknown address becomes its own end; DNS names go to their containers", () => {
  const r = report([peer(A, "h1", [])], {
    targets: [{ address: "192.0.2.9:6783", explicit: true, state: "failed", lastError: "timed out" }],
  });
  r.dns = {
    domain: "weave.local.",
    ttl: 1,
    port: 53,
    upstream: ["10.0.0.2"],
    entries: [
      {
        name: "web.weave.local.",
        address: "10.32.0.1",
        container: "c1",
        origin: A,
        version: 1,
        tombstone: 0,
      },
      { name: "db.weave.local.", address: "10.32.0.2", container: "c9", origin: C, version: 1, tombstone: 0 },
    ],
  };
  const v = dashboardView(
    r,
    [{
      id: "c1",
      label: "c1",
      netnsPath: "/run/netns/c1",
      hostIfname: "vethwe1",
      mac: "02:00:00:00:00:01",
      addresses: ["10.32.0.1/12"],
    }],
    { rxBytes: 1, rxPackets: 1, txBytes: 2, txPackets: 2 },
    7,
  );
  assert.deepEqual(v.links.map((l) => [l.a, l.b, l.state, l.reason]), [[
    A,
    "192.0.2.9:6783",
    "failed",
    "timed out",
  ]]);
  assert.deepEqual(v.containers[0].names, ["web.weave.local."]);
  assert.deepEqual(v.dns?.upstream, ["10.0.0.2"]);
  assert.equal(v.dns?.entries[1].originNickname, "?");
  assert.equal(v.counters.fastdp?.txBytes, 2);
});

/** Components of an undirected graph by repeated relaxation: the oracle. */
function oracleComponents(nodes: string[], edges: [string, string][]): string[][] {
  const label = new Map(nodes.map((n) => [n, n]));
  for (let changed = true; changed;) {
    changed = false;
    for (const [a, b] of edges) {
      const m = label.get(a)! < label.get(b)! ? label.get(a)! : label.get(b)!;
      for (const x of [a, b]) {
        if (label.get(x) !== m) {
          label.set(x, m);
          changed = true;
        }
      }
    }
  }
  const groups = new Map<string, string[]>();
  for (const n of nodes) groups.set(label.get(n)!, [...groups.get(label.get(n)!) ?? [], n]);
  return [...groups.values()].map((g) => g.sort()).sort((x, y) => x[0].localeCompare(y[0]));
}

Deno.test("view: seeded random gossip: established iff both ends say so; partitions are the components", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const rand = prng(seed);
    const n = between(rand, 2, 8);
    const names = Array.from({ length: n }, (_, i) => `0${i}:00:00:00:00:00`);
    const says = new Map<string, { to: string; established: boolean }[]>(names.map((x) => [x, []]));
    for (const a of names) {
      for (const b of names) {
        if (a !== b && rand() < 0.4) says.get(a)!.push({ to: b, established: rand() < 0.8 });
      }
    }
    const peers = names.map((x, i) =>
      peer(x, `n${i}`, says.get(x)!.map((c) => conn(c.to, "198.18.0.1:6783", false, c.established)))
    );
    const v = dashboardView({ ...report(peers), name: names[0], nickname: "n0" }, [], undefined, 0);
    const established: [string, string][] = [];
    for (const a of names) {
      for (const b of names) {
        const ab = says.get(a)!.find((c) => c.to === b), ba = says.get(b)!.find((c) => c.to === a);
        if (a < b && ab?.established && ba?.established) established.push([a, b]);
      }
    }
    const got = v.links.filter((l) => l.state === "established").map((l) => [l.a, l.b].sort().join());
    assert.deepEqual(got.sort(), established.map((e) => e.join()).sort(), `seed ${seed}`);
    const parts = v.partitions.map((g) => [...g].sort()).sort((x, y) => x[0].localeCompare(y[0]));
    assert.deepEqual(parts, oracleComponents(names, established), `seed ${seed}`);
    assert.ok(v.partitions[0].includes(names[0]), `seed ${seed}: our partition first`);
  }
});

Deno.test("the embedded dashboard script parses", () => {
  assert.doesNotThrow(() => new Function(APP_JS));
});

Deno.test("view: a peer the topology dropped stays, lost and unreachable, with its failed target drawn to it", () => {
  const memory = newViewMemory();
  const before = report([
    peer(A, "h1", [conn(B, "198.18.0.2:6783", true)]),
    peer(B, "h2", [conn(A, "x:1", false)]),
  ]);
  dashboardView(before, [], undefined, 0, memory);
  const after = report([peer(A, "h1", [])], {
    targets: [{
      address: "198.18.0.2:6783",
      explicit: true,
      state: "connecting",
      lastError: "no answer within 5 s",
    }],
  });
  const v = dashboardView(after, [], undefined, 1, memory);
  assert.deepEqual(v.peers.map((p) => [p.nickname, p.reachable, p.lost]), [["h1", true, false], [
    "h2",
    false,
    true,
  ]]);
  assert.deepEqual(v.links.map((l) => [l.b, l.state, l.reason]), [[
    B,
    "failed",
    "no answer within 5 s; dialling again",
  ]]);
  assert.deepEqual(v.partitions, [[A], [B]]);
});
