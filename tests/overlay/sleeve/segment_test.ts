import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { MAX_SEGMENTS, Segmenter } from "../../../src/overlay/sleeve/segment.ts";
import {
  checksumValid,
  completed,
  frameProblem,
  headerLength,
  parse,
  pseudoWords,
  randomFlow,
  superFrame,
  tcpFrame,
  withVnet,
  wordsOf,
} from "./tcp_frames.ts";

const FIN = 1, PSH = 8, ACK = 0x10, CWR = 0x80;

Deno.test("Segmenter cuts TCP super-frames like the kernel's GSO (seeded property, IPv4 and IPv6, partial checksums or not)", () => {
  const rnd = new SeededRandom(0x5e6);
  const seg = new Segmenter();
  for (let round = 0; round < 400; round++) {
    const partial = round % 2 === 1, lead = partial ? 10 : 0;
    const flow = randomFlow(rnd);
    const hdr = headerLength(flow);
    const payload = rnd.bytes(1 + rnd.int(rnd.int(4) === 0 ? 65535 - hdr : 9000));
    const gsoSize = 1 + rnd.int(9000);
    const maxFrame = lead + hdr + 1 + rnd.int(1500);
    const flags = ACK | (rnd.int(2) ? PSH : 0) | (rnd.int(3) === 0 ? FIN : 0) | (rnd.int(3) === 0 ? CWR : 0);
    const seq = rnd.int(2 ** 32), id = rnd.int(65536);
    const size = Math.min(gsoSize, maxFrame - lead - hdr);
    if (Math.ceil(payload.length / size) > MAX_SEGMENTS) continue;
    const pieces = seg.segment(superFrame(flow, seq, flags, id, payload, gsoSize), maxFrame, partial);
    assert.equal(seg.headed, partial, "pieces have a virtio-net header exactly when partial");
    assert.equal(pieces.length, Math.ceil(payload.length / size), `round ${round}`);
    assert.ok(pieces.every((p) => p.length <= maxFrame), `a piece exceeds ${maxFrame} bytes`);
    // A partial piece: NEEDS_CSUM at the TCP checksum, which holds the pseudo-header sum until completed.
    const tcp = flow.v6 ? 54 : 34;
    const want = [1, 0, 0, 0, 0, 0, tcp, 0, 16, 0];
    if (partial) pieces.forEach((p) => assert.deepEqual([...p.subarray(0, 10)], want, "header"));
    const frames = partial ? pieces.map(completed) : pieces;
    const joined: number[] = [];
    frames.forEach((f, i) => {
      assert.equal(frameProblem(f), undefined, `round ${round} segment ${i}`);
      const p = parse(f);
      assert.equal(p.seq, (seq + i * size) >>> 0);
      const last = i === frames.length - 1;
      let want = flags;
      if (!last) want &= ~(FIN | PSH);
      if (i > 0) want &= ~CWR;
      assert.equal(p.flags, want, `flags of segment ${i} of ${frames.length}`);
      if (!flow.v6) assert.equal(p.id, (id + i) & 0xffff);
      assert.ok(p.end - p.payload <= size);
      assert.deepEqual(f.subarray(0, 14), tcpFrame(flow, 0, 0, 0, new Uint8Array(0)).subarray(0, 14));
      joined.push(...f.subarray(p.payload, p.end));
    });
    assert.deepEqual(new Uint8Array(joined), payload, `round ${round}: payload bytes in order`);
  }
});

Deno.test("Segmenter completes a partial checksum of a frame that is not a super-frame", () => {
  const rnd = new SeededRandom(7);
  const seg = new Segmenter();
  for (let round = 0; round < 100; round++) {
    const flow = randomFlow(rnd);
    const frame = tcpFrame(flow, rnd.int(2 ** 32), ACK | PSH, 1, rnd.bytes(rnd.int(1400)), true);
    const tcp = flow.v6 ? 54 : 34;
    const out = seg.segment(
      withVnet(frame, { flags: 1, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: tcp, csumOffset: 16 }),
      1514,
    );
    assert.equal(out.length, 1);
    assert.equal(frameProblem(out[0]), undefined);
    const again = seg.segment(
      new Uint8Array(out[0].buffer, out[0].byteOffset - 10, out[0].length + 10),
      1514,
    );
    assert.equal(frameProblem(again[0]), undefined, "segmenting the same body twice (a flood) is harmless");
    assert.ok(
      checksumValid([...pseudoWords(out[0], flow.v6, out[0].length - tcp), ...wordsOf(out[0].subarray(tcp))]),
    );
    // To a peer that takes partial checksums the frame goes whole, header and all, when it fits.
    const body = withVnet(frame, {
      flags: 1,
      gsoType: 0,
      hdrLen: 0,
      gsoSize: 0,
      csumStart: tcp,
      csumOffset: 16,
    });
    const whole = seg.segment(body, body.length, true);
    assert.ok(seg.headed && whole.length === 1 && whole[0] === body, "passed on as it is");
    assert.equal(frameProblem(completed(whole[0])), undefined);
    const tight = seg.segment(body, body.length - 1, true);
    assert.ok(!seg.headed && tight[0].length === frame.length, "too big with its header: completed instead");
    assert.equal(frameProblem(tight[0]), undefined);
  }
  const plain = new Uint8Array(60).fill(3);
  const body = withVnet(plain, { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 });
  assert.deepEqual(seg.segment(body, 1514), [plain], "a plain frame passes unchanged");
});

Deno.test("Segmenter refuses malformed input with a RangeError that says why", () => {
  const rnd = new SeededRandom(3);
  const seg = new Segmenter();
  const flow = randomFlow(rnd, false);
  const good = superFrame(flow, 1, ACK, 1, rnd.bytes(5000), 1400);
  const cases: [Uint8Array, number, RegExp][] = [
    [good.subarray(0, 5), 1500, /shorter than 10/],
    [good, 40, /into 40-byte pieces: its headers take/],
    [superFrame(flow, 1, ACK, 1, rnd.bytes(5000), 1), 1500, /more than 1024/],
    [
      withVnet(good.subarray(10, 40), {
        flags: 0,
        gsoType: 1,
        hdrLen: 0,
        gsoSize: 9,
        csumStart: 0,
        csumOffset: 0,
      }),
      1500,
      /too short/,
    ],
  ];
  const v6type = good.slice();
  v6type[1] = 4;
  cases.push([v6type, 1500, /does not match its IPv4/]);
  for (const [body, max, message] of cases) {
    assert.throws(
      () => seg.segment(body, max),
      (e: unknown) => e instanceof RangeError && message.test(e.message),
    );
  }
});

Deno.test("Segmenter fuzz: random and mutated frames only ever raise RangeError, output stays bounded", () => {
  const rnd = new SeededRandom(0xf00d);
  const seg = new Segmenter();
  const seeds = Array.from({ length: 8 }, () => {
    const flow = randomFlow(rnd);
    return superFrame(flow, rnd.int(2 ** 32), ACK | PSH, 9, rnd.bytes(rnd.int(20000)), 1 + rnd.int(3000));
  });
  for (let i = 0; i < 3000; i++) {
    const body = i % 4 === 0 ? rnd.bytes(rnd.int(200)) : rnd.mutate(seeds[rnd.int(seeds.length)]);
    const maxFrame = [0, 60, 1514, 9000, NaN][rnd.int(5)];
    try {
      const out = seg.segment(body, maxFrame, rnd.int(2) === 1);
      assert.ok(out.length <= MAX_SEGMENTS);
      const total = out.reduce((n, f) => n + f.length, 0);
      assert.ok(total <= MAX_SEGMENTS * 200 + body.length, `output of ${total} bytes from ${body.length}`);
    } catch (e) {
      assert.ok(e instanceof RangeError, `input ${i} threw ${e}`);
    }
  }
});
