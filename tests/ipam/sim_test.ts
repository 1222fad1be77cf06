import assert from "node:assert/strict";
import { prng } from "../dns/prng.ts";
import { run, V4 } from "./sim.ts";

/** Seeds to run: IPAM_SEEDS=1-200 tries harder. */
function seeds(fallback: number[]): number[] {
  const env = Deno.env.get("IPAM_SEEDS");
  if (!env) return fallback;
  const [a, b] = env.split("-").map(Number);
  return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
}

Deno.test("Ipam property: no address is ever held twice (5–25 peers, partitions, restarts, loss, reclaim)", () => {
  for (const seed of seeds([1, 2, 3])) run(prng(seed), 200);
});

Deno.test("Ipam property: no address is held twice with fast reclaim and 30% loss (many takeovers)", () => {
  for (const seed of seeds([4, 5])) run(prng(seed), 200, { reclaimAfterMs: 90_000, loss: 0.3 });
});

Deno.test("Ipam property: dual-stack rings stay duplicate-free too", () => {
  run(prng(11), 200, { peers: 6, ranges: [V4, "fd00:6d65:7368::/64"] });
});

Deno.test("Ipam property: after a long run, healing and restarting converge every peer to one ring", () => {
  const sim = run(prng(21), 300, { peers: 7 });
  sim.heal();
  for (const n of sim.nodes) if (n.state === "crashed") sim.restart(n);
  sim.settle(30);
  const rings = sim.up().map((n) => JSON.stringify(n.ipam.status().map((s) => s.tokens)));
  assert.equal(new Set(rings).size, 1);
  assert.ok(sim.up().some((n) => n.ipam.allocations().length > 0));
});
