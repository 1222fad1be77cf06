import assert from "node:assert/strict";
import { decodeFeatures, encodeFeatures, type Features } from "../../src/mesh/features.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

const sample: Features = {
  name: "ce:31:e0:06:45:1e",
  nickname: "host-1",
  uid: 0xfedcba9876543210n,
  connId: 42n,
  overlays: ["fastdp", "sleeve"],
  version: "0.1.0",
  port: 6783,
};

function randomString(rng: SeededRandom, max: number): string {
  return String.fromCodePoint(...Array.from({ length: rng.int(max) }, () => 0x20 + rng.int(0x2000)));
}

function randomFeatures(rng: SeededRandom): Features {
  return {
    name: "n" + randomString(rng, 20),
    nickname: randomString(rng, 20),
    uid: rng.u64(),
    connId: rng.u64(),
    overlays: Array.from({ length: rng.int(4) }, () => randomString(rng, 8)),
    version: randomString(rng, 10),
    port: 1 + rng.int(65535),
    ...(rng.int(2) ? { ciphers: Array.from({ length: 1 + rng.int(3) }, () => randomString(rng, 8)) } : {}),
    ...(rng.int(2) ? { offloads: Array.from({ length: 1 + rng.int(3) }, () => randomString(rng, 8)) } : {}),
  };
}

/** One encoded record: type, 2-byte length, value. */
function record(type: number, ...value: number[]): number[] {
  return [type, value.length >> 8, value.length & 0xff, ...value];
}

Deno.test("decodeFeatures() inverts encodeFeatures() (seeded property)", () => {
  const rng = new SeededRandom(0xfea7);
  for (let i = 0; i < 500; i++) {
    const f = randomFeatures(rng);
    assert.deepEqual(decodeFeatures(encodeFeatures(f)), f);
  }
  assert.deepEqual(decodeFeatures(encodeFeatures(sample)), sample);
});

Deno.test("decodeFeatures() skips unknown record types", () => {
  const unknown = Uint8Array.of(200, 0, 2, 0xaa, 0xbb);
  const bytes = new Uint8Array([...unknown, ...encodeFeatures(sample)]);
  assert.deepEqual(decodeFeatures(bytes), sample);
});

Deno.test("decodeFeatures() rejects truncated, missing, repeated and malformed fields", () => {
  const good = encodeFeatures(sample);
  assert.throws(() => decodeFeatures(good.subarray(0, good.length - 1)), {
    message: /field 7 at byte \d+ claims 2 bytes but 1 remain/,
  });
  assert.throws(() => decodeFeatures(Uint8Array.of(...good, 1)), {
    message: /record header at byte \d+ is truncated/,
  });
  assert.throws(() => decodeFeatures(new Uint8Array(0)), { message: /the name field is missing/ });
  assert.throws(() => decodeFeatures(Uint8Array.of(...good, 1, 0, 1, 0x41)), {
    message: /field 1 appears more than once/,
  });
  const name = record(1, 0x41);
  const rest = [
    record(2),
    record(3, ...new Uint8Array(8)),
    record(4, ...new Uint8Array(8)),
    record(6),
    record(7, 0x1a, 0x7f),
  ];
  assert.deepEqual(decodeFeatures(Uint8Array.of(...name, ...rest.flat())).name, "A");
  assert.throws(() => decodeFeatures(Uint8Array.of(...name)), { message: /the nickname field is missing/ });
  assert.throws(
    () => decodeFeatures(Uint8Array.of(...record(1), ...rest.flat())),
    { message: /the peer name is empty/ },
  );
  assert.throws(
    () =>
      decodeFeatures(
        Uint8Array.of(...name, ...record(2), ...record(3, 1, 2, 3, 4, 5, 6, 7), ...rest.slice(2).flat()),
      ),
    { message: /the uid field is 7 bytes, expected 8/ },
  );
  assert.throws(
    () => decodeFeatures(Uint8Array.of(...name, ...rest.slice(0, 4).flat(), ...record(7, 0, 0))),
    {
      message: /the port is 0/,
    },
  );
  assert.throws(() => decodeFeatures(Uint8Array.of(1, 0, 1, 0xff)), {
    message: /the name field is not valid UTF-8/,
  });
});

Deno.test("encodeFeatures() rejects an empty name, out-of-range ids and oversized strings", () => {
  assert.throws(() => encodeFeatures({ ...sample, name: "" }), RangeError);
  assert.throws(() => encodeFeatures({ ...sample, uid: -1n }), {
    message: /uid '-1' is not an unsigned 64-bit/,
  });
  assert.throws(() => encodeFeatures({ ...sample, connId: 1n << 64n }), RangeError);
  assert.throws(() => encodeFeatures({ ...sample, nickname: "x".repeat(70_000) }), RangeError);
  assert.throws(() => encodeFeatures({ ...sample, port: 0 }), { message: /port '0' is not 1 to 65535/ });
});

Deno.test("decodeFeatures() fuzz: random and mutated input gives features or a clear error", () => {
  const rng = new SeededRandom(0xf022);
  const valid = Array.from({ length: 20 }, () => encodeFeatures(randomFeatures(rng)));
  for (let i = 0; i < 5000; i++) {
    const input = i % 4 === 0 ? rng.bytes(rng.int(80)) : rng.mutate(valid[rng.int(valid.length)]);
    try {
      const f = decodeFeatures(input);
      assert.ok(f.name.length > 0 && typeof f.uid === "bigint" && Array.isArray(f.overlays));
    } catch (e) {
      assert.ok(e instanceof Error && e.message.startsWith("Cannot decode peer features: "), String(e));
    }
  }
});

Deno.test("ciphers: each its own record in order; absent when a peer offers none (an older peer)", () => {
  const f = { ...sample, ciphers: ["aes256gcm", "xsalsa20poly1305"] };
  assert.deepEqual(decodeFeatures(encodeFeatures(f)).ciphers, ["aes256gcm", "xsalsa20poly1305"]);
  assert.equal("ciphers" in decodeFeatures(encodeFeatures(sample)), false);
});

Deno.test("offloads: each its own record in order; absent when a peer offers none (an older peer)", () => {
  const f = { ...sample, offloads: ["partial-checksum", "later"] };
  assert.deepEqual(decodeFeatures(encodeFeatures(f)).offloads, ["partial-checksum", "later"]);
  assert.equal("offloads" in decodeFeatures(encodeFeatures(sample)), false);
  const withOffload = [
    ...encodeFeatures(sample),
    ...record(9, ...new TextEncoder().encode("partial-checksum")),
  ];
  assert.deepEqual(decodeFeatures(new Uint8Array(withOffload)).offloads, ["partial-checksum"]);
});
