import assert from "node:assert/strict";
import { tweetnaclSodium } from "../../../ffi/sodium.ts";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { BROADCAST_PEER, RecordKind } from "../../../src/overlay/sleeve/constants.ts";
import {
  DatagramBuilder,
  DatagramError,
  type DatagramHeader,
  type LinkKey,
  linkKey,
  openBody,
  readHeader,
  RecordReader,
  SEAL_OVERHEAD,
} from "../../../src/overlay/sleeve/datagram.ts";

const US = 0x0200_0000_0101, THEM = 0x0200_0000_0102;
const box = tweetnaclSodium();
const key = new Uint8Array(32).fill(9);
const ours: LinkKey = linkKey(box, key, true);
const theirs: LinkKey = linkKey(box, key, false);

function header(): DatagramHeader {
  return { sender: 0, sealed: false, sequence: 0, bodyOffset: 0 };
}

interface Rec {
  kind: number;
  src: number;
  dst: number;
  body: number[];
  hops: number;
  sequence: number;
}

/**
 * Decodes the datagram `bytes[start, end)` the way the engine does (a sealed one is opened in place, so `bytes`
 * changes); throws DatagramError or returns the records.
 */
function decodeAt(bytes: Uint8Array, start: number, end: number, link?: LinkKey): Rec[] {
  const h = readHeader(bytes, header(), start, end);
  let to = end;
  if (h.sealed) {
    const opened = openBody(bytes, h, end, link!);
    if (opened < 0) throw new DatagramError("auth");
    to = h.bodyOffset + opened;
  }
  RecordReader.validate(bytes, h.bodyOffset, to);
  const out: Rec[] = [];
  RecordReader.forEach(
    bytes,
    (kind, src, dst, s, e, hops, sequence) =>
      out.push({ kind, src, dst, body: [...bytes.subarray(s, e)], hops, sequence }),
    h.bodyOffset,
    to,
  );
  return out;
}

/** The outcome of a decode: the records, or the error's message. */
function outcome(decode: () => Rec[]): Rec[] | string {
  try {
    return decode();
  } catch (e) {
    if (!(e instanceof DatagramError)) throw e;
    return e.message;
  }
}

/**
 * Decodes a datagram alone and again at an offset in a larger buffer with other bytes around it (as in a
 * UDP GRO buffer), checks that both agree, and returns the records or throws the DatagramError.
 */
function decode(bytes: Uint8Array, link?: LinkKey): Rec[] {
  const around = new Uint8Array(7 + bytes.length + 9).fill(0xa5);
  around.set(bytes, 7);
  const alone = outcome(() => decodeAt(bytes.slice(), 0, bytes.length, link));
  assert.deepEqual(outcome(() => decodeAt(around, 7, 7 + bytes.length, link)), alone, "at an offset");
  assert.ok(around.subarray(0, 7).every((b) => b === 0xa5), "nothing before the datagram changed");
  assert.ok(around.subarray(7 + bytes.length).every((b) => b === 0xa5), "nothing after it changed");
  if (typeof alone === "string") throw new DatagramError(alone);
  return alone;
}

function sampleFrames(rnd: SeededRandom, n: number): Uint8Array[] {
  return Array.from({ length: n }, () => rnd.bytes(14 + rnd.int(200)));
}

Deno.test("DatagramBuilder and the readers round-trip plain and sealed batches", () => {
  const rnd = new SeededRandom(1);
  for (const seal of [undefined, ours]) {
    const b = new DatagramBuilder(1500);
    b.begin(US, 1500, seal, 41);
    const frames = sampleFrames(rnd, 5);
    const fields = frames.map(() => ({ hops: 1 + rnd.int(255), sequence: rnd.int(2 ** 32) }));
    frames.forEach((f, i) => {
      const { hops, sequence } = fields[i];
      assert.equal(b.addFrame(RecordKind.frame, US, BROADCAST_PEER, hops, sequence, f), true);
    });
    assert.equal(b.add(RecordKind.heartbeat, US, THEM, new Uint8Array(8).fill(7)), true);
    const d = b.finish().slice();
    const h = readHeader(d, header());
    assert.deepEqual(h, {
      sender: US,
      sealed: !!seal,
      sequence: seal ? 41 : 0,
      bodyOffset: seal ? 16 : 8,
    });
    const recs = decode(d, theirs);
    assert.deepEqual(recs.map((r) => r.kind), [1, 1, 1, 1, 1, RecordKind.heartbeat]);
    assert.deepEqual(recs.slice(0, 5).map((r) => Uint8Array.from(r.body)), frames);
    assert.deepEqual(recs.slice(0, 5).map(({ hops, sequence }) => ({ hops, sequence })), fields);
    assert.equal(recs[5].dst, THEM);
    assert.deepEqual([recs[5].hops, recs[5].sequence], [0, 0]);
    if (seal) assert.throws(() => decode(d, ours), /auth/, "our own polarity does not open it");
  }
});

Deno.test("DatagramBuilder.add() refuses records beyond the datagram size, and pads probe bodies", () => {
  const b = new DatagramBuilder(9000);
  b.begin(US, 100, ours, 0);
  assert.equal(b.room(), 100 - 8 - SEAL_OVERHEAD - 15);
  assert.equal(b.addFrame(RecordKind.frame, US, THEM, 1, 0, new Uint8Array(b.room() - 4)), false);
  assert.equal(b.count, 0);
  assert.throws(() => b.add(RecordKind.frame, US, THEM, new Uint8Array(20)), /frames need addFrame/);
  assert.equal(b.add(RecordKind.pmtuProbe, US, THEM, Uint8Array.of(0, 100), b.room()), true);
  assert.equal(b.finish().length, 100);
  assert.throws(() => b.begin(US, 9001), /Cannot build a datagram of 9001 bytes/);
});

Deno.test("DatagramBuilder builds at an offset in a given buffer what it builds alone, touching nothing else", () => {
  const rnd = new SeededRandom(77);
  for (const seal of [undefined, ours]) {
    for (let round = 0; round < 20; round++) {
      const frames = sampleFrames(rnd, 1 + rnd.int(4)), at = rnd.int(300), size = 1472;
      const fill = (b: DatagramBuilder) => {
        for (const f of frames) b.addFrame(RecordKind.frame, US, THEM, 9, 0, f);
      };
      const own = new DatagramBuilder(size), inPlace = new DatagramBuilder(size);
      own.begin(US, size, seal, round);
      fill(own);
      const alone = own.finish().slice();
      const target = new Uint8Array(at + size + 50).fill(0xa5);
      inPlace.begin(US, size, seal, round, target, at);
      fill(inPlace);
      const n = inPlace.end();
      assert.equal(n, alone.length);
      assert.deepEqual(target.subarray(at, at + n), alone, `round ${round}, ${seal ? "sealed" : "plain"}`);
      assert.ok(target.subarray(0, at).every((b) => b === 0xa5), "nothing before it");
      assert.ok(target.subarray(at + n).every((b) => b === 0xa5), "nothing after it");
    }
  }
  const b = new DatagramBuilder(1472), small = new Uint8Array(1000).fill(1);
  assert.throws(
    () => b.begin(US, 1472, undefined, 0, small, 100),
    /Cannot build a datagram of 1472 bytes: use 23 to 900/,
  );
  assert.ok(small.every((x) => x === 1), "a refused begin writes nothing");
});

Deno.test("readHeader() and RecordReader.validate() name what is wrong", () => {
  const b = new DatagramBuilder(200);
  b.begin(US, 200);
  b.addFrame(RecordKind.frame, US, THEM, 64, 0, new Uint8Array(15));
  const good = b.finish().slice();
  const bad = (edit: (d: Uint8Array) => Uint8Array, pattern: RegExp) => {
    assert.throws(
      () => decode(edit(good.slice()), theirs),
      (e) => e instanceof DatagramError && pattern.test(e.message),
    );
  };
  bad((d) => d.subarray(0, 10), /shorter than a header and one record/);
  bad((d) => (d[0] = 1, d), /version '1' is not 2/);
  bad((d) => (d[1] = 0x80, d), /flags '0x80' are unknown/);
  bad((d) => (d.fill(0, 2, 8), d), /sender is the reserved name '00:00:00:00:00:00'/);
  bad((d) => (d[8] = 9, d), /kind '9' is unknown/);
  bad((d) => (d[8 + 14] = 200, d), /claims 200 bytes; only 20 follow/);
  bad((d) => (d[8 + 14] = 19, d), /Record 1 has 1 bytes, shorter than its header/);
  bad((d) => (d[8 + 14] = 3, d.subarray(0, 8 + 15 + 3)), /body of 3 bytes, which is invalid/);
  bad((d) => (d[8 + 14] = 18, d.subarray(0, 8 + 15 + 18)), /body of 18 bytes, which is invalid/);
  bad((d) => (d[8 + 15] = 0, d), /Record 0 is a frame with hop limit 0/);
  bad((d) => (d[8 + 19] = 7, d), /Record 0 is a unicast frame with flood sequence 7; it must be 0/);
  bad((d) => (d[8] = RecordKind.heartbeat, d), /body of 20 bytes/);
  bad((d) => (d.fill(0xff, 9, 15), d), /record 0 source is the reserved name 'ff:ff:ff:ff:ff:ff'/);
  bad(
    (d) => (d[8] = RecordKind.pmtuAck, d[8 + 14] = 2, d.fill(0xff, 15, 21), d.subarray(0, 8 + 17)),
    /addressed to broadcast/,
  );
  bad((d) => {
    const long = new Uint8Array(60);
    long.set(d);
    long[1] = 1;
    long.fill(0xff, 8, 16);
    return long;
  }, /beyond 2\^53/);
});

Deno.test("Decoding random and mutated datagrams only ever throws DatagramError", () => {
  const rnd = new SeededRandom(2024);
  const valid: Uint8Array[] = [];
  for (const seal of [undefined, ours]) {
    for (let i = 0; i < 20; i++) {
      const b = new DatagramBuilder(2000);
      b.begin(US, 2000, seal, i);
      for (const f of sampleFrames(rnd, 1 + rnd.int(6))) {
        const flood = rnd.next() < 0.5;
        const [dst, sequence] = flood ? [BROADCAST_PEER, rnd.int(2 ** 32)] : [THEM, 0];
        b.addFrame(RecordKind.frame, US, dst, 1 + rnd.int(255), sequence, f);
      }
      if (rnd.next() < 0.5) b.add(RecordKind.heartbeatAck, US, THEM, new Uint8Array(8));
      valid.push(b.finish().slice());
    }
  }
  let accepted = 0, rejected = 0;
  for (let i = 0; i < 20_000; i++) {
    const input = i % 5 === 0 ? rnd.bytes(rnd.int(120)) : rnd.mutate(valid[rnd.int(valid.length)]);
    try {
      const recs = decode(input, theirs);
      assert.ok(recs.length > 0);
      for (const r of recs) {
        if (r.kind !== RecordKind.frame && r.kind !== RecordKind.offloadFrame) continue;
        assert.ok(r.hops >= 1 && r.hops <= 255, `hop limit ${r.hops} accepted`);
        assert.ok(r.dst === BROADCAST_PEER || r.sequence === 0, `unicast with sequence ${r.sequence}`);
      }
      accepted++;
    } catch (e) {
      assert.ok(e instanceof DatagramError, `unexpected ${e}`);
      rejected++;
    }
  }
  assert.ok(rejected > 10_000 && accepted > 0, `${accepted} accepted, ${rejected} rejected`);
});
