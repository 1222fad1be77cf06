import assert from "node:assert/strict";
import { Ipam } from "../../src/ipam/ipam.ts";
import { prng } from "../dns/prng.ts";
import { peerName, Sim } from "./sim.ts";

Deno.test("Consensus initialises one ring on every peer, also with message loss", () => {
  for (const seed of [1, 2, 3]) {
    const sim = new Sim(prng(seed), { peers: 5, loss: 0.2, reclaimAfterMs: 600_000, init: "consensus" });
    const first = sim.nodes[0].ipam.allocate("c1");
    assert.equal(first.state, "pending");
    assert.match((first as { reason: string }).reason, /awaiting consensus \(quorum 3, known \d\)/);
    for (let i = 0; i < 60 && sim.nodes.some((n) => n.ipam.status()[0].state !== "ready"); i++) sim.settle(1);
    const tokens = sim.nodes.map((n) => JSON.stringify(n.ipam.status()[0].tokens.map((t) => t.start)));
    assert.equal(new Set(tokens).size, 1, "every peer built the same ring");
    assert.ok(sim.nodes.every((n) => n.ipam.status()[0].state === "ready"));
  }
});

Deno.test("Consensus: groups initialised apart are refused when they meet, with the recovery in the error", () => {
  const rng = prng(8);
  const sim = new Sim(rng, { peers: 2, loss: 0, reclaimAfterMs: 600_000, init: "seed" });
  const stranger = new Ipam({ ...sim.options(peerName(9)), init: { mode: "consensus", count: 1 } });
  assert.equal(stranger.allocate("x").state, "ready");
  assert.throws(
    () => sim.nodes[0].ipam.onGossip(stranger.gossip()!.encode()[0]),
    /initialised apart .*'meshnet reset' on the peers of one side/,
  );
});

Deno.test("Consensus: an observer never votes and learns the ring from others", () => {
  const sim = new Sim(prng(2), { peers: 3, loss: 0, reclaimAfterMs: 600_000, init: "consensus" });
  const observer = new Ipam({ ...sim.options(peerName(9)), init: { mode: "observer" } });
  sim.nodes[0].ipam.allocate("c");
  sim.settle(20);
  const bytes = sim.nodes[0].ipam.gossip()!.encode()[0];
  observer.onGossip(bytes);
  assert.equal(observer.status()[0].state, "ready");
  assert.ok(!observer.status()[0].tokens.some((t) => t.owner === observer.name));
});

Deno.test("Consensus waits for all N participants before proposing, or a retry period when one is missing", () => {
  let now = 0;
  const make = (i: number) =>
    new Ipam({ name: peerName(i), init: { mode: "consensus", count: 3 }, now: () => now, random: () => 0 });
  const pump = (peers: Ipam[]) => {
    for (let round = 0; round < 10; round++) {
      for (const a of peers) for (const b of peers) if (a !== b) b.onGossip(a.gossip()!.encode()[0]);
    }
  };
  const founders = (ipam: Ipam) => new Set(ipam.status()[0].tokens.map((t) => t.owner)).size;

  const [a, b, c] = [1, 2, 3].map(make);
  a.prime();
  pump([a, b]);
  assert.match(
    a.status()[0].state,
    /awaiting consensus \(quorum 2, known 2\)/,
    "a quorum alone is not enough",
  );
  pump([a, b, c]);
  assert.equal(a.status()[0].state, "ready");
  assert.equal(founders(c), 3, "every peer launched together is a founder");

  const [d, e] = [4, 5].map(make);
  d.prime();
  pump([d, e]);
  assert.notEqual(d.status()[0].state, "ready");
  now += 5_000;
  d.tick();
  pump([d, e]);
  assert.equal(e.status()[0].state, "ready", "a missing peer does not block the ring");
  assert.equal(founders(e), 2);
});
