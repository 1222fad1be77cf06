import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { FLOOD_MAC, planFdb, type VxlanEntry } from "../../../src/overlay/fastdp/fdb_plan.ts";
import { expectedPermanent, learnedOk, VxlanTableModel } from "./vxlan_table_model.ts";

const B = "02:00:00:00:00:0b", C = "02:00:00:00:00:0c";
const IP_B = "198.18.0.2", IP_C = "198.18.0.3";

Deno.test("planFdb() adds heartbeat entries for candidates and flood entries for fastdp peers only", () => {
  const c = planFdb([], { candidates: new Map([[B, IP_B], [C, IP_C]]), fast: new Set([B]) });
  assert.deepEqual(c.del, []);
  assert.deepEqual(c.add, [
    { mac: B, dst: IP_B, state: "permanent" },
    { mac: C, dst: IP_C, state: "permanent" },
    { mac: FLOOD_MAC, dst: IP_B, state: "permanent" },
  ]);
});

Deno.test("planFdb() deletes the flood entry and learned MACs of a pair that fell back, keeps the rest", () => {
  const current: VxlanEntry[] = [
    { mac: B, dst: IP_B, state: "permanent" },
    { mac: C, dst: IP_C, state: "permanent" },
    { mac: FLOOD_MAC, dst: IP_B, state: "permanent" },
    { mac: FLOOD_MAC, dst: IP_C, state: "permanent" },
    { mac: "0a:00:00:00:00:01", dst: IP_B, state: "dynamic" },
    { mac: "0a:00:00:00:00:02", dst: IP_C, state: "dynamic" },
    { mac: "0a:00:00:00:00:03", dst: "198.18.0.9", state: "stale" },
  ];
  const c = planFdb(current, { candidates: new Map([[B, IP_B], [C, IP_C]]), fast: new Set([B]) });
  assert.deepEqual(c.del.map((e) => `${e.mac} ${e.dst}`), [
    `${FLOOD_MAC} ${IP_C}`,
    `0a:00:00:00:00:02 ${IP_C}`,
    `0a:00:00:00:00:03 198.18.0.9`,
  ]);
  assert.deepEqual(c.add, []);
});

Deno.test("planFdb() overwrites a peer's learned or moved entry in place instead of deleting it first", () => {
  const current: VxlanEntry[] = [
    { mac: B, dst: IP_B, state: "dynamic" },
    { mac: C, dst: "198.18.0.9", state: "permanent" },
  ];
  const c = planFdb(current, { candidates: new Map([[B, IP_B], [C, IP_C]]), fast: new Set() });
  assert.deepEqual(c.del, []);
  assert.deepEqual(c.add.map((e) => `${e.mac} ${e.dst}`), [`${B} ${IP_B}`, `${C} ${IP_C}`]);
});

Deno.test("planFdb() reaches the wanted table from any kernel table, also when the kernel learns meanwhile (seeded property)", () => {
  const rnd = new SeededRandom(0xfdb);
  const pick = <T>(xs: T[]) => xs[rnd.int(xs.length)];
  const names = ["02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03", "02:00:00:00:00:04"];
  const ips = ["198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.4", "198.18.0.5"];
  const macs = [...names, "0a:00:00:00:00:01", "0a:00:00:00:00:02"];
  for (let run = 0; run < 2000; run++) {
    const table = new VxlanTableModel();
    for (let i = 0; i < 8; i++) {
      if (rnd.next() < 0.3) table.add(FLOOD_MAC, pick(ips), "append");
      else if (rnd.next() < 0.5) table.add(pick(macs), pick(ips), "replace");
      else table.learn(pick(macs), pick(ips));
    }
    const candidates = new Map(names.filter(() => rnd.next() < 0.6).map((n) => [n, pick(ips)]));
    const fast = new Set([...candidates.keys()].filter(() => rnd.next() < 0.5));
    const plan = planFdb(table.entries(), { candidates, fast });
    for (let i = rnd.int(3); i > 0; i--) table.learn(pick(macs), pick(ips)); // between the dump and the writes
    table.apply(plan); // throws on EEXIST or EOPNOTSUPP, as the kernel would refuse
    table.apply(planFdb(table.entries(), { candidates, fast })); // the next round's reconciliation
    const after = table.entries();
    const fastIps = new Set([...fast].map((n) => candidates.get(n)!));
    const ours = after.filter((e) => e.state === "permanent").map((e) => `${e.mac} ${e.dst}`).sort();
    assert.deepEqual(ours, expectedPermanent(candidates, fast), `run ${run}`);
    for (const e of after) assert.ok(learnedOk(e, candidates, fastIps), `run ${run}: ${e.mac} ${e.dst}`);
    assert.deepEqual(
      planFdb(after, { candidates, fast }),
      { del: [], add: [] },
      `run ${run}: a third plan is empty`,
    );
  }
});
