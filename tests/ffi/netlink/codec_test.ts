import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import {
  align4,
  attrNested,
  attrStr,
  attrU16,
  attrU16be,
  attrU32,
  attrU8,
  formatMac,
  type Message,
  MessageWriter,
  NetlinkDecodeError,
  parseAttrs,
  parseMac,
  parseMessages,
} from "../../../ffi/netlink/codec.ts";
import {
  IFINFOMSG_LEN,
  NLA_F_NESTED,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
} from "../../../ffi/netlink/constants.ts";
import { decodeLink } from "../../../ffi/netlink/link.ts";
import { decodeAddr } from "../../../ffi/netlink/addr.ts";
import { decodeRoute } from "../../../ffi/netlink/route.ts";
import { decodeFdb, decodeNeigh } from "../../../ffi/netlink/neigh.ts";

/** Floats in [0, 1) from a seeded generator, so a failing case replays. */
function prng(seed: number): () => number {
  const r = new SeededRandom(seed);
  return () => r.next();
}

Deno.test("MessageWriter.finish() writes nlmsghdr length, type, flags and seq", () => {
  const w = new MessageWriter();
  w.begin(RTM_NEWLINK, 0x405);
  w.struct(IFINFOMSG_LEN);
  w.str(3, "br0");
  const b = w.finish(77);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  assert.equal(v.getUint32(0, true), b.length);
  assert.equal(b.length, 16 + 16 + 8);
  assert.equal(v.getUint16(4, true), RTM_NEWLINK);
  assert.equal(v.getUint16(6, true), 0x405);
  assert.equal(v.getUint32(8, true), 77);
  const [m] = parseMessages(b);
  assert.equal(m.seq, 77);
  assert.equal(attrStr(parseAttrs(m.payload, IFINFOMSG_LEN), 3), "br0");
});

Deno.test("MessageWriter attributes round-trip through parseAttrs(), nested and padded", () => {
  const w = new MessageWriter().begin(1, 0);
  w.u8(1, 0xab).u16(2, 0x1234).u16be(3, 4789).u32(4, 0xdeadbeef).bytes(5, Uint8Array.of(1, 2, 3));
  const outer = w.nest(6);
  w.u32(1, 42);
  const inner = w.nestPlain(2);
  w.str(1, "vxlan");
  w.end(inner).end(outer);
  const [m] = parseMessages(w.finish(1));
  const a = parseAttrs(m.payload);
  assert.equal(attrU8(a, 1), 0xab);
  assert.equal(attrU16(a, 2), 0x1234);
  assert.equal(attrU16be(a, 3), 4789);
  assert.equal(attrU32(a, 4), 0xdeadbeef);
  assert.deepEqual([...a.get(5)!], [1, 2, 3]);
  const n = attrNested(a, 6)!;
  assert.equal(attrU32(n, 1), 42);
  assert.equal(attrStr(attrNested(n, 2)!, 1), "vxlan");
  const raw = new DataView(m.payload.buffer, m.payload.byteOffset);
  let pos = 0;
  for (let i = 0; i < 5; i++) pos += align4(raw.getUint16(pos, true));
  assert.equal(raw.getUint16(pos + 2, true), 6 | NLA_F_NESTED, "nest() sets NLA_F_NESTED");
  assert.equal(attrU32(a, 99), undefined);
});

Deno.test("MessageWriter grows for large messages and is reused by begin()", () => {
  const w = new MessageWriter().begin(1, 0);
  const big = new Uint8Array(10000).fill(7);
  w.bytes(1, big);
  const [m] = parseMessages(w.finish(1));
  assert.deepEqual(parseAttrs(m.payload).get(1), big);
  assert.throws(() => w.bytes(2, new Uint8Array(70000)), /Attribute 2 is 70000 bytes/);
  const small = w.begin(2, 0).u32(1, 5).finish(2);
  assert.equal(small.length, 24);
  assert.equal(attrU32(parseAttrs(parseMessages(small)[0].payload), 1), 5);
});

Deno.test("parseAttrs() matches a model on random attribute lists (seeded)", () => {
  const rand = prng(1234);
  const w = new MessageWriter();
  for (let round = 0; round < 300; round++) {
    w.begin(1, 0);
    const model = new Map<number, Uint8Array>();
    const n = Math.floor(rand() * 12);
    for (let i = 0; i < n; i++) {
      const type = 1 + Math.floor(rand() * 20);
      const value = Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
      w.bytes(type, value);
      model.set(type, value);
    }
    const [m] = parseMessages(w.finish(round));
    const got = parseAttrs(m.payload);
    assert.equal(got.size, model.size);
    for (const [t, v] of model) assert.deepEqual(got.get(t), v, `round ${round} attr ${t}`);
  }
});

Deno.test("parseMessages() splits concatenated messages and rejects bad lengths", () => {
  const w = new MessageWriter();
  const a = w.begin(RTM_NEWLINK, 2).u32(1, 1).finish(5).slice();
  const b = w.begin(3, 2).finish(5).slice();
  const both = new Uint8Array([...a, ...b]);
  assert.deepEqual(parseMessages(both).map((m) => m.type), [RTM_NEWLINK, 3]);
  assert.throws(() => parseMessages(both.subarray(0, 10)), NetlinkDecodeError);
  const zero = both.slice();
  new DataView(zero.buffer).setUint32(0, 0, true);
  assert.throws(() => parseMessages(zero), /Bad netlink message length 0 at byte 0/);
  const long = both.slice();
  new DataView(long.buffer).setUint32(0, 9999, true);
  assert.throws(() => parseMessages(long), /Bad netlink message length 9999/);
});

Deno.test("parseAttrs() rejects truncated and oversized attributes", () => {
  assert.throws(() => parseAttrs(Uint8Array.of(8, 0, 1, 0)), /Bad attribute length 8 at byte 0/);
  assert.throws(() => parseAttrs(Uint8Array.of(2, 0, 1, 0)), /Bad attribute length 2/);
  assert.throws(() => parseAttrs(Uint8Array.of(5, 0)), /Truncated attribute header/);
  assert.throws(() => parseAttrs(new Uint8Array(4), 8), /Truncated netlink payload/);
  assert.throws(
    () => attrU32(parseAttrs(Uint8Array.of(6, 0, 1, 0, 1, 2, 0, 0)), 1),
    /Attribute 1 is 2 bytes, expected 4/,
  );
});

Deno.test("parseMac() and formatMac() round-trip and name bad input", () => {
  assert.equal(formatMac(parseMac("02:AB:00:00:00:ff")), "02:ab:00:00:00:ff");
  for (const bad of ["", "02:ab", "02:ab:00:00:00:fg", "02-ab-00-00-00-ff", "02:ab:00:00:00:ff:00"]) {
    assert.throws(() => parseMac(bad), new RegExp(`Invalid MAC address '${bad}'`));
  }
});

/** Valid sample messages of every kind the decoders read, built with the writer. */
function samples(): Uint8Array[] {
  const w = new MessageWriter();
  const out: Uint8Array[] = [];
  w.begin(RTM_NEWLINK, 0);
  w.struct(16);
  w.str(3, "vx0").u32(4, 1450).bytes(1, parseMac("02:00:00:00:00:01")).u32(10, 2);
  const info = w.nestPlain(18);
  w.str(1, "vxlan");
  const data = w.nestPlain(2);
  w.u32(1, 42).u16be(15, 4789).bytes(4, Uint8Array.of(198, 18, 0, 1)).u8(7, 0).u8(5, 3);
  w.end(data);
  w.str(4, "bridge");
  const slave = w.nest(5);
  w.u8(8, 1).u8(4, 0).u8(33, 1);
  w.end(slave).end(info);
  out.push(w.finish(1).slice());
  w.begin(RTM_NEWADDR, 0);
  const a = w.struct(8);
  w.view.setUint8(a, 10);
  w.view.setUint8(a + 1, 64);
  w.bytes(1, new Uint8Array(16).fill(0xfd, 0, 1)).str(3, "br0").u32(8, 0x80);
  out.push(w.finish(2).slice());
  w.begin(RTM_NEWROUTE, 0);
  const r = w.struct(12);
  w.view.setUint8(r, 2);
  w.view.setUint8(r + 1, 16);
  w.bytes(1, Uint8Array.of(10, 9, 0, 0)).bytes(5, Uint8Array.of(198, 18, 0, 2)).u32(4, 2).u32(6, 7).u32(
    15,
    254,
  );
  out.push(w.finish(3).slice());
  w.begin(RTM_NEWNEIGH, 0);
  const n = w.struct(12);
  w.view.setUint8(n, 7);
  w.view.setUint16(n + 8, 0x80, true);
  w.bytes(2, new Uint8Array(6)).bytes(1, Uint8Array.of(198, 18, 0, 2)).u32(7, 42).u16be(6, 4789).u32(9, 3);
  out.push(w.finish(4).slice());
  w.begin(RTM_NEWNEIGH, 0);
  const n4 = w.struct(12);
  w.view.setUint8(n4, 2);
  w.bytes(1, Uint8Array.of(198, 18, 0, 9)).bytes(2, parseMac("02:00:00:00:00:09"));
  out.push(w.finish(5).slice());
  return out;
}

const decoders: ((m: Message) => unknown)[] = [decodeLink, decodeAddr, decodeRoute, decodeNeigh, decodeFdb];

Deno.test("decoders read the sample messages", () => {
  const [link, addr, route, fdb, neigh] = samples().map((s) => parseMessages(s)[0]);
  assert.deepEqual(decodeLink(link), {
    index: 0,
    name: "vx0",
    mtu: 1450,
    up: false,
    lowerUp: false,
    flags: 0,
    mac: "02:00:00:00:00:01",
    master: 2,
    kind: "vxlan",
    vxlan: { id: 42, port: 4789, local: "198.18.0.1", learning: false, ttl: 3 },
    port: { learning: true, hairpin: false, isolated: true },
  });
  assert.deepEqual(decodeAddr(addr), {
    index: 0,
    family: 6,
    address: "fd00::",
    prefix: 64,
    scope: "global",
    flags: 0x80,
    label: "br0",
  });
  assert.equal(decodeRoute(route)?.dst, "10.9.0.0/16");
  assert.equal(decodeRoute(route)?.gateway, "198.18.0.2");
  assert.deepEqual(decodeFdb(fdb), {
    index: 0,
    mac: "00:00:00:00:00:00",
    self: false,
    state: "permanent",
    dst: "198.18.0.2",
    master: 3,
    vni: 42,
    port: 4789,
  });
  assert.deepEqual(decodeNeigh(neigh)?.address, "198.18.0.9");
  assert.equal(decodeNeigh(fdb), undefined);
  assert.equal(decodeFdb(neigh), undefined);
});

/** Runs every decoder on `bytes`: each must return or throw NetlinkDecodeError, nothing else. */
function decodeAll(bytes: Uint8Array, label: string): void {
  let msgs: Message[];
  try {
    msgs = parseMessages(bytes);
  } catch (e) {
    assert.ok(e instanceof NetlinkDecodeError, `${label}: ${e}`);
    assert.match((e as Error).message, /^[A-Z]/);
    return;
  }
  for (const m of msgs) {
    for (const decode of decoders) {
      try {
        decode(m);
      } catch (e) {
        assert.ok(e instanceof NetlinkDecodeError, `${label}: ${decode.name}: ${e}`);
      }
    }
  }
}

Deno.test("decoders survive mutated and random messages with clear errors (fuzz, seeded)", () => {
  const rand = prng(99);
  const base = samples();
  for (let i = 0; i < 5000; i++) {
    const src = base[i % base.length].slice();
    const mutations = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < mutations; k++) src[Math.floor(rand() * src.length)] = Math.floor(rand() * 256);
    const cut = rand() < 0.3 ? src.subarray(0, Math.floor(rand() * src.length)) : src;
    // keep the outer length consistent half the time so the payload decoders are reached
    if (rand() < 0.5 && cut.length >= 4) {
      new DataView(cut.buffer, cut.byteOffset).setUint32(0, cut.length, true);
    }
    decodeAll(cut, `mutation ${i}`);
  }
  for (let i = 0; i < 2000; i++) {
    const len = Math.floor(rand() * 96);
    const b = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
    if (len >= 16 && rand() < 0.7) {
      const v = new DataView(b.buffer);
      v.setUint32(0, len, true);
      v.setUint16(4, [RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWNEIGH][i % 4], true);
    }
    decodeAll(b, `random ${i}`);
  }
});
