import assert from "node:assert/strict";
import { Flag, RRClass, RRType } from "../../src/dns/constants.ts";
import {
  canonicalName,
  decodeMessage,
  decodeName,
  DnsFormatError,
  ednsOf,
  encodeMessage,
  encodeName,
  type Message,
  nameLabels,
} from "../../src/dns/message.ts";
import { DIG_PTR_QUERY, DIG_QUERY } from "./fixtures.ts";
import { prng } from "./prng.ts";

const msg = (over: Partial<Message>): Message => ({
  id: 0x1234,
  flags: Flag.qr | Flag.rd,
  questions: [],
  answers: [],
  authorities: [],
  additionals: [],
  ...over,
});

Deno.test("decodeMessage() reads a dig query", () => {
  const m = decodeMessage(DIG_QUERY);
  assert.equal(m.id, 0x1b6f);
  assert.equal(m.flags, 0x0120);
  assert.deepEqual(m.questions, [{ name: "x.weave.local.", type: RRType.A, class: RRClass.IN }]);
  const edns = ednsOf(m);
  assert.deepEqual(edns, { udpSize: 1232, version: 0, extendedRcode: 0, dnssecOk: false });
  assert.deepEqual(encodeMessage(m), DIG_QUERY);
  const ptr = decodeMessage(DIG_PTR_QUERY);
  assert.deepEqual(ptr.questions, [{ name: "1.0.32.10.in-addr.arpa.", type: RRType.PTR, class: RRClass.IN }]);
  assert.equal(ednsOf(ptr), undefined);
});

Deno.test("encodeMessage() compresses repeated names and decodeMessage() expands them", () => {
  const m = msg({
    questions: [{ name: "db.weave.local.", type: RRType.A, class: RRClass.IN }],
    answers: [
      {
        name: "db.weave.local.",
        type: RRType.A,
        class: RRClass.IN,
        ttl: 1,
        data: Uint8Array.of(10, 32, 0, 1),
      },
      { name: "web.weave.local.", type: RRType.CNAME, class: RRClass.IN, ttl: 30, data: "db.weave.local." },
      {
        name: "1.0.32.10.in-addr.arpa.",
        type: RRType.PTR,
        class: RRClass.IN,
        ttl: 1,
        data: "DB.weave.local.",
      },
    ],
  });
  const b = encodeMessage(m);
  // question 16 + A (2 + 14) + CNAME (6 + 10 + 2) + PTR (24 + 10 + 5): pointers used wherever a suffix repeats
  assert.equal(b.length, 12 + 20 + 16 + 18 + 24 + 10 + 5);
  assert.deepEqual(decodeMessage(b), m);
});

Deno.test("encodeName() and decodeName() round-trip escaped labels", () => {
  for (const name of [".", "a.", "a\\.b.c.", "back\\\\slash.", "sp\\032ace.", "\\000\\255."]) {
    const wire = encodeName(name);
    assert.deepEqual(decodeName(wire, 0), { name, end: wire.length });
  }
  assert.deepEqual(encodeName("x.weave.local"), encodeName("x.weave.local."));
  assert.equal(canonicalName("X.Weave.LOCAL"), "x.weave.local.");
});

Deno.test("nameLabels() refuses bad names with the name in the message", () => {
  for (
    const [name, why] of [
      ["a..b.", /empty label/],
      ["a".repeat(64) + ".", /longer than 63/],
      [Array(130).fill("ab").join(".") + ".", /longer than 255/],
      ["bad\\9.", /bad escape/],
      ["ünï.", /not ASCII/],
    ] as const
  ) assert.throws(() => nameLabels(name), (e: Error) => e instanceof DnsFormatError && why.test(e.message));
});

Deno.test("decodeName() stops compression loops and bad pointers", () => {
  const cases: [Uint8Array, RegExp][] = [
    [Uint8Array.of(0xc0, 0x00), /does not point backwards/], // pointer to itself
    [Uint8Array.of(0x01, 0x61, 0xc0, 0x00), /does not point backwards/], // a → back to start: loop
    [Uint8Array.of(0x01, 0x61, 0xc0, 0x04, 0x00), /does not point backwards/], // forward pointer
    [Uint8Array.of(0x40, 0x61), /Reserved label type/],
    [Uint8Array.of(0x05, 0x61, 0x62), /Truncated label/],
    [Uint8Array.of(0x01, 0x61), /Truncated name/],
    [Uint8Array.of(0xc0), /Truncated compression pointer/],
  ];
  for (const [b, why] of cases) {
    assert.throws(() => decodeName(b, 0), (e: Error) => e instanceof DnsFormatError && why.test(e.message));
  }
  const long = Uint8Array.from([...Array(140)].flatMap((_, i) => i === 139 ? [0] : [1, 0x61]));
  assert.throws(() => decodeName(long, 0), /longer than 255/);
  // a chain of backward pointers, each hop adding a label: over 255 bytes once expanded
  const chain = [0];
  for (let i = 0; i < 100; i++) {
    const target = i === 0 ? 0 : chain.length - 5;
    chain.push(2, 0x61, 0x61, 0xc0 | (target >> 8), target & 0xff);
  }
  assert.throws(() => decodeName(Uint8Array.from(chain), chain.length - 5), /longer than 255/);
});

Deno.test("decodeMessage() refuses truncated, oversized-count and trailing input", () => {
  const good = DIG_QUERY;
  assert.throws(() => decodeMessage(good.subarray(0, 11)), /shorter than the 12-byte header/);
  for (let n = 12; n < good.length; n++) {
    assert.throws(() => decodeMessage(good.subarray(0, n)), DnsFormatError);
  }
  assert.throws(() => decodeMessage(Uint8Array.of(...good, 0)), /1 bytes after the last record/);
  const moreQuestions = good.slice();
  moreQuestions[5] = 2;
  assert.throws(() => decodeMessage(moreQuestions), DnsFormatError);
  const badRdlen = good.slice();
  badRdlen[good.length - 13] = 0xff;
  assert.throws(() => decodeMessage(badRdlen), /claims/);
});

Deno.test("ednsOf() refuses two OPT records and a non-root owner", () => {
  const opt = { name: ".", type: RRType.OPT, class: 1232, ttl: 0, data: new Uint8Array() };
  assert.throws(() => ednsOf(msg({ additionals: [opt, opt] })), /2 OPT records/);
  assert.throws(() => ednsOf(msg({ additionals: [{ ...opt, name: "a." }] })), /must be the root/);
  assert.equal(ednsOf(msg({})), undefined);
});

Deno.test("encodeMessage() refuses fields that do not fit", () => {
  assert.throws(() => encodeMessage(msg({ id: 70000 })), /Message id 70000/);
  const rr = { name: "a.", type: RRType.A, class: RRClass.IN, ttl: -1, data: new Uint8Array(4) };
  assert.throws(() => encodeMessage(msg({ answers: [rr] })), /TTL -1/);
  assert.throws(() => encodeMessage(msg({ answers: [{ ...rr, ttl: 1, data: "b." }] })), /carries bytes/);
  const big = { ...rr, ttl: 1, data: new Uint8Array(65000) };
  assert.throws(() => encodeMessage(msg({ answers: [big, big] })), /longer than 65535/);
});

Deno.test("decodeMessage() fuzz: random and mutated input decodes or throws DnsFormatError", () => {
  const r = prng(1);
  const seeds = [
    DIG_QUERY,
    encodeMessage(msg({
      questions: [{ name: "db.weave.local.", type: RRType.A, class: RRClass.IN }],
      answers: [{
        name: "db.weave.local.",
        type: RRType.PTR,
        class: RRClass.IN,
        ttl: 1,
        data: "x.weave.local.",
      }],
    })),
  ];
  for (let i = 0; i < 20000; i++) {
    let b: Uint8Array;
    if (i % 4 === 0) b = r.bytes(r.int(80));
    else {
      b = r.pick(seeds).slice();
      for (let k = 1 + r.int(4); k > 0; k--) {
        b[r.int(b.length)] = r.int(4) === 0 ? 0xc0 | r.int(64) : r.int(256);
      }
      if (r.int(5) === 0) b = b.subarray(0, r.int(b.length + 1));
    }
    try {
      const m = decodeMessage(b);
      decodeMessage(encodeMessage(m)); // whatever decodes must re-encode and decode again
    } catch (e) {
      assert.ok(e instanceof DnsFormatError, `seed 1 case ${i}: ${(e as Error).stack}`);
    }
  }
});
