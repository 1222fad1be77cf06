import assert from "node:assert/strict";
import {
  decodeSpaceRequest,
  encodeSpaceRequest,
  giveRange,
  pickDonor,
  planDonation,
} from "../../src/ipam/donation.ts";
import { emptyReport, Ring } from "../../src/ipam/ring.ts";
import { prng } from "../dns/prng.ts";
import { peerName, quietSim } from "./sim.ts";

const [A, B, C] = [1, 2, 3].map(peerName);

Deno.test("planDonation() gives the top half of the largest free run inside the request", () => {
  const r = (s: number, e: number) => ({ start: BigInt(s), end: BigInt(e) });
  assert.deepEqual(planDonation([r(0, 10), r(20, 60)], r(0, 100)), r(40, 60));
  assert.deepEqual(planDonation([r(0, 10), r(20, 60)], r(0, 9)), r(4, 9));
  assert.deepEqual(planDonation([r(5, 6)], r(0, 100)), r(5, 6));
  assert.equal(planDonation([r(0, 10)], r(50, 60)), undefined);
});

Deno.test("giveRange() splits tokens so exactly the range changes owner", () => {
  const ring = new Ring("10.32.0.0/24");
  ring.initialise([A, B]);
  const s = ring.universe.start;
  giveRange(ring, A, { start: s + 10n, end: s + 20n }, C);
  assert.equal(ring.ownerOf(s + 9n), A);
  assert.equal(ring.ownerOf(s + 10n), C);
  assert.equal(ring.ownerOf(s + 19n), C);
  assert.equal(ring.ownerOf(s + 20n), A);
  assert.equal(ring.ownerOf(s + 128n), B);
  assert.throws(() => giveRange(ring, A, { start: s + 120n, end: s + 130n }, C), /not all owned by/);
});

Deno.test("pickDonor() weighs peers by the free space they advertise", () => {
  const ring = new Ring("10.32.0.0/24");
  ring.setReport(A, { ...emptyReport(), free: 0n });
  ring.setReport(B, { ...emptyReport(), free: 100n });
  ring.setReport(C, { ...emptyReport(), free: 300n });
  const rng = prng(1);
  const counts = { [B]: 0, [C]: 0 };
  for (let i = 0; i < 2000; i++) counts[pickDonor(ring, [A, B, C], () => rng.next())!]++;
  assert.ok(counts[C] > 2 * counts[B] && counts[B] > 300, JSON.stringify(counts));
  assert.equal(pickDonor(ring, [A], () => 0.5), undefined);
});

Deno.test("pickDonor() asks for space within a subnet a peer that owns unused main space there", () => {
  const ring = new Ring("10.32.0.0/24");
  ring.initialise([A]);
  const s = ring.universe.start;
  giveRange(ring, A, { start: s + 128n, end: s + 256n }, B); // A owns .0–.127, B .128–.255
  giveRange(ring, A, { start: s + 64n, end: s + 128n }, C); // C owns .64–.127
  ring.setReport(A, { ...emptyReport(), free: 10n });
  ring.setReport(B, { ...emptyReport(), free: 100n });
  ring.setReport(C, { ...emptyReport(), free: 1n, reserve: [{ start: s + 112n, end: s + 128n }] });
  const rng = prng(2);
  const subnet = { start: s + 97n, end: s + 127n }; // .96/27's hosts: only C owns any, none used
  for (let i = 0; i < 200; i++) assert.equal(pickDonor(ring, [A, B, C], () => rng.next(), subnet), C);
  // C's part of it is its reserve: nobody owns free main space there, so the advertised free space decides.
  const inReserve = { start: s + 113n, end: s + 127n };
  const counts = { [A]: 0, [B]: 0, [C]: 0 };
  for (let i = 0; i < 2000; i++) counts[pickDonor(ring, [A, B, C], () => rng.next(), inReserve)!]++;
  assert.ok(counts[B] > 5 * counts[A] && counts[A] > 50, JSON.stringify(counts));
  // Addresses a report uses are not free to give.
  const used = Array.from({ length: 48 }, (_, i) => s + 64n + BigInt(i)); // .64–.111
  ring.setReport(C, { ...emptyReport(), free: 1n, inUse: used });
  assert.equal(pickDonor(ring, [A, B, C], () => 0.5, { start: s + 97n, end: s + 111n }), B);
});

Deno.test("decodeSpaceRequest() round-trips and refuses fuzzed input with a clear error", () => {
  const range = { start: 10n, end: 20n };
  assert.deepEqual(decodeSpaceRequest(encodeSpaceRequest("10.32.0.0/24", range)), {
    range: "10.32.0.0/24",
    within: range,
  });
  const rng = prng(4);
  const valid = encodeSpaceRequest("10.32.0.0/24", range);
  for (let i = 0; i < 1000; i++) {
    const bad = i % 3 ? valid.map((x) => (rng.next() < 0.05 ? rng.int(256) : x)) : rng.bytes(rng.int(40));
    try {
      decodeSpaceRequest(bad);
    } catch (e) {
      assert.match((e as Error).message, /^Invalid space request: /);
    }
  }
});

Deno.test("Ipam donation: a peer out of space gets some from a peer with free space", () => {
  const sim = quietSim(6, 3);
  const asker = sim.nodes[0].ipam;
  // The subnet lies in peer 3's space only, so peer 1 must ask for part of it.
  let a = asker.allocate("c1", "10.32.0.192/26");
  for (let i = 0; i < 20 && a.state !== "ready"; i++) {
    sim.settle(1);
    a = asker.allocate("c1", "10.32.0.192/26");
  }
  assert.equal(a.state, "ready");
  assert.ok(asker.status()[0].tokens.some((t) => t.owner === asker.name && t.start.startsWith("10.32.0.2")));
  sim.check();
});
