import assert from "node:assert/strict";
import { bfs, Routes } from "../../src/mesh/routes.ts";
import type { Peer, PeerConnection } from "../../src/mesh/peer.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";
import { oracleNextHops } from "./route_oracle.ts";
import { randomMesh } from "../../src/mesh/testing/pump.ts";

/** Peers from "A-B" (symmetric, established), "A>B" (only A reports it) and "A~B" (both, not established). */
function topology(...links: string[]): Map<string, Peer> {
  const conns = new Map<string, PeerConnection[]>();
  const add = (a: string, b: string, established: boolean) => {
    if (!conns.has(a)) conns.set(a, []);
    if (!conns.has(b)) conns.set(b, []);
    conns.get(a)!.push({ name: b, address: "", outbound: true, established });
  };
  for (const l of links) {
    const [a, op, b] = [l[0], l[1], l[2]];
    add(a, b, op !== "~");
    if (op !== ">") add(b, a, op !== "~");
    else if (!conns.has(b)) conns.set(b, []);
  }
  const peers = new Map<string, Peer>();
  for (const [name, cs] of conns) {
    cs.sort((x, y) => (x.name < y.name ? -1 : 1));
    peers.set(name, { name, nickname: name, uid: 1n, version: 1, connections: cs });
  }
  return peers;
}

function routesOf(us: string, peers: Map<string, Peer>): Routes {
  const r = new Routes(us);
  r.calculate((n) => peers.get(n));
  return r;
}

Deno.test("Routes.unicast() on line A-B-C goes through B", () => {
  const r = routesOf("A", topology("A-B", "B-C"));
  assert.equal(r.unicast("B"), "B");
  assert.equal(r.unicast("C"), "B");
  assert.equal(r.unicast("D"), undefined);
  assert.deepEqual(r.broadcast("A"), ["B"]);
  assert.deepEqual(routesOf("B", topology("A-B", "B-C")).broadcast("A"), ["C"]);
  assert.deepEqual(routesOf("C", topology("A-B", "B-C")).broadcast("A"), []);
});

Deno.test("Routes.unicast() excludes asymmetric and unestablished connections; unicastAll() uses them", () => {
  const r = routesOf("A", topology("A>B", "B-C", "A~D", "D-E"));
  assert.equal(r.unicast("B"), undefined);
  assert.equal(r.unicast("C"), undefined);
  assert.equal(r.unicast("D"), undefined);
  assert.equal(r.unicastAll("B"), "B");
  assert.equal(r.unicastAll("C"), "B");
  assert.equal(r.unicastAll("E"), "D");
  assert.deepEqual(r.broadcast("A"), []);
  assert.deepEqual(r.broadcastAll("A"), ["B", "D"]);
});

Deno.test("Routes.unicast() breaks ties by name and ignores connections to unknown peers", () => {
  const peers = topology("A-C", "A-B", "B-D", "C-D");
  const a = peers.get("A")!;
  peers.set("A", {
    ...a,
    connections: [...a.connections, { name: "Z", address: "", outbound: true, established: true }],
  });
  const r = routesOf("A", peers);
  assert.equal(r.unicast("D"), "B");
  assert.equal(r.unicastAll("Z"), undefined);
  assert.deepEqual(bfs((n) => peers.get(n), "Q", "all"), new Map([["Q", "Q"]]));
});

Deno.test("Routes matches a BFS oracle and broadcasts reach every peer exactly once on random graphs", () => {
  const rng = new SeededRandom(7);
  for (let trial = 0; trial < 20; trial++) {
    const n = 2 + rng.int(30);
    const names = Array.from({ length: n }, (_, i) => `p${String(i).padStart(2, "0")}`);
    const links = randomMesh(rng, n, rng.int(2 * n)).map(([a, b]) => `${names[a]}-${names[b]}`);
    const adj = new Map(names.map((x) => [x, [] as string[]]));
    for (const [a, , b] of links.map((l) => l.split(/(-)/))) {
      adj.get(a)!.push(b);
      adj.get(b)!.push(a);
    }
    const peers = new Map<string, Peer>();
    for (const [name, nbs] of adj) {
      const connections = [...nbs].sort().map((x) => ({
        name: x,
        address: "",
        outbound: true,
        established: true,
      }));
      peers.set(name, { name, nickname: name, uid: 1n, version: 1, connections });
    }
    const all = new Map(names.map((x) => [x, routesOf(x, peers)]));
    for (const x of names) {
      assert.deepEqual(
        new Map(all.get(x)!.unicastTable()),
        oracleNextHops(adj, x),
        `trial ${trial} from ${x}`,
      );
    }
    for (const src of names) {
      const got = new Map(names.map((x) => [x, 0]));
      const queue = [src];
      while (queue.length > 0) {
        const cur = queue.shift()!;
        for (const hop of all.get(cur)!.broadcast(src)) {
          assert.ok(adj.get(cur)!.includes(hop), `broadcast hop ${cur}->${hop} is not a link`);
          got.set(hop, got.get(hop)! + 1);
          queue.push(hop);
        }
      }
      for (const x of names) assert.equal(got.get(x), x === src ? 0 : 1, `trial ${trial}: ${x} from ${src}`);
    }
  }
});

Deno.test("Routes.randomNeighbours() picks 2·log2(peers) distinct neighbours, weighted by destinations", () => {
  const hub = [..."BCDEFGHIJKLM"].map((x) => `A-${x}`);
  const r = routesOf("A", topology(...hub));
  const rng = new SeededRandom(3);
  for (let i = 0; i < 200; i++) {
    const picked = r.randomNeighbours("C", () => rng.next());
    assert.equal(picked.length, Math.ceil(2 * Math.log2(13)));
    assert.equal(new Set(picked).size, picked.length);
    assert.ok(!picked.includes("C"));
  }
  assert.equal(routesOf("A", topology("A-B", "A-C")).randomNeighbours(undefined, () => rng.next()).length, 2);
  const small = routesOf("A", topology("A-B", "B-C", "B-D", "A-E"));
  let bFirst = 0;
  for (let i = 0; i < 2000; i++) if (small.randomNeighbours(undefined, () => rng.next())[0] === "B") bFirst++;
  assert.ok(bFirst > 1300 && bFirst < 1700, `B routes 3 of 4 destinations, picked first ${bFirst} of 2000`);
  assert.deepEqual(routesOf("A", topology()).randomNeighbours(undefined, () => rng.next()), []);
});
