import assert from "node:assert/strict";
import {
  MAX_HANDSHAKE_MESSAGE_SIZE,
  PRE_AUTH_READ_BUFFER_SIZE,
  PROTOCOL_MAGIC,
} from "../../src/mesh/constants.ts";
import type { Features } from "../../src/mesh/features.ts";
import {
  handshake,
  type HandshakeOptions,
  negotiateVersion,
  SelfConnectionError,
} from "../../src/mesh/handshake.ts";
import type { Duplex } from "../../src/mesh/stream.ts";
import { FakeClock, settle } from "../../src/mesh/testing/fake_clock.ts";
import { memoryDuplexPair } from "../../src/mesh/testing/memory_duplex.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

function features(name: string): Omit<Features, "connId"> {
  return { name, nickname: `host-${name}`, uid: 1000n, overlays: ["sleeve"], version: "0.1.0", port: 6783 };
}

type Side = Partial<HandshakeOptions>;

/** Runs both ends of a handshake over an in-memory pair; returns both outcomes (value or error). */
async function both(a: Side = {}, b: Side = {}) {
  const [da, db] = memoryDuplexPair({ maxChunk: 5 });
  const results = await Promise.allSettled([
    handshake(da, { features: features("aa:00:00:00:00:01"), outbound: true, ...a }),
    handshake(db, { features: features("bb:00:00:00:00:02"), outbound: false, ...b }),
  ]);
  for (const r of results) if (r.status === "fulfilled") r.value.channel.close();
  return { results, da, db };
}

function errorOf(r: PromiseSettledResult<unknown>): string {
  assert.equal(r.status, "rejected", "expected the handshake to fail");
  return ((r as PromiseRejectedResult).reason as Error).message;
}

Deno.test("handshake() exchanges features on an unencrypted connection", async () => {
  const { results: [ra, rb] } = await both({ connId: 5n }, { connId: 9n });
  assert.ok(ra.status === "fulfilled" && rb.status === "fulfilled");
  assert.equal(ra.value.version, 1);
  assert.deepEqual(ra.value.remote, { ...features("bb:00:00:00:00:02"), connId: 9n });
  assert.deepEqual(rb.value.remote, { ...features("aa:00:00:00:00:01"), connId: 5n });
  assert.deepEqual(ra.value.local, rb.value.remote);
  assert.equal(ra.value.channel.sessionKey, null);
});

Deno.test("handshake() with the same password on both ends agrees on a session key and seals messages", async () => {
  const [da, db] = memoryDuplexPair({ maxChunk: 7 });
  const [a, b] = await Promise.all([
    handshake(da, { features: features("aa"), outbound: true, password: "pw" }),
    handshake(db, { features: features("bb"), outbound: false, password: "pw" }),
  ]);
  assert.equal(a.remote.name, "bb");
  assert.ok(a.channel.sessionKey !== null && a.channel.sessionKey.length === 32);
  assert.deepEqual(a.channel.sessionKey, b.channel.sessionKey);
  assert.notEqual(a.local.connId, b.local.connId); // random per connection
  await a.channel.send(4, Uint8Array.of(1, 2, 3));
  assert.deepEqual(await b.channel.receive(), { tag: 4, payload: Uint8Array.of(1, 2, 3) });
  a.channel.close();
  b.channel.close();
});

Deno.test("handshake() negotiates the lower maximum version when the ranges overlap", async () => {
  const { results: [ra, rb] } = await both({ versions: { min: 1, max: 3 } }, {
    versions: { min: 2, max: 5 },
  });
  assert.ok(ra.status === "fulfilled" && rb.status === "fulfilled");
  assert.equal(ra.value.version, 3);
  assert.equal(rb.value.version, 3);
});

Deno.test("handshake() fails on both ends when the version ranges do not overlap", async () => {
  const { results: [ra, rb], da, db } = await both({ versions: { min: 1, max: 2 } }, {
    versions: { min: 3, max: 4 },
  });
  assert.equal(
    errorOf(ra),
    "Cannot handshake with peer: protocol versions do not overlap: ours 1..2, the peer's 3..4; upgrade the older peer",
  );
  assert.equal(
    errorOf(rb),
    "Cannot handshake with peer: protocol versions do not overlap: ours 3..4, the peer's 1..2; upgrade the older peer",
  );
  assert.ok(da.closed && db.closed);
});

Deno.test("negotiateVersion() picks min of maxima and rejects empty or disjoint ranges", () => {
  assert.equal(negotiateVersion({ min: 1, max: 1 }, { min: 1, max: 9 }), 1);
  assert.equal(negotiateVersion({ min: 2, max: 4 }, { min: 4, max: 9 }), 4);
  assert.throws(() => negotiateVersion({ min: 1, max: 1 }, { min: 3, max: 2 }), {
    message:
      "Cannot handshake with peer: its protocol version range 3..2 is empty; the peer is not a meshnet peer",
  });
  assert.throws(() => negotiateVersion({ min: 5, max: 6 }, { min: 1, max: 4 }), /do not overlap/);
});

Deno.test("handshake() with a password on one end only fails on both ends with distinct errors", async () => {
  for (const [a, b] of [[{ password: "pw" }, {}], [{}, { password: "pw" }]] as [Side, Side][]) {
    const { results } = await both(a, b);
    const messages = results.map(errorOf);
    const withPassword = a.password ? 0 : 1;
    assert.equal(
      messages[withPassword],
      "Cannot handshake with peer: password specified, but peer requested an unencrypted connection; " +
        "give every peer the same --password",
    );
    assert.equal(
      messages[1 - withPassword],
      "Cannot handshake with peer: no password specified, but peer requested an encrypted connection; " +
        "give every peer the same --password",
    );
  }
});

Deno.test("handshake() with different passwords fails on both ends at the features (wrong password?)", async () => {
  const { results } = await both({ password: "one" }, { password: "two" });
  for (const r of results) {
    assert.equal(
      errorOf(r),
      "Cannot handshake with peer: its features do not open with our session key (wrong password?); " +
        "give every peer the same --password",
    );
  }
});

Deno.test("handshake() refuses a connection to ourselves on both ends", async () => {
  const self = { features: features("aa:00:00:00:00:01") };
  const { results } = await both(self, self);
  for (const r of results) {
    assert.equal(
      errorOf(r),
      "Cannot connect to ourselves: the peer's name 'aa:00:00:00:00:01' is our own; " +
        "the address is this host's and is not dialled again",
    );
    assert.ok(r.status === "rejected" && r.reason instanceof SelfConnectionError);
  }
});

Deno.test("handshake() rejects a port scanner's HTTP request cleanly", async () => {
  const [attacker, victim] = memoryDuplexPair();
  const result = handshake(victim, { features: features("aa"), outbound: false });
  await attacker.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  await assert.rejects(result, {
    message:
      "Cannot handshake with peer: expected the protocol header 'meshnet' but received 'GET / HTT'; the peer is not a meshnet peer",
  });
  assert.ok(victim.closed);
  attacker.close();
});

Deno.test("handshake() times out when the peer goes silent, and closes the stream", async () => {
  const clock = new FakeClock();
  const [attacker, victim] = memoryDuplexPair();
  const result = handshake(victim, { features: features("aa"), outbound: true, clock, timeoutMs: 10_000 });
  await attacker.write(new TextEncoder().encode(PROTOCOL_MAGIC)); // a partial header, then nothing
  let settled = false;
  result.catch(() => {}).finally(() => (settled = true));
  await clock.advance(9_999);
  assert.equal(settled, false);
  await clock.advance(1);
  await assert.rejects(result, {
    message: "Handshake timed out after 10000 ms; the peer is too slow or not a meshnet peer",
  });
  assert.ok(victim.closed);
  assert.equal(clock.pending, 0);
  attacker.close();
});

/** Records everything written to a duplex. */
class Recorder implements Duplex {
  bytes: number[] = [];
  constructor(readonly inner: Duplex) {}
  read(p: Uint8Array) {
    return this.inner.read(p);
  }
  write(p: Uint8Array) {
    this.bytes.push(...p);
    return this.inner.write(p);
  }
  close() {
    this.inner.close();
  }
}

/** What a real outbound end sends in a full handshake (plain or with a password). */
async function transcript(password?: string): Promise<Uint8Array> {
  const [da, db] = memoryDuplexPair();
  const recorder = new Recorder(da);
  const [a, b] = await Promise.all([
    handshake(recorder, { features: features("aa"), outbound: true, password }),
    handshake(db, { features: features("bb"), outbound: false, password }),
  ]);
  a.channel.close();
  b.channel.close();
  return Uint8Array.from(recorder.bytes);
}

Deno.test("handshake() does not count a stall of its own event loop against the peer", async () => {
  const clock = new FakeClock();
  const [attacker, victim] = memoryDuplexPair();
  const result = handshake(victim, { features: features("aa"), outbound: true, clock, timeoutMs: 8_000 });
  await attacker.write(new TextEncoder().encode(PROTOCOL_MAGIC)); // a partial header, then nothing
  let settled = false;
  result.catch(() => {}).finally(() => (settled = true));
  await clock.advance(2_000);
  clock.stall(60_000); // many handshakes on a starved host: no timer ran for a minute
  await clock.advance(0); // charged one check interval (1 s) of the stall
  assert.equal(settled, false);
  await clock.advance(4_999);
  assert.equal(settled, false);
  await clock.advance(1);
  await assert.rejects(result, {
    message: "Handshake timed out after 67000 ms (our event loop stalled for 59000 ms of it, not counted); " +
      "the peer is too slow or not a meshnet peer",
  });
  assert.equal(clock.pending, 0);
  attacker.close();
});

Deno.test("handshake() fuzz: random and mutated handshakes end in a clear error by the deadline", async () => {
  const rng = new SeededRandom(0x4a5d);
  const valid = { plain: await transcript(), sealed: await transcript("pw") };
  for (let i = 0; i < 300; i++) {
    const sealed = i % 2 === 1;
    const base = sealed ? valid.sealed : valid.plain;
    const input = i % 6 === 0
      ? rng.bytes(rng.int(80))
      : i % 6 === 1
      ? Uint8Array.of(...new TextEncoder().encode(PROTOCOL_MAGIC), ...rng.bytes(rng.int(60)))
      : rng.mutate(base);
    const clock = new FakeClock();
    const [attacker, victim] = memoryDuplexPair({ maxChunk: 1 + rng.int(32) });
    const result = handshake(victim, {
      features: features("bb"),
      outbound: false,
      password: sealed ? "pw" : undefined,
      clock,
      timeoutMs: 1_000,
    });
    let outcome: unknown = undefined;
    result.then((r) => (outcome = r), (e) => (outcome = e));
    await attacker.write(input);
    if (rng.int(2) === 0) attacker.close(); // else the peer stays silent: only the deadline ends it
    for (let j = 0; j < 3 && outcome === undefined; j++) await settle();
    await clock.advance(1_000);
    assert.ok(outcome !== undefined, `handshake ${i} still pending after its deadline`);
    if (outcome instanceof Error) {
      assert.match(
        outcome.message,
        /^(Cannot handshake with peer: |Cannot decode peer features: |Handshake timed out )/,
      );
      assert.ok(victim.closed);
    } else {
      // A mutation that kept the handshake valid (e.g. inside the nickname on a plain connection).
      const ok = outcome as { remote: Features; channel: { close(): void } };
      assert.equal(sealed, false);
      assert.ok(ok.remote.name.length > 0);
      ok.channel.close();
    }
    attacker.close();
  }
});

Deno.test({
  name: "handshake() runs over a real loopback TCP connection (Deno.Conn is a Duplex)",
  ignore: Deno.permissions.querySync({ name: "net", host: "127.0.0.1" }).state !== "granted",
}, async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [accepted, dialled] = await Promise.all([
      listener.accept(),
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    ]);
    const [a, b] = await Promise.all([
      handshake(dialled satisfies Duplex, { features: features("aa"), outbound: true, password: "pw" }),
      handshake(accepted, { features: features("bb"), outbound: false, password: "pw" }),
    ]);
    await a.channel.send(4, new Uint8Array(100_000).fill(3));
    assert.deepEqual(await b.channel.receive(), { tag: 4, payload: new Uint8Array(100_000).fill(3) });
    a.channel.close();
    assert.equal(await b.channel.receive(), null);
    b.channel.close();
  } finally {
    listener.close();
  }
});

/** The plain-connection prefix a hostile peer sends before its first frame: header, then "unencrypted". */
function plainPrefix(): Uint8Array {
  return Uint8Array.of(...new TextEncoder().encode(PROTOCOL_MAGIC), 1, 1, 0);
}

/** A duplex that records the largest buffer any read asked to fill. */
class ReadSizeProbe implements Duplex {
  largestRead = 0;
  #inner: Duplex;
  constructor(inner: Duplex) {
    this.#inner = inner;
  }
  read(p: Uint8Array): Promise<number | null> {
    this.largestRead = Math.max(this.largestRead, p.length);
    return this.#inner.read(p);
  }
  write(p: Uint8Array): Promise<number> {
    return this.#inner.write(p);
  }
  close(): void {
    this.#inner.close();
  }
}

/** Settles `p` if it ends within a few event-loop turns (the fake clock never moves): its outcome, or "pending". */
async function outcomeSoon(p: Promise<unknown>): Promise<unknown> {
  let outcome: unknown = "pending";
  p.then((v) => (outcome = v), (e) => (outcome = e));
  for (let i = 0; i < 20 && outcome === "pending"; i++) await settle();
  return outcome;
}

Deno.test("handshake() drops a peer that announces a frame over the pre-authentication cap, without reading it", async () => {
  const [ours, theirs] = memoryDuplexPair();
  const clock = new FakeClock();
  const running = handshake(ours, { features: features("aa"), outbound: false, clock });
  const announce = new Uint8Array(4);
  new DataView(announce.buffer).setUint32(0, 10 * 1024 * 1024);
  await theirs.write(Uint8Array.of(...plainPrefix(), ...announce)); // and never the 10 MiB body
  const outcome = await outcomeSoon(running);
  assert.ok(outcome instanceof Error, `expected a failure at once, got ${String(outcome)}`);
  assert.match(outcome.message, /length 10485760 exceeds the maximum 4096/);
  assert.ok(ours.closed, "the offender's connection is closed");
  theirs.close();
});

Deno.test("handshake() against random hostile byte streams never reads more than the pre-authentication cap (fuzz)", async () => {
  const rng = new SeededRandom(1414);
  for (let i = 0; i < 300; i++) {
    const [ours, theirs] = memoryDuplexPair({ maxChunk: 1 + rng.int(3000) });
    const probe = new ReadSizeProbe(ours);
    const clock = new FakeClock();
    const running = handshake(probe, { features: features("aa"), outbound: false, clock });
    const announced = rng.int(3) === 0 ? rng.int(5000) : rng.int(2 ** 32);
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setUint32(0, announced);
    const body = rng.bytes(Math.min(announced, rng.int(3) === 0 ? 20_000 : rng.int(20_000)));
    const mutated = rng.int(4) === 0;
    const intact = Uint8Array.of(...plainPrefix(), ...prefix);
    const stream = mutated ? rng.mutate(intact) : intact;
    await theirs.write(Uint8Array.of(...stream, ...body)).catch(() => {});
    let outcome = await outcomeSoon(running);
    theirs.close(); // a frame within the cap waits for the rest of its body: hang up
    if (outcome === "pending") outcome = await outcomeSoon(running);
    assert.ok(
      outcome instanceof Error,
      `case ${i}: a hostile stream must fail at once, got ${String(outcome)}`,
    );
    assert.match(
      outcome.message,
      /^Cannot (handshake with peer|decode peer features)/,
      `case ${i}: ${outcome.message}`,
    );
    if (!mutated && announced > MAX_HANDSHAKE_MESSAGE_SIZE) {
      assert.match(outcome.message, /exceeds the maximum 4096/, `case ${i}: ${outcome.message}`);
    }
    assert.ok(
      probe.largestRead <= PRE_AUTH_READ_BUFFER_SIZE,
      `case ${i}: read ${probe.largestRead} bytes at once`,
    );
    assert.ok(ours.closed, `case ${i}: connection left open`);
  }
});
