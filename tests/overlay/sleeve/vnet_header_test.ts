import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { RecordKind, VNET_HEADER_SIZE, VnetFlag, VnetGso } from "../../../src/overlay/sleeve/constants.ts";
import { DatagramBuilder, DatagramError, RecordReader } from "../../../src/overlay/sleeve/datagram.ts";
import {
  checkVnetHeader,
  isPlainVnetHeader,
  isSuperFrame,
  readVnetHeader,
  type VnetHeader,
  writeVnetHeader,
} from "../../../src/overlay/sleeve/vnet_header.ts";

const US = 0x0200_0000_0101, THEM = 0x0200_0000_0102;

function randomHeader(rnd: SeededRandom): VnetHeader {
  const pick = <T>(xs: T[]) => xs[rnd.int(xs.length)];
  return {
    flags: pick([0, VnetFlag.needsCsum, VnetFlag.dataValid, 3, 4, rnd.int(256)]),
    gsoType: pick([0, 1, 4, 0x81, 0x84, 0x80, 3, rnd.int(256)]),
    hdrLen: pick([0, 54, 66, rnd.int(65536)]),
    gsoSize: pick([0, 1324, rnd.int(65536)]),
    csumStart: pick([34, 54, rnd.int(65536)]),
    csumOffset: pick([6, 16, rnd.int(65536)]),
  };
}

/** The rules written out plainly: what a peer may send. */
function modelValid(h: VnetHeader, frame: number): boolean {
  if (h.flags > 3) return false;
  const gso = h.gsoType & 0x7f;
  if (![0, 1, 4].includes(gso)) return false;
  if (gso === 0 && h.gsoType !== 0) return false;
  if (h.flags & 1 && h.csumStart + h.csumOffset + 2 > frame) return false;
  if (gso !== 0 && (h.gsoSize === 0 || h.hdrLen > frame)) return false;
  return true;
}

function body(h: VnetHeader, frame: number): Uint8Array {
  const b = new Uint8Array(VNET_HEADER_SIZE + frame);
  writeVnetHeader(h, b);
  return b;
}

Deno.test("writeVnetHeader() and readVnetHeader() round-trip seeded random headers, little-endian", () => {
  const rnd = new SeededRandom(61);
  for (let i = 0; i < 2000; i++) {
    const h = randomHeader(rnd), out = new Uint8Array(VNET_HEADER_SIZE);
    writeVnetHeader(h, out);
    assert.deepEqual(readVnetHeader(out), h);
  }
  const out = new Uint8Array(VNET_HEADER_SIZE);
  writeVnetHeader({ flags: 1, gsoType: 1, hdrLen: 66, gsoSize: 1324, csumStart: 34, csumOffset: 16 }, out);
  assert.deepEqual([...out], [1, 1, 66, 0, 0x2c, 0x05, 34, 0, 16, 0]);
  assert.throws(() => writeVnetHeader({ ...readVnetHeader(out), gsoSize: 65536 }, out), /'65536' at byte 4/);
  assert.throws(() => readVnetHeader(out.subarray(0, 9)), /from 9 bytes/);
});

Deno.test("checkVnetHeader() agrees with a model of the rules over seeded random headers", () => {
  const rnd = new SeededRandom(62);
  let valid = 0;
  for (let i = 0; i < 5000; i++) {
    const h = randomHeader(rnd), frame = 14 + rnd.int(2000);
    const problem = checkVnetHeader(body(h, frame));
    assert.equal(problem === undefined, modelValid(h, frame), `${JSON.stringify(h)} ${frame}: ${problem}`);
    if (problem === undefined) valid++;
  }
  assert.ok(valid > 500, `only ${valid} valid samples`);
  assert.match(checkVnetHeader(new Uint8Array(4))!, /4 bytes is shorter than 10/);
});

Deno.test("isPlainVnetHeader() and isSuperFrame() tell what a header asks of the receiver", () => {
  const h = (flags: number, gsoType: number) =>
    body({ flags, gsoType, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 }, 0);
  assert.equal(isPlainVnetHeader(h(0, 0)), true);
  assert.equal(isPlainVnetHeader(h(VnetFlag.dataValid, 0)), true);
  assert.equal(isPlainVnetHeader(h(VnetFlag.needsCsum, 0)), false);
  assert.equal(isPlainVnetHeader(h(VnetFlag.needsCsum, VnetGso.tcpv4)), false);
  assert.equal(isSuperFrame(h(VnetFlag.needsCsum, 0)), false);
  assert.equal(isSuperFrame(h(VnetFlag.needsCsum, VnetGso.tcpv6 | VnetGso.ecn)), true);
});

Deno.test("RecordReader.validate() refuses mutated offloaded frames with a DatagramError, never a crash", () => {
  const rnd = new SeededRandom(63);
  const good = body({ flags: 1, gsoType: 1, hdrLen: 66, gsoSize: 1324, csumStart: 34, csumOffset: 16 }, 3000);
  const b = new DatagramBuilder(65507);
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const mutated = rnd.mutate(good.subarray(0, VNET_HEADER_SIZE + 14 + rnd.int(3000)));
    b.begin(US, 65507);
    if (!b.addFrame(RecordKind.offloadFrame, US, THEM, 1, 0, mutated)) continue;
    const records = b.finish().subarray(8);
    try {
      assert.equal(RecordReader.validate(records), 1);
      assert.equal(checkVnetHeader(mutated), undefined);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      assert.ok(e instanceof DatagramError, String(e));
      refused++;
    }
  }
  assert.ok(refused > 0);
  b.begin(US, 65507);
  b.addFrame(RecordKind.offloadFrame, US, THEM, 1, 0, good.subarray(0, VNET_HEADER_SIZE + 13));
  assert.throws(() => RecordReader.validate(b.finish().subarray(8)), /body of 28 bytes/);
});
