import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { HeartbeatKind } from "../../../src/overlay/fastdp/constants.ts";
import {
  decodeHeartbeat,
  encodeHeartbeat,
  HeartbeatError,
  MIN_HEARTBEAT_FRAME,
} from "../../../src/overlay/fastdp/heartbeat.ts";

const FROM = 0x0200_0000_000a, TO = 0x0200_0000_000b;

Deno.test("encodeHeartbeat() and decodeHeartbeat() round-trip at every size, addressed by peer names", () => {
  const buf = new Uint8Array(9100);
  for (const size of [MIN_HEARTBEAT_FRAME, 100, 1464, 9014]) {
    for (const kind of [HeartbeatKind.probe, HeartbeatKind.ack]) {
      const h = { kind, from: FROM, to: TO, sequence: 0xfffffffe, size };
      const frame = encodeHeartbeat(h, buf);
      assert.equal(frame.length, size);
      assert.deepEqual([...frame.subarray(0, 6)], [2, 0, 0, 0, 0, 0x0b], "destination MAC is the receiver");
      assert.deepEqual([frame[12], frame[13]], [0x88, 0xb5]);
      assert.deepEqual(decodeHeartbeat(frame), h);
    }
  }
  assert.throws(
    () => encodeHeartbeat({ kind: 1, from: FROM, to: TO, sequence: 1, size: 20 }, buf),
    /Invalid heartbeat size '20': use 37 to 9100 bytes/,
  );
  assert.throws(
    () => encodeHeartbeat({ kind: 1, from: FROM, to: TO, sequence: 1, size: 9101 }, buf),
    RangeError,
  );
});

Deno.test("decodeHeartbeat() refuses cut, foreign and mutated frames with a HeartbeatError", () => {
  const buf = new Uint8Array(1500);
  const good = encodeHeartbeat(
    { kind: HeartbeatKind.probe, from: FROM, to: TO, sequence: 7, size: 1464 },
    buf,
  )
    .slice();
  assert.throws(() => decodeHeartbeat(good.subarray(0, 1400)), /declares 1464; it was cut or padded/);
  assert.throws(() => decodeHeartbeat(good.subarray(0, 30)), /too short: 30 bytes/);
  const ip = good.slice();
  ip[12] = 0x08, ip[13] = 0x00;
  assert.throws(() => decodeHeartbeat(ip), /EtherType 0x800/);
  const spoofed = good.slice();
  spoofed[5] = 0x0c;
  assert.throws(() => decodeHeartbeat(spoofed), /MAC addresses disagree/);
  const kind = good.slice();
  kind[18] = 9;
  assert.throws(() => decodeHeartbeat(kind), /Unknown heartbeat kind 9/);

  // Fuzz: random bytes and random mutations of a valid frame either decode or throw HeartbeatError.
  const rnd = new SeededRandom(0x4b);
  for (let i = 0; i < 5000; i++) {
    let f: Uint8Array;
    if (i % 2 === 0) {
      f = new Uint8Array(Math.floor(rnd.next() * 200));
      for (let j = 0; j < f.length; j++) f[j] = Math.floor(rnd.next() * 256);
    } else {
      f = good.slice(0, 37 + Math.floor(rnd.next() * (good.length - 36)));
      for (let m = 0; m < 3; m++) {
        f[Math.floor(rnd.next() * Math.min(f.length, 40))] ^= 1 << Math.floor(rnd.next() * 8);
      }
    }
    try {
      const h = decodeHeartbeat(f);
      assert.equal(h.size, f.length);
    } catch (e) {
      assert.ok(e instanceof HeartbeatError, String(e));
    }
  }
});
