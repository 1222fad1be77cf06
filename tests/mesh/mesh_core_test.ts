import assert from "node:assert/strict";
import { MeshCore, OTHER_CHANNELS } from "../../src/mesh/mesh_core.ts";
import type { Gossip } from "../../src/mesh/gossip.ts";
import { Pump, simulatedPeerName } from "../../src/mesh/testing/pump.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";
import { encodeGossipMessage, type GossipTag } from "../../src/mesh/gossip_message.ts";
import { Peers } from "../../src/mesh/peers.ts";
import { Channel, GOSSIP_INTERVAL_MS, Tag } from "../../src/mesh/constants.ts";
import { SetGossiper, StringSet } from "./string_set.ts";

const [A, B, C, D] = [0, 1, 2, 3].map(simulatedPeerName);

/** A pump of `n` peers linked along `links` ([dialler, listener] indexes) with a "test" channel, run until settled. */
function meshOf(
  n: number,
  links: [number, number][],
  seed = 1,
): { pump: Pump; sets: SetGossiper[]; gossips: Gossip[] } {
  const pump = new Pump({ seed });
  const sets: SetGossiper[] = [];
  const gossips: Gossip[] = [];
  for (let i = 0; i < n; i++) {
    sets.push(new SetGossiper());
    gossips.push(pump.addPeer(simulatedPeerName(i)).newGossip("test", sets[i]));
  }
  for (const [a, b] of links) pump.connect(simulatedPeerName(a), simulatedPeerName(b));
  pump.runFor(3_000);
  return { pump, sets, gossips };
}

/** A lone core whose sends are recorded. */
function recordingCore(clock: { now: number }): { core: MeshCore; sent: [string, number, Uint8Array][] } {
  const sent: [string, number, Uint8Array][] = [];
  const rng = new SeededRandom(1);
  const core = new MeshCore({
    name: A,
    nickname: "a",
    uid: 1n,
    send: (to, tag, payload) => sent.push([to, tag, payload]),
    random: () => rng.next(),
    now: () => clock.now,
  });
  return { core, sent };
}

Deno.test("MeshCore unicast is relayed hop by hop to the destination's gossiper", () => {
  const { pump, sets } = meshOf(3, [[0, 1], [1, 2]]);
  const gossip = pump.core(A).newGossip("unicast-only", sets[0]);
  pump.core(C).newGossip("unicast-only", sets[2]);
  gossip.gossipUnicast(C, new TextEncoder().encode("hello"));
  pump.runFor(100);
  assert.deepEqual(sets[2].unicasts, [[A, "hello"]]);
  assert.equal(pump.core(B).counters().get(OTHER_CHANNELS)?.sentMessages, 1);
  gossip.gossipUnicast(simulatedPeerName(99), new Uint8Array(1));
  pump.runFor(100);
  assert.equal(sets[2].unicasts.length, 1);
});

Deno.test("MeshCore broadcast on a custom channel reaches every peer once; anti-entropy repairs a lost one", () => {
  const { pump, sets, gossips } = meshOf(5, [[0, 1], [1, 2], [1, 3], [3, 4], [2, 4]]);
  sets[0].state.items.add("x");
  gossips[0].gossipBroadcast(new StringSet(["x"]));
  pump.runFor(100);
  for (const s of sets) assert.deepEqual([...s.state.items], ["x"]);
  const received = pump.cores().map((c) => c.counters().get("test")!.receivedMessages);
  assert.deepEqual(received, [0, 1, 1, 1, 1]);

  pump.deliver = false;
  sets[4].state.items.add("y");
  gossips[4].gossipBroadcast(new StringSet(["y"]));
  pump.runFor(100);
  pump.deliver = true;
  pump.runFor(3 * GOSSIP_INTERVAL_MS);
  for (const s of sets) assert.ok(s.state.items.has("y"), "anti-entropy spread the lost update");
});

Deno.test("MeshCore.discovery() lists unconnected peers' addresses, inbound ones on the mesh port", () => {
  const { pump } = meshOf(4, [[0, 1], [1, 2], [3, 2]]);
  assert.deepEqual(pump.core(A).discovery(), [
    { name: C, address: "10.0.0.2:6783" },
    { name: D, address: "10.0.0.3:6783" },
  ]);
  assert.deepEqual(pump.core(B).discovery(), [{ name: D, address: "10.0.0.3:6783" }]);
});

Deno.test("MeshCore.tick() sends a digest on connect, the local change after 1 s once the digest is answered, a digest every 30 s", () => {
  const clock = { now: 0 };
  const { core, sent } = recordingCore(clock);
  core.connectionAdded({ name: B, nickname: "b", uid: 2n, address: "10.0.0.2:6783", outbound: true });
  assert.deepEqual(sent.map(([to, tag]) => [to, tag]), [[B, Tag.gossipDigest]]);
  core.connectionEstablished(B);
  assert.equal(core.nextTimer(), 100);
  const changes: number[] = [];
  core.onTopologyChange(() => changes.push(clock.now));
  clock.now = 100;
  core.tick();
  assert.deepEqual(changes, [100]);
  assert.equal(core.nextTimer(), 1_000);
  clock.now = 1_000;
  core.tick();
  assert.deepEqual(
    sent.map(([, tag]) => tag),
    [Tag.gossipDigest],
    "no update before b's digest says what it holds",
  );
  const digestOf = (src: string) =>
    encodeGossipMessage(Tag.gossipDigest, {
      channel: Channel.topology,
      src,
      payload: new Peers([]).digest(),
    });
  core.receive(B, Tag.gossipDigest, digestOf(B));
  core.connectionAdded({ name: C, nickname: "c", uid: 3n, address: "10.0.0.3:6783", outbound: true });
  assert.equal(core.nextTimer(), 1_100, "routes first");
  clock.now = 1_100;
  core.tick();
  assert.equal(core.nextTimer(), 2_000);
  clock.now = 2_000;
  core.tick();
  const pairs = () => sent.map(([to, tag]) => [to, tag]);
  assert.deepEqual(pairs(), [
    [B, Tag.gossipDigest],
    [B, Tag.gossip], // our entry answers b's digest
    [C, Tag.gossipDigest],
    [B, Tag.gossip], // the new connection, to b only: c's digest has not come
  ]);
  clock.now = GOSSIP_INTERVAL_MS;
  core.tick();
  assert.ok(pairs().slice(4).every(([, tag]) => tag === Tag.gossipDigest) && sent.length > 4, "anti-entropy");
  assert.equal(core.nextTimer(), 2 * GOSSIP_INTERVAL_MS);
  const topo = core.counters().get(Channel.topology)!;
  assert.equal(topo.sentMessages, sent.length);
  assert.equal(topo.sentBytes, sent.reduce((s, [, , p]) => s + p.length, 0));
  assert.deepEqual(core.peers().find((p) => p.name === A)!.connections.map((c) => c.established), [
    true,
    false,
  ]);
});

Deno.test("MeshCore rejects misuse with clear errors", () => {
  const { core } = recordingCore({ now: 0 });
  const info = { name: B, nickname: "b", uid: 2n, address: "10.0.0.2:6783", outbound: true };
  assert.throws(
    () => core.connectionAdded({ ...info, name: A }),
    /^Error: Cannot add connection to '.*': that is our own name$/,
  );
  core.connectionAdded(info);
  assert.throws(() => core.connectionAdded(info), /already connected; remove the old connection first/);
  assert.throws(() => core.connectionEstablished(C), /Cannot establish connection to '.*': not connected/);
  assert.throws(() => core.connectionRemoved(C), /Cannot remove connection to '.*': not connected/);
  assert.throws(
    () => core.receive(C, Tag.gossip, new Uint8Array()),
    /Cannot accept gossip from '.*': not a connected/,
  );
  assert.throws(
    () => core.receive(B, Tag.heartbeat, new Uint8Array()),
    /Cannot decode gossip message with tag 0/,
  );
  assert.throws(() => core.newGossip(Channel.topology, new SetGossiper()), /already registered/);
});

Deno.test("MeshCore.receive() fuzzed with random and mutated gossip throws clear errors and still converges", () => {
  const { pump } = meshOf(4, [[0, 1], [1, 2], [2, 3], [3, 0]], 3);
  const target = pump.core(A);
  const rng = new SeededRandom(77);
  const table = new Peers(target.peers()).encode()[0];
  const valid: [GossipTag, Uint8Array][] = [Tag.gossip, Tag.gossipBroadcast, Tag.gossipUnicast].map((tag) => [
    tag,
    encodeGossipMessage(tag, { channel: Channel.topology, src: C, dst: A, payload: table }),
  ]);
  const before = target.peers();
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    const [tag, msg] = valid[rng.int(valid.length)];
    const input = i % 10 === 0 ? rng.bytes(rng.int(40)) : rng.mutate(msg);
    const was = target.peers();
    try {
      target.receive(B, tag, input);
    } catch (e) {
      assert.ok(e instanceof Error);
      assert.match(e.message, /^Cannot (decode|apply) gossip/);
      assert.deepEqual(target.peers(), was, "a rejected message changes nothing");
      rejected++;
    }
  }
  assert.ok(rejected > 1500, `${rejected} rejected`);
  assert.notDeepEqual(target.peers(), before, "some mutations were valid updates");
  pump.runFor(4 * GOSSIP_INTERVAL_MS);
  const own = new Map(pump.cores().map((c) => [c.name, c.peers().find((p) => p.name === c.name)]));
  for (const core of pump.cores()) {
    assert.deepEqual(core.peers(), [...own.values()].sort((x, y) => (x!.name < y!.name ? -1 : 1)), core.name);
  }
});

Deno.test("MeshCore.dataPlaneRoutes() holds routes()'s unicast and broadcast tables, as copies", () => {
  const { pump } = meshOf(5, [[0, 1], [1, 2], [1, 3], [3, 4], [2, 4]]);
  for (const name of [A, B, C, D]) {
    const core = pump.core(name);
    const view = core.routes();
    const tables = core.dataPlaneRoutes();
    assert.equal(tables.unicast.size, 4, `${name} reaches every other peer`);
    assert.deepEqual(Object.fromEntries(tables.unicast), view.unicast);
    assert.deepEqual(Object.fromEntries(tables.broadcast), view.broadcast);
    tables.unicast.clear();
    tables.broadcast.get(name)!.push("x");
    assert.deepEqual(core.dataPlaneRoutes().broadcast.get(name), view.broadcast[name], "a copy");
  }
});
