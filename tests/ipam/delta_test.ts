import assert from "node:assert/strict";
import { prng } from "../dns/prng.ts";
import { Ring } from "../../src/ipam/ring.ts";
import { delta, markSent, newLane } from "../../src/ipam/lane.ts";
import { Sim, V4 } from "./sim.ts";

/** Every up peer's rings as wire text. */
function wires(sim: Sim): string[] {
  return sim.up().map((n) => JSON.stringify(n.ipam.rings().map((r) => r.toWire())));
}

/** What full-state gossip converges to: the merge of every up peer's whole rings. */
function fullMerge(sim: Sim): string {
  const merged = sim.up()[0].ipam.rings().map((r) => new Ring(r.range));
  for (const n of sim.up()) n.ipam.rings().forEach((r, i) => merged[i].merge(r.clone()));
  return JSON.stringify(merged.map((r) => r.toWire()));
}

/** Delivers until nothing is queued (peers' answers to what they receive included). */
function drain(sim: Sim): void {
  while (sim.queue.length > 0) sim.deliver(sim.queue.length);
}

/**
 * Random allocations, releases and claims on random peers, with deltas delivered in random order (some
 * lost at `loss`) between operations; no anti-entropy meanwhile.
 */
function operate(sim: Sim, seed: number, steps: number, loss: number): void {
  const rng = prng(seed * 7 + 1);
  const ids: [number, string][] = [];
  sim.opts.loss = loss;
  for (let step = 0; step < steps; step++) {
    const i = rng.int(sim.nodes.length), ipam = sim.nodes[i].ipam, r = rng.next();
    if (r < 0.6) {
      const id = `c${step}`;
      ipam.allocate(id, rng.next() < 0.3 ? "10.32.1.0/26" : undefined);
      ids.push([i, id]);
    } else if (r < 0.85 && ids.length > 0) {
      const [j, id] = ids.splice(rng.int(ids.length), 1)[0];
      sim.nodes[j].ipam.release(id);
    } else if (r < 0.9) {
      try {
        ipam.claim(`h${step}`, `10.32.${rng.int(4)}.${1 + rng.int(250)}/22`);
      } catch (e) {
        assert.match((e as Error).message, /^Cannot claim /);
      }
    } else sim.advance(1000);
    sim.deliver(rng.int(sim.queue.length + 1));
  }
}

Deno.test("Ipam property: without loss, broadcast deltas alone converge every peer to the full-state merge", () => {
  for (let seed = 1; seed <= 8; seed++) {
    const sim = new Sim(prng(seed), {
      peers: 3 + (seed % 5),
      loss: 0,
      reclaimAfterMs: 600_000,
      init: "seed",
      ranges: [V4],
    });
    operate(sim, seed, 120, 0);
    drain(sim);
    const all = wires(sim);
    assert.ok(all.every((w) => w === all[0]), `seed ${seed}: peers differ after every delta arrived`);
    assert.equal(all[0], fullMerge(sim), `seed ${seed}: deltas and full state disagree`);
    sim.check();
  }
});

Deno.test("Ipam property: with 25 % of deltas lost, anti-entropy brings every peer to the full-state merge", () => {
  for (let seed = 11; seed <= 18; seed++) {
    const sim = new Sim(prng(seed), {
      peers: 3 + (seed % 5),
      loss: 0,
      reclaimAfterMs: 600_000,
      init: "seed",
      ranges: [V4],
    });
    operate(sim, seed, 120, 0.25);
    sim.opts.loss = 0;
    drain(sim);
    for (let round = 0; round < 20 && new Set(wires(sim)).size > 1; round++) {
      sim.antiEntropy();
      drain(sim);
    }
    const all = wires(sim);
    assert.ok(all.every((w) => w === all[0]), `seed ${seed}: peers differ after anti-entropy`);
    assert.equal(all[0], fullMerge(sim), `seed ${seed}: deltas and full state disagree`);
    sim.check();
  }
});

Deno.test("markSent() leaves a delta nothing to carry, where an unmarked lane sends everything", () => {
  const rng = prng(77);
  const sim = new Sim(rng, { peers: 3, loss: 0, reclaimAfterMs: 600_000, init: "seed", ranges: [V4] });
  for (let i = 0; i < 5; i++) sim.nodes[i % 3].ipam.allocate(`c${i}`);
  drain(sim);
  const lane = newLane(V4);
  lane.ring.merge(sim.nodes[0].ipam.rings()[0].clone());
  markSent(lane);
  assert.equal(delta(lane), undefined, "everything was marked sent");
  assert.ok(delta(lane, true)!.entries.size > 0, "a forced delta still carries the tokens");
  const fresh = newLane(V4);
  fresh.ring.merge(sim.nodes[0].ipam.rings()[0].clone());
  assert.notEqual(delta(fresh), undefined, "an unmarked lane has everything to send");
});
