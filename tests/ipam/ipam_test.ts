import assert from "node:assert/strict";
import { Ipam } from "../../src/ipam/ipam.ts";
import { RingSet } from "../../src/ipam/ring_set.ts";
import { prng } from "../dns/prng.ts";
import { peerName, quietSim, readyAddresses } from "./sim.ts";
import { ConflictError } from "../../base/errors.ts";
import { RMPEER_QUIET_MS } from "../../src/ipam/constants.ts";

Deno.test("Ipam.allocate() waits for a majority, then gives the same address to the same id", () => {
  const sim = quietSim(1, 3);
  const ipam = sim.nodes[0].ipam;
  const first = ipam.allocate("c1");
  assert.equal(first.state, "pending");
  assert.match((first as { reason: string }).reason, /majority of peers to acknowledge 10\.32\.0\.1/);
  const a = readyAddresses(sim, ipam, "c1");
  assert.deepEqual(a, ["10.32.0.1/24"]);
  assert.deepEqual(readyAddresses(sim, ipam, "c1"), a);
  assert.deepEqual(readyAddresses(sim, ipam, "c2"), ["10.32.0.2/24"]);
  assert.deepEqual(ipam.lookup("c1"), a);
  sim.check();
});

Deno.test("Ipam.allocate() never gives a subnet's first or last address", () => {
  const sim = quietSim(1, 1);
  const ipam = sim.nodes[0].ipam;
  assert.deepEqual(readyAddresses(sim, ipam, "a", "10.32.0.4/30"), ["10.32.0.5/30"]);
  assert.deepEqual(readyAddresses(sim, ipam, "b", "10.32.0.4/30"), ["10.32.0.6/30"]);
  const c = ipam.allocate("c", "10.32.0.4/30");
  assert.equal(c.state, "pending");
  assert.match((c as { reason: string }).reason, /no free address in 10\.32\.0\.4\/30/);
  assert.throws(() => ipam.allocate("d", "10.33.0.0/24"), /outside --ipalloc-range 10\.32\.0\.0\/24/);
  assert.throws(() => ipam.allocate("d", "10.32.0.0/31"), /at least 4 are needed/);
});

Deno.test("Ipam.release() frees the address for the next container", () => {
  const sim = quietSim(1, 1);
  const ipam = sim.nodes[0].ipam;
  readyAddresses(sim, ipam, "a", "10.32.0.4/30");
  readyAddresses(sim, ipam, "b", "10.32.0.4/30");
  ipam.release("a");
  assert.deepEqual(ipam.lookup("a"), []);
  assert.deepEqual(readyAddresses(sim, ipam, "c", "10.32.0.4/30"), ["10.32.0.5/30"]);
  ipam.release("b", "10.32.0.6");
  assert.deepEqual(ipam.lookup("b"), []);
});

Deno.test("Ipam.claim() keeps a hand-set address from IPAM and refuses one in use", () => {
  const sim = quietSim(1, 3);
  const [a, b] = [sim.nodes[0].ipam, sim.nodes[1].ipam];
  assert.equal(b.claim("manual", "10.32.0.1/24").state, "pending");
  sim.settle(3);
  assert.deepEqual(b.claim("manual", "10.32.0.1/24"), { state: "ready", addresses: ["10.32.0.1/24"] });
  assert.deepEqual(readyAddresses(sim, a, "c1"), ["10.32.0.2/24"]);
  assert.throws(
    () => a.claim("other", "10.32.0.2/24"),
    /Cannot claim 10\.32\.0\.2 for other: container c1 has it/,
  );
  assert.throws(() => a.claim("other", "10.32.0.1/24"), /peer 02:00:00:00:00:02 has it in use/);
  assert.deepEqual(a.claim("x", "192.168.1.5/24"), { state: "ready", addresses: ["192.168.1.5/24"] });
  sim.check();
});

Deno.test("Ipam.persist() and Ipam.restore() keep rings and allocations across a restart", () => {
  const sim = quietSim(1, 3);
  const node = sim.nodes[0];
  const a = readyAddresses(sim, node.ipam, "c1");
  sim.crash(node);
  sim.restart(node);
  assert.deepEqual(node.ipam.lookup("c1"), a);
  assert.deepEqual(readyAddresses(sim, node.ipam, "c1"), a);
  assert.throws(
    () => Ipam.restore(node.ipam.persist(), sim.options(peerName(9))),
    /belongs to peer 02:00:00:00:00:01/,
  );
  assert.throws(() => Ipam.restore(new TextEncoder().encode("{"), sim.options(node.name)), /not JSON/);
});

Deno.test("Ipam.onGossip() refuses garbage and rings initialised apart, changing nothing", () => {
  const sim = quietSim(1, 2);
  const ipam = sim.nodes[0].ipam;
  const before = ipam.persist();
  const rng = prng(5);
  const valid = ipam.gossip()!.encode()[0];
  for (let i = 0; i < 300; i++) {
    const bad = i % 2 ? rng.bytes(rng.int(100)) : valid.map((x) => (rng.next() < 0.02 ? rng.int(256) : x));
    try {
      ipam.onGossip(bad);
    } catch (e) {
      assert.match((e as Error).message, /^(Invalid IP allocation ring|Cannot merge IP allocation ring)/);
    }
  }
  const apart = new Ipam({ ...sim.options(peerName(7)), init: { mode: "seed", peers: [peerName(7)] } });
  assert.throws(() => ipam.onGossip(apart.gossip()!.encode()[0]), /initialised apart/);
  const other = new Ipam({ ...sim.options(peerName(7)), ranges: ["10.40.0.0/24"] });
  assert.throws(() => ipam.onGossip(other.gossip()!.encode()[0]), /same --ipalloc-range/);
  assert.deepEqual(ipam.persist().length > 0, true);
  assert.equal(new TextDecoder().decode(ipam.persist()), new TextDecoder().decode(before));
});

Deno.test("Ipam.rmpeer() takes a dead peer's space and stops counting its vote", () => {
  const sim = quietSim(1, 3);
  const [a, , c] = sim.nodes;
  sim.kill(c);
  sim.advance(RMPEER_QUIET_MS);
  const taken = a.ipam.rmpeer(c.name);
  assert.ok(taken > 80n);
  sim.settle(3);
  const st = a.ipam.status()[0];
  assert.ok(st.tokens.every((t) => t.owner !== c.name));
  assert.ok(st.owned > 160n);
  assert.throws(() => a.ipam.rmpeer(a.name), /it is this peer/);
  assert.deepEqual(readyAddresses(sim, sim.nodes[1].ipam, "after"), ["10.32.0.85/24"]);
});

Deno.test("Ipam.rmpeer() refuses a peer that is reachable or was seen recently, naming it", () => {
  const sim = quietSim(1, 3);
  const [a, b, c] = sim.nodes;
  assert.throws(() => a.ipam.rmpeer(b.name), (e: Error) => {
    assert.ok(e instanceof ConflictError);
    assert.match(
      e.message,
      new RegExp(`^Cannot rmpeer ${b.name}: it is reachable now.*stop its router first`),
    );
    return true;
  });
  sim.kill(c);
  sim.advance(RMPEER_QUIET_MS - 1000);
  assert.throws(
    () => a.ipam.rmpeer(c.name),
    new RegExp(`${c.name}: it was reachable 9 s ago.*stop its router`),
  );
  const before = a.ipam.status()[0].tokens;
  assert.ok(before.some((t) => t.owner === c.name), "a refused rmpeer takes nothing");
  sim.settle(3);
  assert.deepEqual(a.ipam.status()[0].tokens, before);
  sim.advance(1000);
  assert.ok(a.ipam.rmpeer(c.name) > 0n, "taken once quiet long enough");
});

Deno.test("Ipam.allocate() gives one address per family when dual-stack", () => {
  const sim = quietSim(1, 3, ["10.32.0.0/24", "fd00:6d65:7368::/64"]);
  assert.deepEqual(readyAddresses(sim, sim.nodes[0].ipam, "c1"), ["10.32.0.1/24", "fd00:6d65:7368::1/64"]);
  assert.deepEqual(readyAddresses(sim, sim.nodes[0].ipam, "c2", "fd00:6d65:7368::100/120"), [
    "fd00:6d65:7368::101/120",
  ]);
});

Deno.test("new Ipam() refuses bad names, ranges and init modes", () => {
  const base = { name: peerName(1), init: { mode: "observer" as const }, now: () => 0, random: () => 0 };
  assert.throws(() => new Ipam({ ...base, name: "bob" }), /Invalid peer name 'bob'/);
  assert.throws(() => new Ipam({ ...base, ranges: ["10.0.0.0/8", "10.1.0.0/16"] }), /one IPv4 and one IPv6/);
  assert.throws(() => new Ipam({ ...base, init: { mode: "consensus", count: 0 } }), /consensus=0/);
  assert.throws(() => new Ipam({ ...base, init: { mode: "seed", peers: ["x"] } }), /seed=x/);
  assert.equal(new Ipam(base).status()[0].state, "observer: waiting for another peer to initialise the ring");
  assert.equal(new Ipam(base).status()[0].range, "10.32.0.0/12");
});

Deno.test("Ipam.setReachable() broadcasts when a peer becomes reachable, not on every tick", () => {
  let broadcasts = 0;
  const ipam = new Ipam({
    name: peerName(1),
    init: { mode: "consensus", count: 2 },
    now: () => 0,
    random: () => 0,
    gossip: { gossipBroadcast: () => broadcasts++, gossipUnicast: () => {}, gossipNeighbourSubset: () => {} },
  });
  ipam.setReachable([peerName(1)]);
  const settled = broadcasts;
  ipam.tick();
  ipam.setReachable([peerName(1)]);
  assert.equal(broadcasts, settled, "nothing new, nothing sent");
  ipam.setReachable([peerName(1), peerName(2)]);
  assert.equal(broadcasts, settled + 1, "the new peer may have missed earlier broadcasts");
  ipam.tick();
  ipam.setReachable([peerName(1)]);
  assert.equal(broadcasts, settled + 1, "losing a peer sends nothing");
});

Deno.test("Ipam.setReachable() sends what it wrote, not the whole rings, when a peer becomes reachable", () => {
  const sim = quietSim(7, 4);
  readyAddresses(sim, sim.nodes[1].ipam, "c1");
  sim.settle(2);
  const [a, b] = sim.nodes;
  const sent: RingSet[] = [];
  a.ipam.attach({
    gossipBroadcast: (d) => sent.push(RingSet.decode(d.encode()[0])),
    gossipUnicast: () => {},
    gossipNeighbourSubset: () => {},
  });
  const others = sim.nodes.filter((n) => n !== a).map((n) => n.name);
  a.ipam.setReachable(others.filter((n) => n !== b.name));
  assert.equal(sent.length, 0, "losing a peer sends nothing");
  a.ipam.setReachable(others);
  assert.equal(sent.length, 1);
  const [ring] = sent[0].rings;
  assert.deepEqual([...ring.reports.keys()], [a.name], "only our own report goes");
  assert.ok(ring.isInitialised(), "with the tokens: a ring is valid only with them");
  assert.ok(b.ipam.rings()[0].reports.get(b.name)!.inUse.length > 0, "b's report exists but is b's to send");
});

Deno.test("Ipam anti-entropy in a settled mesh is answered by nobody: every peer holds the same items", () => {
  for (const seed of [3, 4, 5]) {
    const sim = quietSim(seed, 8);
    readyAddresses(sim, sim.nodes[2].ipam, "c1");
    sim.settle(4);
    sim.antiEntropy();
    const digests = sim.queue.length;
    sim.deliver(digests);
    assert.ok(digests > 0);
    assert.equal(sim.queue.length, 0, `seed ${seed}: ${sim.queue.length} answers to ${digests} digests`);
  }
});
