import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { FLOOD_MAC, planFdb, type VxlanEntry } from "../../../src/overlay/fastdp/fdb_plan.ts";

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
    { mac: C, dst: IP_C, state: "dynamic" },
  ];
  const c = planFdb(current, { candidates: new Map([[B, IP_B], [C, IP_C]]), fast: new Set([B]) });
  assert.deepEqual(c.del.map((e) => `${e.mac} ${e.dst}`), [
    `${FLOOD_MAC} ${IP_C}`,
    `0a:00:00:00:00:02 ${IP_C}`,
    `0a:00:00:00:00:03 198.18.0.9`,
    `${C} ${IP_C}`,
  ]);
  assert.deepEqual(c.add, []);
});

/** Applies a plan to a model table as the kernel would (deletions by MAC and dst, then additions). */
function apply(table: VxlanEntry[], plan: ReturnType<typeof planFdb>): VxlanEntry[] {
  const gone = new Set(plan.del.map((e) => `${e.mac} ${e.dst} ${e.state}`));
  return [...table.filter((e) => !gone.has(`${e.mac} ${e.dst} ${e.state}`)), ...plan.add];
}

Deno.test("planFdb() reaches the wanted table from any table in one step (seeded property)", () => {
  const rnd = new SeededRandom(0xfdb);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd.next() * xs.length)];
  const names = ["02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03", "02:00:00:00:00:04"];
  const ips = ["198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.4", "198.18.0.5"];
  const macs = [FLOOD_MAC, ...names, "0a:00:00:00:00:01", "0a:00:00:00:00:02"];
  for (let run = 0; run < 500; run++) {
    const candidates = new Map(names.filter(() => rnd.next() < 0.6).map((n) => [n, pick(ips)]));
    const fast = new Set([...candidates.keys()].filter(() => rnd.next() < 0.5));
    const seen = new Set<string>();
    const table: VxlanEntry[] = [];
    for (let i = 0; i < 8; i++) {
      const e = { mac: pick(macs), dst: pick(ips), state: pick(["permanent", "dynamic", "stale"]) };
      if (!seen.has(`${e.mac} ${e.dst}`)) seen.add(`${e.mac} ${e.dst}`), table.push(e);
    }
    const after = apply(table, planFdb(table, { candidates, fast }));
    const fastIps = new Set([...fast].map((n) => candidates.get(n)!));
    const ours = after.filter((e) => e.state === "permanent").map((e) => `${e.mac} ${e.dst}`).sort();
    const want = [
      ...[...candidates].map(([n, ip]) => `${n} ${ip}`),
      ...[...fastIps].map((ip) => `${FLOOD_MAC} ${ip}`),
    ].sort();
    assert.deepEqual(ours, want, `run ${run}`);
    for (const e of after.filter((e) => e.state !== "permanent")) {
      assert.ok(
        fastIps.has(e.dst) && e.mac !== FLOOD_MAC && !candidates.has(e.mac),
        `run ${run}: ${e.mac} ${e.dst}`,
      );
    }
    assert.deepEqual(
      planFdb(after, { candidates, fast }),
      { del: [], add: [] },
      `run ${run}: a second plan is empty`,
    );
  }
});
