import assert from "node:assert/strict";
import { canonical, emptyReport, type Report, Ring } from "../../src/ipam/ring.ts";
import { type Prng, prng } from "../dns/prng.ts";
import { answerDigest, encodeDigest } from "../../src/ipam/ring_digest.ts";
import { peerName } from "./sim.ts";

const RANGE = "10.32.0.0/24";
const PEERS = [1, 2, 3, 4].map(peerName);
const text = (r: Ring) => new TextDecoder().decode(r.encode()[0]);

/** A random ring over RANGE with founders PEERS: random tokens, reports, takeovers and votes. */
function randomRing(rng: Prng): Ring {
  const ring = new Ring(RANGE);
  ring.initialise(PEERS);
  for (let i = 0; i < rng.int(6); i++) {
    ring.setEntry(ring.universe.start + BigInt(rng.int(256)), {
      owner: rng.pick(PEERS),
      epoch: rng.int(3),
      version: rng.int(4),
    });
  }
  for (const p of PEERS) {
    if (rng.next() < 0.3) continue;
    const a = ring.universe.start + BigInt(rng.int(250));
    const r: Report = {
      ...emptyReport(),
      version: rng.int(4),
      inUse: rng.next() < 0.5 ? [a] : [],
      reserve: rng.next() < 0.5 ? [{ start: a, end: a + 3n }] : [],
      acks: rng.next() < 0.5 ? { [rng.pick(PEERS)]: rng.int(4) } : {},
    };
    r.stamp = rng.int(r.version + 1);
    ring.setReport(p, r);
  }
  if (rng.next() < 0.5) {
    const heir = rng.pick(PEERS);
    const start = ring.universe.start + BigInt(rng.int(200));
    ring.addTakeover({
      id: `${heir}/${rng.int(3)}`,
      victim: PEERS.find((p) => p !== heir)!,
      heir,
      epoch: 1 + rng.int(2),
      ranges: [{ start, end: start + 5n }],
      writes: [{ start, owner: heir }],
      admin: rng.next() < 0.5,
    });
  }
  if (rng.next() < 0.3) ring.remove(rng.pick(PEERS));
  return ring;
}

/** `a` merged with `b`, on copies. */
function merged(a: Ring, b: Ring): Ring {
  const out = a.clone();
  out.merge(b.clone());
  return out;
}

Deno.test("Ring.initialise() splits the range equally among the founders in name order", () => {
  const ring = new Ring("10.32.0.0/12");
  ring.initialise([PEERS[2], PEERS[0], PEERS[1], PEERS[0]]);
  assert.deepEqual(ring.founders, PEERS.slice(0, 3));
  const sizes = PEERS.slice(0, 3).map((p) => ring.ownedBy(p).reduce((n, r) => n + r.end - r.start, 0n));
  assert.deepEqual(sizes, [349525n, 349525n, 349526n]);
  assert.equal(ring.ownerOf(ring.universe.start), PEERS[0]);
  assert.equal(ring.ownerOf(ring.universe.end - 1n), PEERS[2]);
  assert.throws(() => ring.initialise(PEERS), /already initialised/);
});

Deno.test("Ring.merge() is commutative, associative and idempotent (seeded random rings)", () => {
  const rng = prng(42);
  for (let i = 0; i < 300; i++) {
    const [a, b, c] = [randomRing(rng), randomRing(rng), randomRing(rng)];
    assert.equal(text(merged(a, b)), text(merged(b, a)), "commutative");
    assert.equal(text(merged(merged(a, b), c)), text(merged(a, merged(b, c))), "associative");
    assert.equal(text(merged(a, a)), text(a), "idempotent");
    assert.equal(text(merged(merged(a, b), b)), text(merged(a, b)), "absorbs repeats");
  }
});

Deno.test("Ring.merge() keeps the higher epoch, then the higher version, of each token", () => {
  const [a, b] = [new Ring(RANGE), new Ring(RANGE)];
  a.initialise(PEERS);
  b.initialise(PEERS);
  const s = a.universe.start;
  a.setEntry(s, { owner: PEERS[1], epoch: 0, version: 5 });
  b.setEntry(s, { owner: PEERS[2], epoch: 1, version: 0 });
  assert.equal(a.mergeRing(b), true);
  assert.deepEqual(a.entries.get(s), { owner: PEERS[2], epoch: 1, version: 0 });
  assert.equal(a.mergeRing(b), false);
});

Deno.test("Ring.merge() refuses rings initialised apart with the way to recover, and changes nothing", () => {
  const [a, b] = [new Ring(RANGE), new Ring(RANGE)];
  a.initialise(PEERS.slice(0, 2));
  b.initialise(PEERS.slice(2));
  const before = text(a);
  assert.throws(() => a.merge(b), /initialised apart .*run 'meshnet reset' on the peers of one side/);
  assert.equal(text(a), before);
  assert.throws(() => a.merge(new Ring("10.33.0.0/24")), /range '10.32.0.0\/24' here, '10.33.0.0\/24'/);
});

Deno.test("Ring.merge() of an empty ring with an initialised one adopts its founders", () => {
  const [a, b] = [new Ring(RANGE), new Ring(RANGE)];
  b.initialise(PEERS);
  assert.equal(a.mergeRing(b), true);
  assert.deepEqual(a.founders, PEERS);
  assert.equal(text(a), text(b));
});

Deno.test("Ring.decode() round-trips encode()", () => {
  const rng = prng(3);
  for (let i = 0; i < 50; i++) {
    const r = randomRing(rng);
    assert.equal(text(Ring.decode(r.encode()[0])), text(r));
  }
});

Deno.test("Ring.decode() refuses random and mutated input with a clear error (fuzz)", () => {
  const rng = prng(99);
  const valid = text(randomRing(rng));
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    let s = valid;
    const k = rng.int(4);
    if (k === 0) s = s.slice(0, rng.int(s.length));
    else if (k === 1) {
      const at = rng.int(s.length);
      s = s.slice(0, at) + String.fromCharCode(32 + rng.int(95)) + s.slice(at + 1);
    } else if (k === 2) s = s.replace(/\d+/g, (d) => (rng.next() < 0.05 ? String(Number(d) * 1e6 + 7) : d));
    else {s = JSON.stringify(
        JSON.parse(valid),
        (_, v) => (rng.next() < 0.02 ? rng.pick([null, -1, "x", [], {}]) : v),
      );}
    const bytes = k === 3 && rng.next() < 0.1 ? rng.bytes(rng.int(64)) : new TextEncoder().encode(s);
    try {
      const ring = Ring.decode(bytes);
      const target = randomRing(prng(5));
      const before = text(target);
      try {
        target.merge(ring);
      } catch (e) {
        assert.match((e as Error).message, /^Cannot merge IP allocation ring/);
        assert.equal(text(target), before, "a refused merge changed the ring");
      }
    } catch (e) {
      assert.ok(e instanceof Error);
      assert.match(e.message, /^Invalid IP allocation ring: /, e.message);
      refused++;
    }
  }
  assert.ok(refused > 1000, `only ${refused} refused`);
});

Deno.test("Ring digests: both ends answering each other's digest reach the full merge (seeded random rings)", () => {
  const rng = prng(77);
  for (let i = 0; i < 200; i++) {
    const a = randomRing(rng), b = rng.next() < 0.2 ? a.clone() : randomRing(rng);
    const toB = answerDigest([a], encodeDigest([b])), toA = answerDigest([b], encodeDigest([a]));
    const [a2, b2] = [a.clone(), b.clone()];
    if (toA) a2.merge(toA[0]);
    if (toB) b2.merge(toB[0]);
    assert.equal(text(a2), text(merged(a, b)));
    assert.equal(text(b2), text(merged(a, b)));
    if (text(a) === text(b)) assert.equal(toB, undefined);
  }
  const r = randomRing(rng);
  assert.throws(() => answerDigest([r], encodeDigest([new Ring("10.40.0.0/24")])), /ranges '10.40.0.0\/24'/);
  assert.throws(() => answerDigest([r], new TextEncoder().encode("[]")), /Invalid IP allocation digest/);
});

Deno.test("canonical() gives equal values one text whatever order their keys were set in", () => {
  const a: Record<string, unknown> = { acks: { x: 1, y: 2 }, free: 3n };
  const b: Record<string, unknown> = { free: 3n, acks: { y: 2, x: 1 } };
  assert.equal(canonical(a), canonical(b));
  assert.notEqual(canonical({ acks: { x: 1 } }), canonical({ acks: { x: 2 } }));
  assert.equal(canonical([{ b: 1, a: [2n, null] }]), '[{"a":["2n",null],"b":1}]');
});
