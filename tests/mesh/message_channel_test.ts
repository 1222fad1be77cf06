import assert from "node:assert/strict";
import { Tag } from "../../src/mesh/constants.ts";
import { MessageChannel } from "../../src/mesh/message_channel.ts";
import { AuthenticationError } from "../../src/mesh/protocol_crypto.ts";
import { memoryDuplexPair } from "../../src/mesh/testing/memory_duplex.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

const key = new Uint8Array(32).fill(7);

function channelPair(options: { maxChunk?: number; sealed?: boolean; maxMessageSize?: number } = {}) {
  const [da, db] = memoryDuplexPair({ maxChunk: options.maxChunk });
  const a = new MessageChannel(da, undefined, { maxMessageSize: options.maxMessageSize });
  const b = new MessageChannel(db, undefined, { maxMessageSize: options.maxMessageSize });
  if (options.sealed) {
    a.setSessionKey(key, true);
    b.setSessionKey(key, false);
  }
  return { a, b, da, db };
}

for (const sealed of [false, true]) {
  Deno.test(`MessageChannel.send() messages arrive whole and in order (${sealed ? "sealed" : "plain"})`, async () => {
    const { a, b } = channelPair({ maxChunk: 3, sealed });
    const sends = [];
    for (let i = 0; i < 20; i++) {
      sends.push(a.send(Tag.gossip, Uint8Array.from({ length: i * 7 }, (_, j) => j + i)));
    }
    await Promise.all(sends);
    await a.send(Tag.heartbeat);
    for (let i = 0; i < 20; i++) {
      const m = await b.receive();
      assert.deepEqual(m, { tag: Tag.gossip, payload: Uint8Array.from({ length: i * 7 }, (_, j) => j + i) });
    }
    assert.deepEqual(await b.receive(), { tag: Tag.heartbeat, payload: new Uint8Array(0) });
    a.close();
    assert.equal(await b.receive(), null);
    b.close();
  });
}

Deno.test("MessageChannel.send() rejects a bad tag, an oversized message and sends after close", async () => {
  const { a, b } = channelPair({ maxMessageSize: 100 });
  await assert.rejects(a.send(256), RangeError);
  await assert.rejects(a.send(Tag.gossip, new Uint8Array(100)), {
    name: "RangeError",
    message: "Cannot send message: 101 bytes exceeds the maximum 100; split it into smaller messages",
  });
  await a.send(Tag.gossip, new Uint8Array(99));
  a.close();
  await assert.rejects(a.send(Tag.gossip), { message: "Cannot send message: the channel is closed" });
  b.close();
});

Deno.test("MessageChannel.send() fails every later send once a write failed", async () => {
  const { a, b } = channelPair();
  b.close();
  await assert.rejects(a.send(Tag.gossip), {
    message: "Cannot send message: Cannot write: connection closed by peer",
  });
  await assert.rejects(a.send(Tag.gossip), {
    message: "Cannot send message: Cannot write: connection closed by peer",
  });
  a.close();
});

Deno.test("MessageChannel.receive() rejects oversized, truncated, empty and unsealed frames", async () => {
  const cases: [Uint8Array, RegExp | string][] = [
    [
      Uint8Array.of(0xff, 0xff, 0xff, 0xff),
      "Cannot receive message: length 4294967295 exceeds the maximum 100; " +
      "the peer is not speaking the meshnet protocol",
    ],
    [Uint8Array.of(0, 0, 0, 101), /length 101 exceeds the maximum 100/],
    [Uint8Array.of(0, 0, 0, 5, 1, 2), "Cannot read message body: connection closed after 2 of 5 bytes"],
    [Uint8Array.of(0, 0), "Cannot read message length: connection closed after 2 of 4 bytes"],
    [Uint8Array.of(0, 0, 0, 0), "Cannot receive message: the message is empty and has no tag byte"],
  ];
  for (const [bytes, message] of cases) {
    const { b, da } = channelPair({ maxMessageSize: 100 });
    await da.write(bytes);
    da.close();
    await assert.rejects(b.receive(), { message });
    b.close();
  }
  const { b, da } = channelPair({ sealed: true });
  await da.write(Uint8Array.of(0, 0, 0, 2, Tag.heartbeat, 0));
  await assert.rejects(b.receive(), AuthenticationError);
  da.close();
  b.close();
});

Deno.test("MessageChannel.receive() fuzz: random and mutated frames give messages or a clear error", async () => {
  const rng = new SeededRandom(0xc4a2);
  const valid: Uint8Array[] = [];
  for (const sealed of [false, true]) {
    // Record what a real sender writes, to mutate it.
    const { a, db } = channelPair({ sealed });
    const recorded: number[] = [];
    for (let i = 0; i < 5; i++) await a.send(rng.int(8), rng.bytes(rng.int(40)));
    a.close();
    const buf = new Uint8Array(4096);
    for (let n = await db.read(buf); n !== null; n = await db.read(buf)) recorded.push(...buf.subarray(0, n));
    valid.push(Uint8Array.from(recorded));
    db.close();
  }
  for (let i = 0; i < 1500; i++) {
    const sealed = i % 2 === 1;
    const input = i % 5 === 0 ? rng.bytes(rng.int(60)) : rng.mutate(valid[sealed ? 1 : 0]);
    const { b, da } = channelPair({ sealed, maxChunk: 1 + rng.int(16), maxMessageSize: 1000 });
    await da.write(input);
    da.close();
    let count = 0;
    try {
      while ((await b.receive()) !== null) count++;
    } catch (e) {
      assert.ok(e instanceof Error && /^Cannot (read|receive|open) /.test(e.message), String(e));
    }
    assert.ok(count <= input.length / 5);
    b.close();
  }
});
