import assert from "node:assert/strict";
import { SeededRandom } from "../../testing/seeded_random.ts";
import type { Peer, PeerConnection } from "../../src/mesh/peer.ts";
import { Peers } from "../../src/mesh/peers.ts";
import { Topology } from "../../src/mesh/topology.ts";
import {
  applyDelta,
  decodeDigest,
  type DigestItem,
  DigestKind,
  encodeDigest,
  type EntryDelta,
  TopologyUpdate,
} from "../../src/mesh/topology_wire.ts";

const NAMES = ["a", "b", "c", "d", "e", "f", "g", "h"];

function connection(rng: SeededRandom, name: string): PeerConnection {
  return {
    name,
    address: `10.0.0.${rng.int(255)}:${rng.int(65536)}`,
    outbound: rng.int(2) === 1,
    established: rng.int(2) === 1,
  };
}

function randomNames(rng: SeededRandom, except: string): string[] {
  return NAMES.filter((n) => n !== except && rng.int(3) === 0);
}

function randomPeer(rng: SeededRandom): Peer {
  const name = NAMES[rng.int(NAMES.length)];
  return {
    name,
    nickname: `n${rng.int(100)}`,
    uid: rng.u64(),
    version: rng.int(50),
    connections: randomNames(rng, name).map((n) => connection(rng, n)),
  };
}

function randomDelta(rng: SeededRandom): EntryDelta {
  const name = NAMES[rng.int(NAMES.length)];
  const base = rng.int(20);
  const version = base + 1 + rng.int(20);
  const touched = randomNames(rng, name);
  const upserts = touched.filter(() => rng.int(2) === 0);
  const removals = touched.filter((n) => !upserts.includes(n));
  const d = {
    name,
    uid: rng.u64(),
    base,
    version,
    upserts: upserts.map((n) => connection(rng, n)),
    removals,
  };
  if (rng.int(3) > 0) return d;
  const lo = base + rng.int(version - base);
  return { ...d, gap: { lo, hi: lo + 1 + rng.int(version - lo) } };
}

function randomUpdate(rng: SeededRandom): TopologyUpdate {
  return new TopologyUpdate(
    Array.from({ length: rng.int(4) }, () => randomPeer(rng)),
    Array.from({ length: rng.int(4) }, () => randomDelta(rng)),
  );
}

function randomDigest(rng: SeededRandom): { items: DigestItem[]; kind: 0 | 1 | 2 } {
  const names = randomNames(rng, "");
  return {
    items: names.map((name) => ({ name, uid: rng.u64(), version: rng.int(1000) })),
    kind: rng.int(3) as 0 | 1 | 2,
  };
}

Deno.test("TopologyUpdate and digests round-trip; Peers.encode() decodes as an update without deltas", () => {
  const rng = new SeededRandom(31);
  for (let i = 0; i < 300; i++) {
    const u = randomUpdate(rng);
    const msgs = u.encode();
    assert.equal(msgs.length, 1);
    const back = TopologyUpdate.decode(msgs[0]);
    assert.deepEqual(back.full, u.full);
    assert.deepEqual(back.deltas, u.deltas);
    const d = randomDigest(rng);
    assert.deepEqual(decodeDigest(encodeDigest(d.items, d.kind)), d);
  }
  const p = randomPeer(rng);
  assert.deepEqual(TopologyUpdate.decode(new Peers([p]).encode()[0]).full, [p]);
  assert.deepEqual(decodeDigest(new Peers([p]).digest()).kind, DigestKind.introduce);
  assert.deepEqual(TopologyUpdate.decode(new TopologyUpdate().encode()[0]).deltas, []);
});

Deno.test("TopologyUpdate.decode() and decodeDigest() throw clear errors on random and mutated input, never a crash", () => {
  const rng = new SeededRandom(32);
  const updates = Array.from({ length: 50 }, () => randomUpdate(rng).encode()[0]);
  const digests = Array.from({ length: 50 }, () => {
    const d = randomDigest(rng);
    return encodeDigest(d.items, d.kind);
  });
  let rejected = 0;
  for (let i = 0; i < 6000; i++) {
    const update = i % 2 === 0;
    const pool = update ? updates : digests;
    const input = i % 7 === 0 ? rng.bytes(rng.int(80)) : rng.mutate(pool[rng.int(pool.length)]);
    try {
      if (update) {
        const u = TopologyUpdate.decode(input);
        for (const d of u.deltas) assert.ok(d.name !== "" && d.base < d.version);
      } else {
        for (const item of decodeDigest(input).items) assert.ok(item.name !== "");
      }
    } catch (e) {
      assert.ok(e instanceof Error, `not an Error: ${e}`);
      assert.match(
        e.message,
        /^Cannot decode topology (update|digest): .*; the sender is incompatible or the data is corrupt$/,
      );
      rejected++;
    }
  }
  assert.ok(rejected > 3000, `${rejected} rejected`);
});

Deno.test("TopologyUpdate.decode() refuses counts larger than the message before allocating", () => {
  const huge = (prefix: number[]) => new Uint8Array([...prefix, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
  assert.throws(() => TopologyUpdate.decode(huge([])), /4294967295 peers cannot fit in 3 bytes/);
  assert.throws(() => TopologyUpdate.decode(huge([0, 0, 0, 0])), /4294967295 deltas cannot fit in 3 bytes/);
  assert.throws(() => decodeDigest(huge([])), /4294967295 entries cannot fit in 3 bytes/);
  const d = { name: "a", uid: 1n, base: 1, version: 2, upserts: [], removals: [] };
  const bytes = new TopologyUpdate([], [d]).encode()[0];
  const many = bytes.slice();
  many[many.length - 4] = 0xff; // the upsert count
  many[many.length - 3] = 0xff;
  assert.throws(() => TopologyUpdate.decode(many), /65535 upserts cannot fit/);
  const backwards = new TopologyUpdate([], [{ ...d, base: 2, version: 2 }]).encode()[0];
  assert.throws(() => TopologyUpdate.decode(backwards), /goes from version 2 to 2/);
  const outside = new TopologyUpdate([], [{ ...d, gap: { lo: 0, hi: 2 } }]).encode()[0];
  assert.throws(() => TopologyUpdate.decode(outside), /has the gap 0\.\.2 outside it/);
});

Deno.test("applyDelta() applies from the base up to below the version, never inside the gap or to another uid", () => {
  const c = (name: string, established = false) => ({ name, address: "x", outbound: true, established });
  const cur = { name: "a", nickname: "A", uid: 1n, version: 4, connections: [c("b"), c("c")] };
  const d = { name: "a", uid: 1n, base: 2, version: 7, upserts: [c("b", true), c("d")], removals: ["c"] };
  assert.deepEqual(applyDelta(cur, d), { ...cur, version: 7, connections: [c("b", true), c("d")] });
  assert.equal(applyDelta({ ...cur, version: 1 }, d), undefined, "below the base");
  assert.equal(applyDelta({ ...cur, version: 7 }, d), undefined, "not older");
  assert.equal(applyDelta({ ...cur, uid: 2n }, d), undefined, "another uid");
  assert.equal(applyDelta(cur, { ...d, gap: { lo: 3, hi: 5 } }), undefined, "inside the gap");
  assert.ok(applyDelta(cur, { ...d, gap: { lo: 2, hi: 4 } }) !== undefined, "at the gap's end");
});

/**
 * Seeded operations against a model: an owner changes its connections at random; relays pass its entry to each
 * other (as deltas from what they believe the receiver holds, or whole), with messages lost at random, answers
 * and requests delivered (or lost) like any message. The model is the owner's entry at every version: whatever
 * a relay holds must be exactly the owner's entry at that version, and after a lossless exchange every relay
 * holds the owner's current entry.
 */
Deno.test("Topology deltas, answers and requests keep every copy equal to the owner's entry at its version (seeded)", () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rng = new SeededRandom(1000 + seed);
    const events = { changed() {}, selfChanged() {}, relayPending() {} };
    const owner = new Topology({ name: "o", nickname: "O", uid: 77n }, events);
    const relays = ["r1", "r2", "r3", "r4"].map((name) =>
      new Topology({ name, nickname: name, uid: BigInt(name.charCodeAt(1)) }, events)
    );
    const all = [owner, ...relays];
    const byName = new Map(all.map((t) => [t.self.name, t]));
    const model = new Map<number, Peer>([[owner.self.version, owner.self]]);
    const neighbours = ["n1", "n2", "n3", "n4", "n5", "n6"];
    let loss = 0.3;
    const check = () => {
      for (const r of relays) {
        const p = r.peers.get("o");
        if (p !== undefined) {
          assert.deepEqual(p, model.get(p.version), `seed ${seed}: ${r.self.name} at ${p.version}`);
        }
      }
    };
    const send = (from: Topology, to: Topology, kind: "gossip" | "digest", bytes: Uint8Array, depth = 0) => {
      if (rng.next() < loss || depth > 6) return;
      const src = from.self.name;
      const r = kind === "gossip" ? to.onGossipAnswering(src, bytes) : to.onDigestAnswering(src, bytes);
      check();
      for (const u of r.answer?.encode() ?? []) send(to, from, "gossip", u, depth + 1);
      if (r.request !== undefined) send(to, from, "digest", r.request, depth + 1);
    };
    for (let step = 0; step < 300; step++) {
      const op = rng.int(10);
      if (op < 3) {
        const n = neighbours[rng.int(neighbours.length)];
        const c = owner.self.connections.find((x) => x.name === n);
        if (c === undefined) {
          owner.addConnection({ name: n, nickname: n, uid: 1n, address: `${n}:1`, outbound: true });
        } else if (!c.established && rng.int(2) === 0) owner.establishConnection(n);
        else owner.removeConnection(n);
        model.set(owner.self.version, owner.self);
      } else if (op < 9) {
        const from = all[rng.int(all.length)];
        const to = relays[rng.int(relays.length)];
        const p = from.peers.get("o");
        if (from === to || p === undefined) continue;
        const u = from.updateFor(to.self.name, [p]);
        for (const bytes of u?.encode() ?? []) send(from, to, "gossip", bytes);
      } else {
        const from = relays[rng.int(relays.length)];
        const to = all[rng.int(all.length)];
        if (from !== to) send(from, to, "digest", from.antiEntropyDigest());
      }
    }
    loss = 0;
    for (const r of relays) send(r, owner, "digest", r.antiEntropyDigest());
    for (const r of relays) {
      assert.deepEqual(r.peers.get("o"), owner.self, `seed ${seed}: ${r.self.name} converged`);
    }
    assert.ok(byName.size === 5);
  }
});
