/**
 * Floods while the peers' topology views disagree (as during a mesh's bring-up): each engine gets route
 * tables computed from its OWN random view (links missing, links that do not exist, broadcast hops
 * scrambled), so the broadcast trees of different relays form cycles. Every flood must still reach each
 * bridge at most once, and die out within a bounded number of sends; with views that agree, exactly once.
 */
import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { BROADCAST_PEER, FRAME_HOP_LIMIT, RecordKind } from "../../../src/overlay/sleeve/constants.ts";
import { type DatagramHeader, readHeader, RecordReader } from "../../../src/overlay/sleeve/datagram.ts";
import type { RouteTables } from "../../../src/overlay/sleeve/forwarder.ts";
import { Bench, bfsRoutes, BROADCAST_MAC, frame, mac, payloadOf, peerName } from "./testbed.ts";

type Link = [number, number];

function randomGraph(rnd: SeededRandom, n: number): Link[] {
  const links: Link[] = [];
  for (let v = 1; v < n; v++) links.push([rnd.int(v), v]); // a random spanning tree: connected
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      if (rnd.next() < 0.3 && !links.some(([x, y]) => x === a && y === b)) links.push([a, b]);
    }
  }
  return links;
}

/** Peer x's own, wrong, view: some real links missing, some that do not exist, some hops scrambled. */
function staleTables(rnd: SeededRandom, n: number, links: Link[], x: number): RouteTables {
  const view = links.filter(() => rnd.next() < 0.7);
  for (let k = rnd.int(4); k > 0; k--) {
    const a = rnd.int(n), b = rnd.int(n);
    if (a !== b) view.push([Math.min(a, b), Math.max(a, b)]);
  }
  const tables = bfsRoutes(n, view)[x];
  const neighbours = links.filter(([a, b]) => a === x || b === x).map(([a, b]) => a === x ? b : a);
  for (let s = 0; s < n; s++) {
    if (rnd.next() < 0.3) {
      tables.broadcast.set(peerName(s), neighbours.filter(() => rnd.next() < 0.6).map(peerName));
    } else if (rnd.next() < 0.1) {
      tables.broadcast.delete(peerName(s));
    }
  }
  return tables;
}

/** Counts the frame records every engine sends. */
function countFrameSends(bench: Bench): { frames: number } {
  const count = { frames: 0 };
  const h: DatagramHeader = { sender: 0, sealed: false, sequence: 0, bodyOffset: 0 };
  for (const node of bench.nodes) {
    node.conn.onSend = (d) => {
      const records = d.subarray(readHeader(d, h).bodyOffset);
      RecordReader.validate(records);
      RecordReader.forEach(records, (kind, _src, dst, _s, _e, hops) => {
        if (kind !== RecordKind.frame) return;
        count.frames++;
        assert.ok(hops >= 1 && hops <= FRAME_HOP_LIMIT, `a frame sent with hop limit ${hops}`);
        assert.equal(dst, BROADCAST_PEER);
      });
      return true;
    };
  }
  return count;
}

function floodAndCheck(rnd: SeededRandom, bench: Bench, links: Link[], exact: boolean, seed: number): void {
  const n = bench.nodes.length;
  bench.settle(); // heartbeats
  const sent = countFrameSends(bench);
  const floods: { origin: number; payload: string }[] = [];
  for (let i = 0; i < 3 * n; i++) {
    const origin = rnd.int(n), payload = `f${i}`;
    floods.push({ origin, payload });
    bench.nodes[origin].bridge.write([frame(BROADCAST_MAC, mac(origin), payload)]);
    if (rnd.next() < 0.5) bench.settle(); // else several floods are in flight at once
  }
  bench.settle();
  const got = bench.received().map((fs) => fs.map(payloadOf));
  for (const { origin, payload } of floods) {
    for (let v = 0; v < n; v++) {
      const copies = got[v].filter((p) => p === payload).length;
      const where = `seed ${seed}: flood ${payload} from ${origin} at ${v}`;
      if (v === origin) assert.equal(copies, 0, `${where}: back at its origin`);
      else if (exact) assert.equal(copies, 1, where);
      else assert.ok(copies <= 1, `${where}: ${copies} copies`);
    }
  }
  // Each relay sends each flood on at most once, to at most its neighbours: 2 × links sends per flood.
  assert.ok(
    sent.frames <= floods.length * 2 * links.length,
    `seed ${seed}: ${sent.frames} frame sends for ${floods.length} floods over ${links.length} links`,
  );
}

Deno.test("Floods reach each bridge at most once and die out while every relay has its own wrong view", () => {
  for (let seed = 1; seed <= 60; seed++) {
    const rnd = new SeededRandom(seed);
    const n = 3 + rnd.int(8);
    const links = randomGraph(rnd, n);
    const bench = new Bench(n, links, { maxDatagram: 1500 });
    try {
      bench.nodes.forEach((node, x) => node.sleeve.setRoutes(staleTables(rnd, n, links, x)));
      floodAndCheck(rnd, bench, links, false, seed);
      // The views converge: the same engines (filters warm) now deliver every flood exactly once.
      bench.setRoutes();
      floodAndCheck(rnd, bench, links, true, seed);
    } finally {
      bench.close();
    }
  }
});

Deno.test("A unicast frame caught in a routing loop dies at its hop limit", () => {
  // Full mesh of 5; 0 sends towards peer 4 by 1, and 1, 2, 3 route peer 4 round a cycle 1 → 2 → 3 → 1.
  const links: Link[] = [];
  for (let a = 0; a < 5; a++) for (let b = a + 1; b < 5; b++) links.push([a, b]);
  const bench = new Bench(5, links, { maxDatagram: 1500 });
  try {
    bench.settle();
    bench.nodes[4].bridge.write([frame(BROADCAST_MAC, mac(4), "hello")]); // everyone learns mac(4) → 4
    bench.settle();
    bench.received();
    const tables = bfsRoutes(5, links);
    for (const [x, hop] of [[0, 1], [1, 2], [2, 3], [3, 1]]) {
      tables[x].unicast.set(peerName(4), peerName(hop));
      bench.nodes[x].sleeve.setRoutes(tables[x]);
    }
    bench.nodes[0].bridge.write([frame(mac(4), mac(0), "looping")]);
    bench.settle();
    assert.deepEqual(bench.received().map((fs) => fs.map(payloadOf)), [[], [], [], [], []]);
    const stats = bench.nodes.map((node) => node.sleeve.stats());
    assert.equal(stats.reduce((sum, s) => sum + s.drops.hopLimit, 0), 1);
    assert.equal(stats.reduce((sum, s) => sum + s.framesRelayed, 0), FRAME_HOP_LIMIT - 1);
  } finally {
    bench.close();
  }
});
