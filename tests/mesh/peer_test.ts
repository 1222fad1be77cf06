import assert from "node:assert/strict";
import { comparePeers, encodePeer, type Peer, readPeer } from "../../src/mesh/peer.ts";
import { ByteReader } from "../../src/mesh/byte_codec.ts";

const a: Peer = {
  name: "02:00:00:00:00:01",
  nickname: "héte",
  uid: 2n ** 64n - 1n,
  version: 7,
  connections: [
    { name: "02:00:00:00:00:02", address: "10.0.0.2:6783", outbound: true, established: true },
    { name: "02:00:00:00:00:03", address: "[fd00::3]:41000", outbound: false, established: false },
  ],
};

function roundTrip(p: Peer): Peer {
  const r = new ByteReader(encodePeer(p), "peer");
  const got = readPeer(r);
  r.end();
  return got;
}

Deno.test("encodePeer() and readPeer() round-trip", () => {
  assert.deepEqual(roundTrip(a), a);
  assert.deepEqual(roundTrip({ ...a, connections: [] }), { ...a, connections: [] });
});

Deno.test("readPeer() rejects empty names, self-connections, unsorted connections and unknown flags", () => {
  const bad: Peer[] = [
    { ...a, name: "" },
    { ...a, connections: [{ ...a.connections[0], name: a.name }] },
    { ...a, connections: [a.connections[1], a.connections[0]] },
    { ...a, connections: [a.connections[0], a.connections[0]] },
  ];
  for (const p of bad) assert.throws(() => roundTrip(p), /^Error: Cannot decode peer: /);
  const bytes = encodePeer({ ...a, connections: [a.connections[0]] }).slice();
  bytes[bytes.length - 1] = 4;
  assert.throws(() => readPeer(new ByteReader(bytes, "peer")), /connection flags 0x4 .* are unknown/);
});

Deno.test("comparePeers() orders by version, then uid, then content", () => {
  assert.ok(comparePeers({ ...a, version: 8, uid: 0n }, a) > 0);
  assert.ok(comparePeers({ ...a, uid: 1n }, a) < 0);
  assert.equal(comparePeers({ ...a }, a), 0);
  const fewer = { ...a, connections: [a.connections[0]] };
  assert.ok(comparePeers(fewer, a) < 0 && comparePeers(a, fewer) > 0);
  const flipped = { ...a, connections: [{ ...a.connections[0], established: false }, a.connections[1]] };
  assert.ok(comparePeers(flipped, a) < 0 && comparePeers(a, flipped) > 0);
});
