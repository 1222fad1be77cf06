import assert from "node:assert/strict";
import { Topology } from "../../src/mesh/topology.ts";
import { Peers } from "../../src/mesh/peers.ts";
import type { Peer } from "../../src/mesh/peer.ts";
import {
  applyDelta,
  decodeDigest,
  DigestKind,
  encodeDigest,
  TopologyUpdate,
} from "../../src/mesh/topology_wire.ts";
import { TOPOLOGY_REQUEST_RETRY_MS } from "../../src/mesh/constants.ts";

/** The whole entries of an answer, failing when it carries deltas. */
function whole(u?: TopologyUpdate): Peer[] | undefined {
  if (u === undefined) return undefined;
  assert.deepEqual(u.deltas, [], "whole entries expected");
  return [...u.full];
}

function topology(): { t: Topology; events: string[] } {
  const events: string[] = [];
  const t = new Topology({ name: "a", nickname: "A", uid: 1n }, {
    changed: () => events.push("changed"),
    selfChanged: () => events.push("self"),
    relayPending: () => events.push("relay"),
  });
  return { t, events };
}

function link(name: string) {
  return { name, address: "", outbound: true, established: true };
}

/** The names an update carries: [own, relayed]. */
function update(t: Topology): [string[], string[]] {
  const u = t.takeUpdate();
  return [u.own?.list().map((p) => p.name) ?? [], u.relay?.list().map((p) => p.name) ?? []];
}

const b = { name: "b", nickname: "B", uid: 2n, address: "10.0.0.2:6783", outbound: true };

Deno.test("Topology connection changes bump our version and name the neighbour in the update", () => {
  const { t, events } = topology();
  assert.equal(t.self.version, 1);
  t.addConnection(b);
  t.establishConnection("b");
  t.establishConnection("b");
  assert.equal(t.self.version, 3);
  assert.deepEqual(t.self.connections, [{
    name: "b",
    address: "10.0.0.2:6783",
    outbound: true,
    established: true,
  }]);
  assert.deepEqual(t.peers.get("b"), { name: "b", nickname: "B", uid: 2n, version: 0, connections: [] });
  assert.deepEqual(update(t), [["a"], ["b"]], "ours for every neighbour, b's for those not linked to it");
  assert.deepEqual(update(t), [[], []], "nothing changed since");
  t.removeConnection("b");
  assert.equal(t.self.version, 4);
  assert.deepEqual(t.self.connections, []);
  assert.deepEqual(events, ["changed", "self", "changed", "self", "changed", "self"]);
});

Deno.test("Topology outbids an update carrying our own name instead of merging it", () => {
  const { t, events } = topology();
  const forged = { name: "a", nickname: "A", uid: 9n, version: 40, connections: [] };
  const delta = t.onGossip(new Peers([forged]).encode()[0]);
  assert.equal(delta, undefined);
  assert.equal(t.self.uid, 1n);
  assert.equal(t.self.version, 41);
  assert.deepEqual(events, ["self"]);
  assert.equal(t.onGossip(new Peers([{ ...forged, version: 3 }]).encode()[0]), undefined);
  assert.equal(t.self.version, 41);
});

Deno.test("Topology replaces a restarted neighbour's entry and passes new entries on with an unsent local change", () => {
  const { t, events } = topology();
  const old = { name: "b", nickname: "B", uid: 7n, version: 12, connections: [] };
  t.onGossip(new Peers([old]).encode()[0]);
  t.addConnection(b);
  assert.equal(t.peers.get("b")!.uid, 2n);
  events.length = 0;
  const c = { name: "c", nickname: "C", uid: 3n, version: 1, connections: [] };
  const bc = { ...old, uid: 2n, version: 13, connections: [link("a"), link("c")] };
  assert.equal(t.onGossip(new Peers([bc, c]).encode()[0]), undefined, "passed on later, not at once");
  assert.deepEqual(events, ["changed", "relay"]);
  assert.deepEqual(update(t), [["a"], ["b", "c"]]);
  events.length = 0;
  t.onGossip(new Peers([{ ...c, version: 2 }]).encode()[0]);
  t.onGossip(new Peers([{ ...c, version: 3 }]).encode()[0]);
  assert.deepEqual(events, ["changed", "relay", "changed", "relay"]);
  assert.deepEqual(
    t.takeUpdate().relay!.list(),
    [{ ...c, version: 3 }],
    "once, in its newest version, without ours",
  );
  assert.deepEqual(t.gossip().list().map((p) => p.name), ["a", "b", "c"]);
});

Deno.test("Topology passes on only entries it can reach, and held ones once a later update connects them", () => {
  const { t } = topology();
  t.addConnection(b);
  const c = { name: "c", nickname: "C", uid: 3n, version: 4, connections: [link("d")] };
  const d = { name: "d", nickname: "D", uid: 4n, version: 2, connections: [link("c")] };
  t.takeUpdate();
  t.onGossip(new Peers([c, d]).encode()[0]);
  assert.deepEqual(update(t), [[], []], "c and d are unreachable: not passed on");
  const bc = { name: "b", nickname: "B", uid: 2n, version: 3, connections: [link("a"), link("c")] };
  t.onGossip(new Peers([bc]).encode()[0]);
  assert.deepEqual(update(t), [[], ["b", "c", "d"]]);
});

Deno.test("Topology.onGossipAnswering() answers a stale sender with our newer entries and the peers they newly name", () => {
  const { t } = topology();
  t.addConnection(b);
  const bc = { name: "b", nickname: "B", uid: 2n, version: 3, connections: [link("a"), link("c")] };
  const c = { name: "c", nickname: "C", uid: 3n, version: 4, connections: [link("b")] };
  t.onGossip(new Peers([bc, c]).encode()[0]);
  const stale = { ...bc, version: 2, connections: [link("a")] };
  assert.deepEqual(whole(t.onGossipAnswering("x", new Peers([stale]).encode()[0]).answer), [bc, c]);
  assert.deepEqual(
    t.onGossipAnswering("c", new Peers([stale]).encode()[0]).answer,
    undefined,
    "b and c are linked: b tells c itself",
  );
  const self = { ...t.self, version: 1 };
  assert.equal(
    t.onGossipAnswering("x", new Peers([self]).encode()[0]).answer,
    undefined,
    "ours goes out anyway",
  );
  t.takeUpdate();
  const ours = t.onGossipAnswering("x", new Peers([self]).encode()[0]).answer!;
  assert.deepEqual(ours.full, [], "ours as a delta from the version x sent");
  assert.deepEqual(ours.deltas.map((d) => applyDelta(self, d)), [t.self]);
  const bare = { ...t.self, version: 1, connections: [] };
  const both = t.onGossipAnswering("y", new Peers([bare]).encode()[0]).answer!;
  assert.deepEqual(both.full, [bc], "b's whole: y may not know it");
  assert.deepEqual(both.deltas.map((d) => applyDelta(bare, d)), [t.self]);
  assert.deepEqual(t.onGossipAnswering("x", new Peers([bc, c]).encode()[0]), {});
  const reborn = { ...bc, uid: 1n, connections: [link("c")] };
  assert.deepEqual(
    whole(t.onGossipAnswering("c", new Peers([reborn]).encode()[0]).answer)?.find((p) => p.name === "b"),
    bc,
    "b restarted and its new entry loses to the old here: c is told, so the news reaches b and b outbids it",
  );
});

Deno.test("Topology answers a restarted peer's losing entry to a neighbour that sent us its old one before", () => {
  // Line a–b–c: b told us c's entry; c restarts (new uid) and b's update carries the new one before we saw
  // c unreachable. Ours still wins, and b must get it (to pass it to c, which then outbids it), although b
  // sent us that very entry earlier: what b holds now is what it sent now.
  const { t } = topology();
  t.addConnection(b);
  const bc = { name: "b", nickname: "B", uid: 2n, version: 3, connections: [link("a"), link("c")] };
  const old = { name: "c", nickname: "C", uid: 3n, version: 3, connections: [link("b")] };
  t.onGossipAnswering("b", new Peers([bc, old]).encode()[0]);
  const reborn = { ...old, uid: 9n, version: 2 };
  const answer = whole(t.onGossipAnswering("b", new Peers([reborn]).encode()[0]).answer);
  assert.deepEqual(answer?.find((p) => p.name === "c"), old);
  assert.equal(t.holds("b", old), true, "and b is known to hold it now");
});

Deno.test("Topology requests an entry it lacks from one neighbour, again only after the retry time or once it came", () => {
  const clock = { now: 0 };
  const t = new Topology({ name: "a", nickname: "A", uid: 1n }, {
    changed: () => {},
    selfChanged: () => {},
    relayPending: () => {},
  }, () => clock.now);
  const d = { name: "d", nickname: "D", uid: 4n, address: "10.0.0.4:6783", outbound: true };
  t.addConnection(b);
  t.addConnection(d);
  const requested = (from: string, version: number) => {
    const entry = {
      name: from,
      nickname: from,
      uid: from === "b" ? 2n : 4n,
      version,
      connections: [link("a"), link("p")],
    };
    const r = t.onGossipAnswering(from, new Peers([entry]).encode()[0]).request;
    return r === undefined ? [] : decodeDigest(r).items.map((i) => [i.name, i.version]);
  };
  assert.deepEqual(requested("b", 1), [["p", 0]], "b names p, which we do not know");
  assert.deepEqual(requested("d", 1), [], "d names it too: b's answer is on its way");
  clock.now = TOPOLOGY_REQUEST_RETRY_MS - 1;
  assert.deepEqual(requested("d", 2), []);
  clock.now = TOPOLOGY_REQUEST_RETRY_MS;
  assert.deepEqual(requested("d", 3), [["p", 0]], "no answer came: asked again");
  const p = { name: "p", nickname: "P", uid: 9n, version: 2, connections: [link("b"), link("d")] };
  t.onGossipAnswering("d", new Peers([p]).encode()[0]);
  assert.equal(t.peers.get("p")?.version, 2);
  const newer = { name: "p", uid: 9n, base: 3, version: 4, upserts: [link("q")], removals: [] };
  const r = t.onGossipAnswering("b", new TopologyUpdate([], [newer]).encode()[0]).request;
  assert.deepEqual(
    decodeDigest(r!).items.map((i) => [i.name, i.version]),
    [["p", 2]],
    "p came: a delta it lacks the base of is asked for at once",
  );
});

Deno.test("Topology.holds() what a neighbour sent us or listed in its digest, until its connection goes", () => {
  const { t } = topology();
  t.addConnection(b);
  const c = { name: "c", nickname: "C", uid: 3n, version: 4, connections: [link("b")] };
  const d = { name: "d", nickname: "D", uid: 4n, version: 2, connections: [link("b")] };
  assert.equal(t.holds("b", c), false);
  t.onGossipAnswering("b", new Peers([c]).encode()[0]);
  assert.equal(t.holds("b", c), true);
  assert.equal(t.holds("b", { ...c, version: 5 }), false);
  t.answerDigest("b", new Peers([d]).digest());
  assert.equal(t.holds("b", d), true);
  assert.equal(t.holds("x", d), false);
  t.removeConnection("b");
  assert.equal(t.holds("b", c), false);
});

Deno.test("Topology answers anti-entropy with what the neighbour lacks, but not its own entry or entries of peers linked to it", () => {
  const c = { name: "c", nickname: "C", uid: 3n, version: 4, connections: [link("a")] };
  const e = { name: "e", nickname: "E", uid: 5n, version: 1, connections: [link("a")] };
  /** The names of a fresh topology's answer to b's anti-entropy digest listing `held` (or our own entry). */
  const answer = (held: (t: Topology) => Peer[]) => {
    const { t } = topology();
    t.addConnection(b);
    t.onGossip(new Peers([c, e]).encode()[0]);
    const u = t.onDigestAnswering("b", encodeDigest(held(t), DigestKind.antiEntropy)).answer;
    return [...u?.full ?? [], ...u?.deltas ?? []].map((x) => x.name);
  };
  assert.deepEqual(answer(() => []), ["a", "c", "e"]);
  assert.deepEqual(answer((t) => [c, t.self]), ["e"]);
});

Deno.test("Topology answers an introduction with our entry and owes the others to the next update", () => {
  const { t, events } = topology();
  t.addConnection(b);
  assert.equal(t.introduced("b"), false, "no update before we know what b holds");
  const c = { name: "c", nickname: "C", uid: 3n, version: 4, connections: [link("a")] };
  const e = { name: "e", nickname: "E", uid: 5n, version: 1, connections: [link("a")] };
  t.onGossip(new Peers([c, e]).encode()[0]);
  events.length = 0;
  const names = (ps: { name: string }[]) => ps.map((x) => x.name);
  assert.deepEqual(names(whole(t.answerDigest("b", new Peers([]).digest()))!), ["a"]);
  assert.equal(t.introduced("b"), true);
  assert.deepEqual(events, ["relay"], "the owed entries go with an update within the relay deferral");
  t.onGossip(new Peers([{ ...c, version: 5 }]).encode()[0]);
  assert.deepEqual(
    t.takeOwed("b").map((p) => [p.name, p.version]),
    [["c", 5], ["e", 1]],
    "at their current versions",
  );
  assert.deepEqual(t.takeOwed("b"), [], "once");
  assert.equal(t.answerDigest("b", new Peers([t.self, { ...c, version: 5 }]).digest()), undefined);
  assert.deepEqual(names(t.takeOwed("b")), ["e"], "only what it lacks");
  t.answerDigest("b", new Peers([]).digest());
  t.removeConnection("b");
  assert.equal(t.introduced("b"), false);
  assert.deepEqual(t.takeOwed("b"), [], "forgotten with the connection");
});

Deno.test("Topology owes a restarted neighbour its old entry when that wins here, so that it outbids it", () => {
  const { t } = topology();
  t.addConnection(b);
  const old = { name: "b", nickname: "B", uid: 1n, version: 5, connections: [link("a"), link("c")] };
  t.onGossip(new Peers([old]).encode()[0]);
  assert.equal(t.peers.get("b")?.uid, 1n, "the old incarnation's entry beats the placeholder");
  const live = { name: "b", nickname: "B", uid: b.uid, version: 2, connections: [link("a")] };
  t.answerDigest("b", new Peers([live]).digest());
  assert.deepEqual(t.toPassOn("b", t.takeOwed("b")), [old]);
});

Deno.test("Topology passes the entries an introduction lacked on where designated, answers anti-entropy with every unlinked one", () => {
  const { t } = topology();
  t.addConnection(b);
  const names = (u?: TopologyUpdate) => [...u?.full ?? [], ...u?.deltas ?? []].map((x) => x.name).sort();
  // x1..x3 link b and each owner, so four peers could tell b of an owner's entry; one is designated.
  const xs = ["x1", "x2", "x3"].map((name) => ({
    name,
    nickname: name,
    uid: 9n,
    version: 1,
    connections: [link("b"), ...["p0", "p1", "p2", "p3", "p4", "p5"].map(link)],
  }));
  const owners = ["p0", "p1", "p2", "p3", "p4", "p5"].map((name) => ({
    name,
    nickname: name,
    uid: 7n,
    version: 3,
    connections: [link("a"), link("x1"), link("x2"), link("x3")],
  }));
  const c = { name: "c", nickname: "C", uid: 3n, version: 2, connections: [link("a"), link("b")] };
  t.onGossip(new Peers([...xs, ...owners, c]).encode()[0]);
  const designated = owners.map((p) => p.name).filter((p) => t.designated(p, "b", 1));
  assert.ok(designated.length > 0 && designated.length < owners.length, `designated ${designated}`);
  const ae = t.onDigestAnswering("b", encodeDigest([], DigestKind.antiEntropy)).answer;
  assert.deepEqual(
    names(ae),
    ["a", ...owners.map((p) => p.name)].sort(),
    "the linked ones tell b themselves",
  );
  assert.deepEqual(names(t.answerDigest("b", new Peers([]).digest())), ["a"]);
  assert.deepEqual(
    t.toPassOn("b", t.takeOwed("b")).map((p) => p.name).sort(),
    designated.sort(),
    "c and the x are linked to b: they tell b themselves",
  );
});

Deno.test("Topology.staleIncarnation() names a neighbour's entry of another uid than its handshake gave", () => {
  const { t } = topology();
  t.addConnection(b);
  const live = { name: "b", nickname: "B", uid: b.uid, version: 3, connections: [link("a")] };
  assert.equal(t.staleIncarnation(live), false);
  assert.equal(t.staleIncarnation({ ...live, uid: 99n }), true, "b restarted; this is the old b");
  assert.equal(t.staleIncarnation({ ...live, name: "c", uid: 99n }), false, "not a neighbour");
  t.removeConnection("b");
  assert.equal(t.staleIncarnation({ ...live, uid: 99n }), false, "no longer a neighbour");
});
