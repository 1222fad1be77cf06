import assert from "node:assert/strict";
import { Tag } from "../../src/mesh/constants.ts";
import {
  type ConnectionOptions,
  connectionUid,
  preferredDirection,
  ProtocolConnection,
  resolveDuplicate,
} from "../../src/mesh/connection.ts";
import { handshake } from "../../src/mesh/handshake.ts";
import { FakeClock, settle } from "../../src/mesh/testing/fake_clock.ts";
import { memoryDuplexPair } from "../../src/mesh/testing/memory_duplex.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

const INTERVAL = 30_000;

/** The close reason, read through a function so the compiler does not narrow it across awaits. */
function reason(c: ProtocolConnection): Error | null {
  return c.error;
}

/** Two handshaken, unstarted connections sharing a fake clock, recording messages and close reasons. */
async function pair(password?: string, overrides: Partial<ConnectionOptions> = {}) {
  const clock = new FakeClock();
  const [da, db] = memoryDuplexPair({ maxChunk: 11 });
  const features = (name: string) => ({
    name,
    nickname: name,
    uid: 1n,
    overlays: [],
    version: "0.1.0",
    port: 6783,
  });
  const [ha, hb] = await Promise.all([
    handshake(da, { features: features("aa"), outbound: true, password, connId: 0b1100n }),
    handshake(db, { features: features("bb"), outbound: false, password, connId: 0b1010n }),
  ]);
  const log = {
    a: [] as [number, number[]][],
    b: [] as [number, number[]][],
    closedA: [] as Error[],
    closedB: [] as Error[],
  };
  const a = new ProtocolConnection(ha, {
    clock,
    heartbeatIntervalMs: INTERVAL,
    onMessage: (tag, payload) => void log.a.push([tag, [...payload]]),
    onClose: (e) => void log.closedA.push(e),
    ...overrides,
  });
  const b = new ProtocolConnection(hb, {
    clock,
    heartbeatIntervalMs: INTERVAL,
    onMessage: (tag, payload) => void log.b.push([tag, [...payload]]),
    onClose: (e) => void log.closedB.push(e),
  });
  return { a, b, clock, log, db };
}

Deno.test("ProtocolConnection delivers messages in order but not heartbeats", async () => {
  for (const password of [undefined, "pw"]) {
    const { a, b, clock, log } = await pair(password);
    a.start();
    b.start();
    await a.send(Tag.gossip, Uint8Array.of(1));
    await a.send(Tag.heartbeat);
    await a.send(Tag.gossipUnicast, Uint8Array.of(2, 3));
    await b.send(Tag.gossipBroadcast);
    await clock.advance(0);
    assert.deepEqual(log.a, [[Tag.gossipBroadcast, []]]);
    assert.deepEqual(log.b, [[Tag.gossip, [1]], [Tag.gossipUnicast, [2, 3]]]);
    assert.equal(a.sessionKey === null, password === undefined);
    a.close();
    b.close();
  }
});

Deno.test("ProtocolConnection heartbeats keep an idle connection alive", async () => {
  const { a, b, clock, log } = await pair();
  a.start();
  b.start();
  await clock.advance(10 * INTERVAL);
  assert.equal(a.error, null);
  assert.equal(b.error, null);
  assert.deepEqual(log.a, []);
  a.close();
  b.close();
  await clock.advance(0);
  assert.equal(clock.pending, 0);
});

Deno.test("ProtocolConnection closes after 2 × interval of silence, and not before", async () => {
  const { a, b, clock, log } = await pair();
  a.start(); // b is never started: it sends nothing, not even heartbeats
  await clock.advance(2 * INTERVAL - 1);
  assert.equal(a.error, null);
  await clock.advance(1);
  assert.equal(
    reason(a)?.message,
    "Connection to 'bb' timed out: nothing received for 60000 ms; the peer or the path to it is down",
  );
  assert.deepEqual(log.closedA, [reason(a)]);
  assert.equal(await a.closed, reason(a));
  assert.equal(clock.pending, 0);
  b.close();
});

Deno.test("ProtocolConnection counts silence from the last message received", async () => {
  const { a, b, clock } = await pair();
  a.start();
  await clock.advance(50_000);
  await b.send(Tag.gossip); // b not started: only this message reaches a
  await clock.advance(2 * INTERVAL - 1);
  assert.equal(a.error, null);
  await clock.advance(1);
  assert.match(reason(a)?.message ?? "", /timed out: nothing received for 60000 ms/);
  b.close();
});

Deno.test("ProtocolConnection does not count a stall of its own event loop as the peer's silence", async () => {
  const { a, b, clock } = await pair();
  a.start(); // b is never started: only what b sends explicitly reaches a
  await clock.advance(INTERVAL);
  clock.stall(10 * INTERVAL); // a CPU-starved host: nothing ran; the peer's message waits unread
  await clock.advance(0); // the late check fires first
  assert.equal(a.error, null, "a stall is charged one check interval at most");
  await b.send(Tag.gossip);
  await clock.advance(0);
  await clock.advance(2 * INTERVAL - 1);
  assert.equal(a.error, null);
  await clock.advance(1);
  assert.match(reason(a)?.message ?? "", /timed out: nothing received for 60000 ms; the peer/);
  b.close();
});

Deno.test("ProtocolConnection.close() closes once with the reason; the peer sees it closed", async () => {
  const { a, b, clock, log } = await pair();
  a.start();
  b.start();
  a.close("duplicate connection");
  a.close("again");
  await clock.advance(0);
  assert.deepEqual(log.closedA.map((e) => e.message), ["Connection to 'bb' closed: duplicate connection"]);
  assert.deepEqual(log.closedB.map((e) => e.message), ["Connection to 'aa' closed by peer"]);
  await assert.rejects(a.send(Tag.gossip), { message: "Connection to 'bb' closed: duplicate connection" });
  await assert.rejects(b.send(Tag.gossip), { message: "Connection to 'aa' closed by peer" });
  assert.equal(clock.pending, 0);
});

Deno.test("ProtocolConnection closes when the handler throws or the peer sends garbage", async () => {
  const { a, b, clock, log } = await pair(undefined, {
    onMessage: () => {
      throw new Error("bad gossip");
    },
  });
  a.start();
  b.start();
  await b.send(Tag.gossip, Uint8Array.of(9));
  await clock.advance(0);
  assert.equal(log.closedA[0]?.message, "Cannot handle message with tag 4 from 'bb': bad gossip");
  await clock.advance(0);
  assert.equal(log.closedB.length, 1);

  const sealed = await pair("pw");
  sealed.a.start();
  await sealed.db.write(Uint8Array.of(0, 0, 0, 1, Tag.gossip)); // an unsealed frame on an encrypted connection
  await sealed.clock.advance(0);
  assert.equal(reason(sealed.a)?.name, "AuthenticationError");
  assert.match(reason(sealed.a)?.message ?? "", /^Cannot open message 1 from peer/);
  sealed.b.close();
});

Deno.test("ProtocolConnection.start() twice throws", async () => {
  const { a, b } = await pair();
  a.start();
  assert.throws(() => a.start(), { message: "Cannot start connection to 'bb': it is already started" });
  a.close();
  b.close();
});

Deno.test("ProtocolConnection.uid is the same on both ends", async () => {
  const { a, b } = await pair();
  assert.equal(a.uid, 0b0110n);
  assert.equal(b.uid, 0b0110n);
  a.close();
  b.close();
});

Deno.test("resolveDuplicate() keeps the preferred direction, else the lower uid, alike on both ends", () => {
  const c = (uid: bigint, preferred: boolean) => ({ uid, preferred });
  assert.equal(resolveDuplicate(c(5n, true), c(9n, true)), "keepExisting");
  assert.equal(resolveDuplicate(c(9n, true), c(5n, true)), "keepNew");
  assert.equal(resolveDuplicate(c(7n, false), c(7n, false)), "dropBoth");
  assert.equal(resolveDuplicate(c(9n, true), c(5n, false)), "keepExisting");
  assert.equal(resolveDuplicate(c(5n, false), c(9n, true)), "keepNew");
  const rng = new SeededRandom(0xd0b1);
  const names = ["0a:00:00:00:00:01", "0a:00:00:00:00:02", "fe:00:00:00:00:00"];
  for (let i = 0; i < 1000; i++) {
    // Two connections between peers P and Q, each dialled by a random end; each end sees them in its own
    // order (existing vs new) and knows only which ones it dialled.
    const pi = rng.int(3);
    const [p, q] = [names[pi], names[(pi + 1 + rng.int(2)) % 3]];
    const [p1, q1, p2, q2] = [rng.u64(), rng.u64(), rng.u64(), rng.u64()];
    const uid1 = connectionUid(p1, q1);
    const uid2 = connectionUid(p2, q2);
    assert.equal(uid1, connectionUid(q1, p1));
    const [pDialled1, pDialled2] = [rng.int(2) === 0, rng.int(2) === 0];
    const atP = resolveDuplicate( // P saw connection 1 first
      c(uid1, preferredDirection(p, q, pDialled1)),
      c(uid2, preferredDirection(p, q, pDialled2)),
    );
    const atQ = resolveDuplicate( // Q saw connection 2 first
      c(uid2, preferredDirection(q, p, !pDialled2)),
      c(uid1, preferredDirection(q, p, !pDialled1)),
    );
    const survivor = (r: string, existing: number, fresh: number) =>
      r === "keepExisting" ? existing : r === "keepNew" ? fresh : 0;
    assert.equal(survivor(atP, 1, 2), survivor(atQ, 2, 1));
    if (pDialled1 !== pDialled2) {
      // Opposite directions: the survivor is the one the lower name dialled.
      const lowerDialled = p < q ? (pDialled1 ? 1 : 2) : (pDialled1 ? 2 : 1);
      assert.equal(survivor(atP, 1, 2), lowerDialled);
    }
  }
});

Deno.test("ProtocolConnection heartbeat send failure closes the connection", async () => {
  const { a, b, clock } = await pair();
  a.start();
  b.close(); // a's next write fails
  await settle();
  await clock.advance(INTERVAL);
  assert.ok(reason(a) !== null);
});
