import assert from "node:assert/strict";
import { decodeGossipMessage, encodeGossipMessage } from "../../src/mesh/gossip_message.ts";
import { Tag } from "../../src/mesh/constants.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

const payload = new Uint8Array([1, 2, 3]);

Deno.test("encodeGossipMessage() and decodeGossipMessage() round-trip each tag", () => {
  const m = { channel: "topology", src: "02:00:00:00:00:01", payload };
  for (const tag of [Tag.gossip, Tag.gossipBroadcast]) {
    assert.deepEqual(decodeGossipMessage(tag, encodeGossipMessage(tag, m)), m);
  }
  const u = { ...m, dst: "02:00:00:00:00:02" };
  assert.deepEqual(decodeGossipMessage(Tag.gossipUnicast, encodeGossipMessage(Tag.gossipUnicast, u)), u);
  assert.throws(
    () => encodeGossipMessage(Tag.gossipUnicast, m),
    /^Error: Cannot encode unicast gossip on 'topology': no destination$/,
  );
});

Deno.test("decodeGossipMessage() throws clear errors on random and mutated input", () => {
  const rng = new SeededRandom(21);
  const valid = encodeGossipMessage(Tag.gossipUnicast, { channel: "c", src: "s", dst: "d", payload });
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    const input = i % 4 === 0 ? rng.bytes(rng.int(30)) : rng.mutate(valid);
    try {
      const m = decodeGossipMessage(Tag.gossipUnicast, input);
      assert.ok(m.channel !== "" && m.src !== "" && m.dst !== "");
    } catch (e) {
      assert.ok(e instanceof Error);
      assert.match(
        e.message,
        /^Cannot decode gossip message: .*; the sender is incompatible or the data is corrupt$/,
      );
      rejected++;
    }
  }
  assert.ok(rejected > 2000, `${rejected} rejected`);
  assert.throws(
    () => decodeGossipMessage(Tag.heartbeat, valid),
    /^Error: Cannot decode gossip message with tag 0/,
  );
});
