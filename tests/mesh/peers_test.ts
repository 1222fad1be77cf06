import assert from "node:assert/strict";
import { Peers } from "../../src/mesh/peers.ts";
import { comparePeers, type Peer } from "../../src/mesh/peer.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";
import { TOPOLOGY_CHUNK_BYTES } from "../../src/mesh/constants.ts";

const NAMES = ["a", "b", "c", "d", "e"];

function randomPeer(rng: SeededRandom, name = NAMES[rng.int(NAMES.length)]): Peer {
  const connections = NAMES.filter((n) => n !== name && rng.next() < 0.4).map((n) => ({
    name: n,
    address: `10.0.0.${rng.int(4)}:6783`,
    outbound: rng.next() < 0.5,
    established: rng.next() < 0.5,
  }));
  return { name, nickname: `n${rng.int(2)}`, uid: BigInt(rng.int(3)), version: rng.int(4), connections };
}

function randomPeers(rng: SeededRandom): Peers {
  return new Peers(Array.from({ length: rng.int(6) }, () => randomPeer(rng)));
}

function copy(p: Peers): Peers {
  return new Peers(p.list());
}

/** The model: per name, the greatest entry under comparePeers. */
function model(...sets: Peers[]): Peer[] {
  const best = new Map<string, Peer>();
  for (const s of sets) {
    for (const p of s.list()) {
      const cur = best.get(p.name);
      if (cur === undefined || comparePeers(p, cur) > 0) best.set(p.name, p);
    }
  }
  return [...best.values()].sort((x, y) => (x.name < y.name ? -1 : 1));
}

Deno.test("Peers.merge() is commutative, associative and idempotent and matches the model", () => {
  const rng = new SeededRandom(11);
  for (let i = 0; i < 500; i++) {
    const [x, y, z] = [randomPeers(rng), randomPeers(rng), randomPeers(rng)];
    assert.deepEqual(copy(x).merge(y).list(), copy(y).merge(x).list());
    assert.deepEqual(copy(x).merge(copy(y).merge(z)).list(), copy(x).merge(y).merge(z).list());
    assert.deepEqual(copy(x).merge(x).list(), x.list());
    assert.deepEqual(copy(x).merge(y).merge(z).list(), model(x, y, z));
  }
});

Deno.test("Peers.mergeDelta() returns exactly the entries that won", () => {
  const rng = new SeededRandom(12);
  for (let i = 0; i < 300; i++) {
    const [x, y] = [randomPeers(rng), randomPeers(rng)];
    const before = copy(x);
    const delta = x.mergeDelta(y);
    const changed = x.list().filter((p) => before.get(p.name) !== p);
    assert.deepEqual(delta?.list() ?? [], changed);
    assert.equal(copy(x).mergeDelta(y), undefined);
  }
  assert.throws(
    () => new Peers().merge({ encode: () => [], merge: (o) => o }),
    /^TypeError: Cannot merge topology/,
  );
});

Deno.test("Peers.encode() and Peers.decode() round-trip, in chunks for large tables", () => {
  const rng = new SeededRandom(13);
  for (let i = 0; i < 100; i++) {
    const x = randomPeers(rng);
    const msgs = x.encode();
    assert.equal(msgs.length, 1);
    assert.deepEqual(Peers.decode(msgs[0]).list(), x.list());
  }
  const big = new Peers(
    Array.from({ length: 4000 }, (_, i) => ({ ...randomPeer(rng), name: `peer-${i}`, connections: [] })),
  );
  for (const p of big.list()) big.set({ ...p, nickname: "x".repeat(100) });
  const msgs = big.encode();
  assert.ok(
    msgs.length > 1 && msgs.every((m) => m.length < TOPOLOGY_CHUNK_BYTES + 200),
    `${msgs.length} chunks`,
  );
  assert.deepEqual(msgs.map(Peers.decode).reduce((acc, p) => acc.merge(p)).list(), big.list());
});

Deno.test("Peers.decode() throws clear errors on random and mutated input, never a crash", () => {
  const rng = new SeededRandom(14);
  const valid = Array.from({ length: 50 }, () => randomPeers(rng).encode()[0]);
  let rejected = 0;
  for (let i = 0; i < 5000; i++) {
    const input = i % 5 === 0 ? rng.bytes(rng.int(60)) : rng.mutate(valid[rng.int(valid.length)]);
    try {
      const p = Peers.decode(input);
      for (const e of p.list()) assert.ok(e.name !== "" && typeof e.version === "number");
    } catch (e) {
      assert.ok(e instanceof Error);
      assert.match(
        e.message,
        /^Cannot decode topology update: .*; the sender is incompatible or the data is corrupt$/,
      );
      rejected++;
    }
  }
  assert.ok(rejected > 2500, `${rejected} rejected`);
});

Deno.test("Peers.garbageCollect() removes peers unreachable from us and reports each once", () => {
  const link = (name: string, ...to: string[]): Peer => ({
    name,
    nickname: name,
    uid: 1n,
    version: 1,
    connections: to.map((n) => ({ name: n, address: "", outbound: true, established: false })),
  });
  const t = new Peers([link("a", "b"), link("b", "a"), link("c", "d"), link("d", "c"), link("e", "a")]);
  const removed: string[] = [];
  assert.deepEqual(t.garbageCollect("a", (p) => removed.push(p.name)).map((p) => p.name), ["c", "d", "e"]);
  assert.deepEqual(removed, ["c", "d", "e"]);
  assert.deepEqual(t.list().map((p) => p.name), ["a", "b"]);
  assert.deepEqual(t.garbageCollect("a"), []);
});
