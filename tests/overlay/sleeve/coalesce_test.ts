import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { Coalescer } from "../../../src/overlay/sleeve/coalesce.ts";
import { Segmenter } from "../../../src/overlay/sleeve/segment.ts";
import {
  completed,
  frameProblem,
  onesSum,
  parse,
  pseudoWords,
  randomFlow,
  superFrame,
  tcpFrame,
  wordsOf,
} from "./tcp_frames.ts";

const FIN = 1, SYN = 2, PSH = 8, ACK = 0x10, CWR = 0x80;

/** The virtio-net header at the start of `b`. */
function vnet(b: Uint8Array) {
  const v = new DataView(b.buffer, b.byteOffset, 10);
  return {
    flags: b[0],
    gsoType: b[1],
    hdrLen: v.getUint16(2, true),
    gsoSize: v.getUint16(4, true),
    csumStart: v.getUint16(6, true),
    csumOffset: v.getUint16(8, true),
  };
}

/** IP id and IPv4 header checksum masked: what may differ after a merge across super-frames. */
function masked(f: Uint8Array): string {
  const c = f.slice();
  if (c.length >= 54 && parse(c).v6 === false) {
    c[18] =
      c[19] =
      c[24] =
      c[25] =
        0;
  }
  return c.join(",");
}

/**
 * Checks one coalescer output the way the receiving kernel would use it and returns the frames it stands
 * for: a plain one as it is (its partial checksum completed by the oracle when NEEDS_CSUM); a super-frame's
 * header fields and partial checksum checked by the oracle, then cut again at its gso_size.
 */
function unpack(out: Uint8Array, seg: Segmenter): Uint8Array[] {
  const h = vnet(out), frame = out.subarray(10);
  if (h.gsoType === 0) {
    if (h.flags === 0) return [frame.slice()];
    assert.equal(h.flags, 1, "NEEDS_CSUM");
    assert.equal(h.csumOffset, 16);
    return [completed(out)];
  }
  const p = parse(frame);
  assert.equal(h.flags, 1, "NEEDS_CSUM");
  assert.equal(h.gsoType, p.v6 ? 4 : 1);
  assert.equal(h.hdrLen, p.payload);
  assert.equal(h.csumStart, p.tcp);
  assert.equal(h.csumOffset, 16);
  assert.equal(p.end, frame.length, "IP length covers the merged payload");
  assert.ok(p.end - p.payload <= 65535 && p.end - 14 <= 65535);
  const field = frame[p.tcp + 16] << 8 | frame[p.tcp + 17];
  assert.equal(field, onesSum(pseudoWords(frame, p.v6, p.end - p.tcp)), "pseudo-header partial checksum");
  if (!p.v6) assert.equal(onesSum(wordsOf(frame.subarray(14, 34))), 0xffff, "IPv4 header checksum");
  return seg.segment(out, 65535).map((f) => f.slice());
}

/** Per flow key: the frames in order. */
function byFlow(frames: Uint8Array[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const f of frames) {
    const k = f.length >= 54 ? parse(f).key : "other";
    if (!m.has(k)) m.set(k, []);
    m.get(k)!.push(masked(f));
  }
  return m;
}

Deno.test("Coalescer ∘ Segmenter round-trips every flow's frames (interleaving, reordering, loss, partial checksums; seeded)", () => {
  const rnd = new SeededRandom(0xc0a1);
  const seg = new Segmenter(), co = new Coalescer();
  let merged = 0, frames = 0;
  /** A frame on the wire, where its partial checksum starts (or −1), and the frame completed. */
  type Sent = { f: Uint8Array; partial: number; full: Uint8Array };
  const plain = (f: Uint8Array): Sent => ({ f, partial: -1, full: f });
  for (let round = 0; round < 150; round++) {
    // Odd rounds: the sender takes partial checksums (as to a peer that offered them), except some flows.
    // Each flow sends 1–3 super-frames, continuing its sequence numbers, cut at one MTU.
    const mtu = 576 + rnd.int(9000 - 576);
    const flows = Array.from({ length: 1 + rnd.int(4) }, () => randomFlow(rnd));
    const queues = flows.map((flow) => {
      let seq = rnd.int(2 ** 32);
      const out: Sent[] = [], partial = round % 2 === 1 && rnd.int(4) !== 0;
      for (let k = 1 + rnd.int(3); k > 0; k--) {
        const payload = rnd.bytes(1 + rnd.int(rnd.int(3) === 0 ? 60000 : 6000));
        const flags = ACK | (rnd.int(2) ? PSH : 0) | (rnd.int(8) === 0 ? CWR : 0) |
          (k === 1 && rnd.int(6) === 0 ? FIN : 0);
        const body = superFrame(flow, seq, flags, rnd.int(65536), payload, 400 + rnd.int(mtu));
        for (const piece of seg.segment(body, mtu + (partial ? 10 : 0), partial)) {
          out.push(
            partial
              ? { f: piece.slice(10), partial: piece[6] | piece[7] << 8, full: completed(piece) }
              : plain(piece.slice()),
          );
        }
        seq = (seq + payload.length) >>> 0;
      }
      return out;
    });
    // Interleave the flows, then maybe swap neighbours and drop some.
    const wire: Sent[] = [];
    while (queues.some((q) => q.length)) {
      const q = queues.filter((q) => q.length);
      wire.push(q[rnd.int(q.length)].shift()!);
    }
    const disorder = rnd.int(3), sent: Sent[] = [];
    for (let i = 0; i < wire.length; i++) {
      if (disorder >= 1 && i + 1 < wire.length && rnd.int(20) === 0) {
        [wire[i], wire[i + 1]] = [wire[i + 1], wire[i]];
      }
      if (disorder === 2 && rnd.int(15) === 0) continue;
      sent.push(wire[i]);
    }
    if (rnd.int(5) === 0) {
      sent.splice(
        rnd.int(sent.length + 1),
        0,
        plain(new Uint8Array([1, 2, 3])),
        plain(tcpFrame(flows[0], 5, SYN, 0, new Uint8Array(0))),
      );
    }
    // Receive in batches of random size.
    const received: Uint8Array[] = [];
    for (let i = 0; i < sent.length;) {
      const n = 1 + rnd.int(128);
      const batch = sent.slice(i, i + n);
      const outs = co.coalesce(batch.map((s) => s.f), batch.map((s) => s.partial));
      for (const o of outs) {
        const parts = unpack(o, seg);
        if (parts.length > 1) merged++;
        received.push(...parts);
      }
      i += n;
    }
    frames += sent.length;
    const want = byFlow(sent.map((s) => s.full));
    assert.deepEqual(byFlow(received), want, `round ${round}: each flow's frames in order`);
    for (const f of received) if (f.length >= 54) assert.equal(frameProblem(f), undefined);
  }
  assert.ok(merged > 100, `only ${merged} super-frames of ${frames} frames`);
});

Deno.test("Coalescer merges one in-order super-frame back into one (plus CWR head and FIN tail alone)", () => {
  const rnd = new SeededRandom(12);
  const seg = new Segmenter(), co = new Coalescer();
  for (const v6 of [false, true]) {
    const flow = randomFlow(rnd, v6);
    const payload = rnd.bytes(40000);
    const orig = superFrame(flow, 77, ACK | PSH, 5, payload, 1400);
    const outs = co.coalesce(seg.segment(orig, 1500).map((f) => f.slice()));
    assert.equal(outs.length, 1);
    assert.equal(vnet(outs[0]).gsoSize, 1400);
    assert.equal(parse(outs[0].subarray(10)).flags, ACK | PSH, "PSH from the last segment");
    const cwrFin = seg.segment(superFrame(flow, 77, ACK | CWR | FIN, 5, payload, 1400), 1500).map((f) =>
      f.slice()
    );
    assert.deepEqual(co.coalesce(cwrFin).map((o) => vnet(o).gsoType === 0), [true, false, true]);
  }
});

Deno.test("Coalescer merges frames with bytes after their IP packet without spilling them into the payload", () => {
  const rnd = new SeededRandom(21);
  const seg = new Segmenter();
  for (const v6 of [false, true]) {
    const flow = randomFlow(rnd, v6), payload = rnd.bytes(20000);
    const orig = superFrame(flow, 9, ACK, 5, payload, 1000);
    for (let round = 0; round < 20; round++) {
      // Some segments get trailing bytes (Ethernet padding, or a peer's junk): the IP length says where
      // each packet ends, and only that much is payload.
      const frames = seg.segment(orig, 1200).map((f) => {
        const tail = rnd.int(3) === 0 ? rnd.bytes(1 + rnd.int(40)) : new Uint8Array(0);
        return new Uint8Array([...f, ...tail]);
      });
      const outs = new Coalescer().coalesce(frames); // a new one: no earlier output left in its buffer
      assert.equal(outs.length, 1, `round ${round}: one super-frame`);
      const merged = parse(outs[0].subarray(10));
      assert.deepEqual(outs[0].subarray(10 + merged.payload, 10 + merged.end), payload);
      assert.deepEqual(
        outs[0].subarray(10, 10 + merged.payload),
        orig.subarray(10, 10 + merged.payload).map(
          (b, i) => (v6 ? [18, 19] : [16, 17, 24, 25]).includes(i) ? outs[0][10 + i] : b,
        ),
        "the first segment's headers, lengths and IPv4 checksum aside",
      );
    }
  }
});

Deno.test("Coalescer merges segments with partial checksums unsummed, keeps NEEDS_CSUM on a lone one, checks the start", () => {
  const rnd = new SeededRandom(21);
  const seg = new Segmenter(), co = new Coalescer();
  for (const v6 of [false, true]) {
    const flow = randomFlow(rnd, v6), tcp = v6 ? 54 : 34;
    const payload = rnd.bytes(20000);
    const pieces = seg.segment(superFrame(flow, 9, ACK | PSH, 5, payload, 1400), 1510, true).map((p) =>
      p.slice()
    );
    const frames = pieces.map((p) => p.subarray(10)), starts = pieces.map(() => tcp);
    const outs = co.coalesce(frames, starts);
    assert.equal(
      outs.length,
      1,
      "merged: the checksum fields hold the pseudo-header sum, nobody summed them",
    );
    const back = unpack(outs[0], seg);
    assert.deepEqual(new Uint8Array(back.flatMap((f) => [...f.subarray(parse(f).payload)])), payload);
    // Mixed with complete checksums (a peer that sent some segments summed) they still merge.
    const mixed = frames.map((f, i) => i % 2 ? completed(pieces[i]) : f);
    assert.equal(co.coalesce(mixed, starts.map((s, i) => i % 2 ? -1 : s)).length, 1);
    // Alone, a partial frame keeps NEEDS_CSUM at its TCP checksum for the kernel.
    const [lone] = co.coalesce([frames[0]], [tcp]);
    assert.deepEqual([lone[0], lone[1], lone[6] | lone[7] << 8, lone[8] | lone[9] << 8], [1, 0, tcp, 16]);
    assert.equal(frameProblem(completed(lone)), undefined);
    // A partial checksum that does not start at the TCP header is no candidate: written alone, as it came.
    const odd = co.coalesce(frames.slice(0, 2), [tcp, tcp + 4]);
    assert.equal(odd.length, 2);
    assert.deepEqual([odd[1][0], odd[1][6] | odd[1][7] << 8], [1, tcp + 4]);
  }
});

Deno.test("Coalescer keeps frames apart that differ in a field GRO must not merge across", () => {
  const rnd = new SeededRandom(99);
  const co = new Coalescer(), seg = new Segmenter();
  const flow = randomFlow(rnd, false);
  const base = () =>
    seg.segment(superFrame(flow, 1000, ACK, 1, rnd.bytes(2800), 1400), 1500).map((f) => f.slice());
  const changes: [string, (b: Uint8Array) => void][] = [
    ["TTL", (b) => b[22]++],
    ["TOS", (b) => b[15]++],
    ["DF", (b) => b[20] ^= 0x40],
    ["window", (b) => b[48]++],
    ["ACK number", (b) => b[45]++],
    ["MAC", (b) => b[0]++],
    ["TCP checksum", (b) => b[50]++],
  ];
  for (const [what, change] of changes) {
    const [a, b] = base();
    change(b);
    if (what !== "TCP checksum" && what !== "MAC") {
      // Keep b valid so only the changed field stops the merge.
      b[24] = b[25] = 0;
      let s = 0;
      for (let i = 14; i < 34; i += 2) s += b[i] << 8 | b[i + 1];
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      b[24] = (~s & 0xffff) >> 8;
      b[25] = ~s & 0xff;
    }
    assert.equal(co.coalesce([a, b]).length, 2, `${what} differs`);
  }
  const [a, b] = base();
  assert.equal(co.coalesce([a, b]).length, 1, "unchanged they merge");
  assert.equal(co.coalesce([b, a]).length, 2, "out of order they do not");
});

Deno.test("Coalescer fuzz: random and mutated frames never throw and never grow the output", () => {
  const rnd = new SeededRandom(0xbad);
  const co = new Coalescer(), seg = new Segmenter();
  const seeds = Array.from(
    { length: 6 },
    () =>
      seg.segment(superFrame(randomFlow(rnd), rnd.int(2 ** 32), ACK, 3, rnd.bytes(rnd.int(9000)), 1400), 1500)
        .map((f) => f.slice()),
  );
  for (let i = 0; i < 1500; i++) {
    const batch = Array.from({ length: 1 + rnd.int(40) }, () => {
      const s = seeds[rnd.int(seeds.length)], f = s[rnd.int(s.length)];
      return rnd.int(5) === 0 ? rnd.bytes(rnd.int(120)) : rnd.int(2) ? rnd.mutate(f) : f;
    });
    const outs = co.coalesce(batch, batch.map(() => rnd.int(3) === 0 ? rnd.int(80) : -1));
    assert.ok(outs.length <= batch.length);
    const inBytes = batch.reduce((n, f) => n + f.length, 0),
      outBytes = outs.reduce((n, f) => n + f.length, 0);
    assert.ok(outBytes <= inBytes + 10 * batch.length, `${outBytes} bytes out of ${inBytes}`);
  }
});
