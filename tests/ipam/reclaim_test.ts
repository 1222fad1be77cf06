import assert from "node:assert/strict";
import type { Ipam } from "../../src/ipam/ipam.ts";
import { applied, mayAcknowledge, mayBack, planTakeover } from "../../src/ipam/reclaim.ts";
import { emptyReport, Ring } from "../../src/ipam/ring.ts";
import { ipToBigInt, parseIP } from "../../base/ip.ts";
import { peerName, quietSim, readyAddresses } from "./sim.ts";

const MIN = 60_000;

/** The (first) ring of an Ipam. */
const ringOf = (ipam: Ipam): Ring => ipam.rings()[0];

Deno.test("reclaim: the majority takes a cut-off peer's free space but not its in-use addresses or reserve", () => {
  const sim = quietSim(3, 5);
  const lonely = sim.nodes[4];
  const kept = [...readyAddresses(sim, lonely.ipam, "a"), ...readyAddresses(sim, lonely.ipam, "b")];
  for (const n of sim.nodes) n.side = n === lonely ? 1 : 0;
  sim.reach();
  // Cut off, the peer allocates only from its reserve, at once.
  const spare = lonely.ipam.allocate("c");
  assert.equal(spare.state, "ready");
  const reserve = ringOf(lonely.ipam).report(lonely.name).reserve;
  const spareAddr = ipToBigInt(parseIP((spare as { addresses: string[] }).addresses[0].split("/")[0]));
  assert.ok(reserve.some((r) => spareAddr >= r.start && spareAddr < r.end));
  for (let i = 0; i < 12; i++) {
    sim.advance(MIN);
    sim.settle(2);
  }
  const majority = ringOf(sim.nodes[0].ipam);
  assert.equal(majority.takeovers.size, 1);
  const t = [...majority.takeovers.values()][0];
  assert.equal(t.victim, lonely.name);
  assert.ok(applied(majority, t));
  const stillLonely = majority.ownedBy(lonely.name);
  for (const a of kept) {
    const x = ipToBigInt(parseIP(a.split("/")[0]));
    assert.ok(stillLonely.some((r) => x >= r.start && x < r.end), `${a} was taken`);
  }
  for (const r of reserve) {
    assert.ok(stillLonely.some((o) => o.start <= r.start && r.end <= o.end), "reserve taken");
  }
  sim.heal();
  sim.settle(5);
  assert.deepEqual(lonely.ipam.lookup("a"), [kept[0]]);
  sim.check();
});

Deno.test("reclaim: with no majority side, nobody takes anything however long it lasts", () => {
  const sim = quietSim(4, 5);
  sim.nodes.forEach((n, i) => (n.side = [0, 0, 1, 1, 2][i]));
  sim.reach();
  for (let i = 0; i < 30; i++) {
    sim.advance(MIN);
    sim.settle(1);
  }
  for (const n of sim.nodes) assert.equal(ringOf(n.ipam).maxEpoch(), 0);
  assert.equal(sim.nodes[0].ipam.allocate("x").state, "ready", "the reserve still serves");
});

Deno.test("mayBack() refuses a second takeover of the same space and mayAcknowledge() fences the victim", () => {
  const [v, h1, h2, q] = [1, 2, 3, 4].map(peerName);
  const ring = new Ring("10.32.0.0/24");
  ring.initialise([v, h1, h2, q]);
  const t1 = planTakeover(ring, h1, v, `${h1}/1`)!;
  const t2 = planTakeover(ring, h2, v, `${h2}/1`)!;
  ring.addTakeover(t1);
  ring.addTakeover(t2);
  assert.ok(mayBack(ring, q, t1));
  ring.setReport(q, { ...emptyReport(), version: 1, backs: [t1.id] });
  assert.equal(mayBack(ring, q, t2), false, "a conflicting takeover");
  assert.equal(mayBack(ring, v, t1), false, "the victim never backs");
  // The victim now reports an address inside the takeover: q must not acknowledge it.
  ring.setReport(v, { ...emptyReport(), version: 1, stamp: 1, inUse: [ring.universe.start + 3n] });
  assert.equal(mayAcknowledge(ring, q, v), false);
  assert.equal(mayAcknowledge(ring, h2, v), true);
  // And a takeover of an address the victim reports in use is refused.
  const t3 = {
    ...t2,
    id: `${h2}/2`,
    ranges: [{ start: ring.universe.start, end: ring.universe.start + 10n }],
  };
  assert.equal(mayBack(ring, h2, t3), false);
});
