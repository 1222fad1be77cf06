import assert from "node:assert/strict";
import { UsageError } from "../../base/errors.ts";
import { linked, parseTopology, peersOf, TOPOLOGIES } from "../../src/lab/topology.ts";
import { between, prng } from "./prng.ts";

Deno.test("parseTopology() accepts the three names and refuses others", () => {
  for (const t of TOPOLOGIES) assert.equal(parseTopology(t), t);
  assert.throws(
    () => parseTopology("ring"),
    (e) => e instanceof UsageError && /'ring'.*full, line, star/.test(e.message),
  );
});

Deno.test("peersOf() matches the documented examples", () => {
  assert.deepEqual(peersOf("full", 3, 2), [1, 3]);
  assert.deepEqual(peersOf("line", 4, 2), [1, 3]);
  assert.deepEqual(peersOf("line", 4, 1), [2]);
  assert.deepEqual(peersOf("star", 4, 1), [2, 3, 4]);
  assert.deepEqual(peersOf("star", 4, 3), [1]);
  assert.deepEqual(peersOf("full", 1, 1), []);
});

Deno.test("linked() is symmetric, irreflexive and agrees with an edge-list model (seeded)", () => {
  const rand = prng(0x1ab);
  for (let run = 0; run < 300; run++) {
    const topology = TOPOLOGIES[between(rand, 0, 2)];
    const n = between(rand, 1, 12);
    const edges = new Set<string>();
    for (let i = 1; i <= n; i++) {
      for (let j = 1; j <= n; j++) {
        if (i === j) continue;
        if (topology === "full" || (topology === "line" && (j === i + 1 || i === j + 1))) {
          edges.add(`${i}-${j}`);
        }
        if (topology === "star" && (i === 1 || j === 1)) edges.add(`${i}-${j}`);
      }
    }
    for (let i = 1; i <= n; i++) {
      for (let j = 1; j <= n; j++) {
        assert.equal(linked(topology, i, j), edges.has(`${i}-${j}`), `${topology} ${i} ${j}`);
        assert.equal(linked(topology, i, j), linked(topology, j, i));
      }
      assert.deepEqual(
        peersOf(topology, n, i),
        [...Array(n).keys()].map((k) => k + 1).filter((j) => edges.has(`${i}-${j}`)),
      );
    }
  }
});
