import assert from "node:assert/strict";
import { type ChannelHost, GossipChannel } from "../../src/mesh/gossip_channel.ts";
import { decodeGossipMessage, type GossipTag } from "../../src/mesh/gossip_message.ts";
import { Routes } from "../../src/mesh/routes.ts";
import type { Peer } from "../../src/mesh/peer.ts";
import { Tag } from "../../src/mesh/constants.ts";
import { SetGossiper, StringSet } from "./string_set.ts";

/** Us ("a") linked to "b" and "c"; "c" linked to "d". */
function host(): ChannelHost & { sent: [string, GossipTag, Uint8Array][]; slow: Set<string> } {
  const links: Record<string, string[]> = { a: ["b", "c"], b: ["a"], c: ["a", "d"], d: ["c"] };
  const peers = new Map<string, Peer>(
    Object.entries(links).map(([name, to]) => [name, {
      name,
      nickname: name,
      uid: 1n,
      version: 1,
      connections: to.map((n) => ({ name: n, address: "", outbound: true, established: true })),
    }]),
  );
  const routes = new Routes("a");
  routes.calculate((n) => peers.get(n));
  const sent: [string, GossipTag, Uint8Array][] = [];
  const slow = new Set<string>();
  return {
    us: "a",
    routes,
    random: () => 0.5,
    congested: (n) => slow.has(n),
    neighbours: () => peers.get("a")?.connections.map((c) => c.name) ?? [],
    transmit: (n, tag, bytes) => sent.push([n, tag, bytes]),
    sent,
    slow,
  };
}

function payloads(sent: [string, GossipTag, Uint8Array][], to: string): [number, string, string[]][] {
  return sent.filter(([n]) => n === to).map(([, tag, bytes]) => {
    const m = decodeGossipMessage(tag, bytes);
    return [tag, m.src, [...StringSet.decode(m.payload).items]];
  });
}

Deno.test("GossipChannel holds data for a congested neighbour and sends one merged message per kind", () => {
  const h = host();
  const ch = new GossipChannel("test", new SetGossiper(), h);
  h.slow.add("c");
  ch.gossipNeighbourSubset(new StringSet(["1"]));
  ch.gossipNeighbourSubset(new StringSet(["2"]));
  ch.gossipBroadcast(new StringSet(["3"]));
  ch.relayBroadcast("b", new StringSet(["4"]));
  ch.gossipBroadcast(new StringSet(["5"]));
  ch.gossipUnicast("d", new Uint8Array([9]));
  assert.deepEqual(payloads(h.sent, "b"), [[Tag.gossip, "a", ["1"]], [Tag.gossip, "a", ["2"]], [
    Tag.gossipBroadcast,
    "a",
    ["3"],
  ], [Tag.gossipBroadcast, "a", ["5"]]]);
  assert.equal(h.sent.filter(([n]) => n === "c").length, 0);
  h.slow.delete("c");
  ch.flush("c");
  const toC = h.sent.filter(([n]) => n === "c");
  assert.deepEqual(toC.map(([, tag]) => tag), [
    Tag.gossipUnicast,
    Tag.gossipBroadcast,
    Tag.gossipBroadcast,
    Tag.gossip,
  ]);
  assert.deepEqual(decodeGossipMessage(Tag.gossipUnicast, toC[0][2]).dst, "d");
  assert.deepEqual(payloads(toC.slice(1), "c"), [[Tag.gossipBroadcast, "a", ["3", "5"]], [
    Tag.gossipBroadcast,
    "b",
    ["4"],
  ], [Tag.gossip, "a", ["1", "2"]]]);
  ch.flush("c");
  assert.equal(h.sent.filter(([n]) => n === "c").length, 4);
});

Deno.test("GossipChannel.drop() forgets a gone neighbour's pending data", () => {
  const h = host();
  const ch = new GossipChannel("test", new SetGossiper(), h);
  h.slow.add("b");
  ch.gossipNeighbourSubset(new StringSet(["1"]));
  ch.drop("b");
  ch.flush("b");
  assert.equal(h.sent.filter(([n]) => n === "b").length, 0);
});

Deno.test("GossipChannel.deliverGossip() passes only the new part on, never back to the sender", () => {
  const h = host();
  const g = new SetGossiper();
  const ch = new GossipChannel("test", g, h);
  const msg = { channel: "test", src: "b", payload: new StringSet(["1", "2"]).encode()[0] };
  ch.deliverGossip("b", msg);
  assert.deepEqual(payloads(h.sent, "c"), [[Tag.gossip, "a", ["1", "2"]]]);
  assert.equal(h.sent.filter(([n]) => n === "b").length, 0);
  ch.deliverGossip("c", msg);
  assert.equal(h.sent.length, 1);
});

Deno.test("GossipChannel with fullStateOnly sends the full state instead of a delta", () => {
  const h = host();
  const g = new SetGossiper();
  g.state.items.add("old");
  const ch = new GossipChannel("test", g, h, true);
  ch.gossipBroadcast(new StringSet(["new"]));
  assert.deepEqual(payloads(h.sent, "b"), [[Tag.gossipBroadcast, "a", ["old"]]]);
});

Deno.test("GossipChannel with a throttle sends the first broadcast at once and merges later ones until due", () => {
  const h = host();
  let now = 1000;
  const ch = new GossipChannel("test", new SetGossiper(), h, false, { ms: 100, now: () => now });
  ch.gossipBroadcast(new StringSet(["1"]));
  now = 1050;
  ch.gossipBroadcast(new StringSet(["2"]));
  ch.gossipBroadcast(new StringSet(["3"]));
  assert.deepEqual(payloads(h.sent, "b"), [[Tag.gossipBroadcast, "a", ["1"]]]);
  assert.equal(ch.heldDueAt(), 1100);
  ch.sendHeld(1099);
  assert.equal(h.sent.filter(([n]) => n === "b").length, 1);
  ch.sendHeld(1100);
  assert.deepEqual(payloads(h.sent, "b")[1], [Tag.gossipBroadcast, "a", ["2", "3"]]);
  assert.equal(ch.heldDueAt(), undefined);
  now = 1250;
  ch.gossipBroadcast(new StringSet(["4"]));
  assert.deepEqual(payloads(h.sent, "b")[2], [Tag.gossipBroadcast, "a", ["4"]]);
});

Deno.test("GossipChannel sends a digest gossiper's digest on a new connection and answers a digest", () => {
  const h = host();
  const answered: string[] = [];
  const g = Object.assign(new SetGossiper(), {
    digest: () => new TextEncoder().encode("d"),
    answerDigest: (src: string, d: Uint8Array) => {
      answered.push(`${src}:${new TextDecoder().decode(d)}`);
      return new StringSet(["x"]);
    },
  });
  const ch = new GossipChannel("test", g, h);
  ch.sendFullState("b");
  assert.equal(h.sent.length, 1);
  assert.equal(h.sent[0][1], Tag.gossipDigest);
  assert.equal(new TextDecoder().decode(decodeGossipMessage(Tag.gossipDigest, h.sent[0][2]).payload), "d");
  ch.deliverDigest("c", { channel: "test", src: "c", payload: new TextEncoder().encode("q") });
  assert.deepEqual(answered, ["c:q"]);
  assert.deepEqual(payloads(h.sent, "c"), [[Tag.gossip, "a", ["x"]]]);
});

Deno.test("GossipChannel anti-entropy sends a digest gossiper's anti-entropy digest, else its full state", () => {
  const digestOf = (sent: [string, GossipTag, Uint8Array][]) =>
    sent.map((
      [n, tag, bytes],
    ) => [n, tag, new TextDecoder().decode(decodeGossipMessage(tag, bytes).payload)]);
  const h = host();
  const g = Object.assign(new SetGossiper(), {
    digest: () => new TextEncoder().encode("new"),
    answerDigest: () => undefined,
    antiEntropyDigest: () => new TextEncoder().encode("ae"),
  });
  g.state.merge(new StringSet(["x"]));
  new GossipChannel("test", g, h).gossipFullState();
  assert.deepEqual(digestOf(h.sent).sort(), [["b", Tag.gossipDigest, "ae"], ["c", Tag.gossipDigest, "ae"]]);
  const plain = host();
  const p = new SetGossiper();
  p.state.merge(new StringSet(["x"]));
  new GossipChannel("test", p, plain).gossipFullState();
  assert.deepEqual(payloads(plain.sent, "b"), [[Tag.gossip, "a", ["x"]]]);
});
