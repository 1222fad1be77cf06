import assert from "node:assert/strict";
import { answer, type AnswerOptions, errorReply, FORWARD } from "../../src/dns/answer.ts";
import { Flag, Rcode, RRType } from "../../src/dns/constants.ts";
import { decodeMessage, type Message, opcodeOf, rcodeOf } from "../../src/dns/message.ts";
import { NameTable } from "../../src/dns/name_table.ts";
import { formatIP } from "../../base/ip.ts";
import { DIG_PTR_QUERY, DIG_QUERY, hex, query } from "./fixtures.ts";
import { prng } from "./prng.ts";

const PEER = "ce:31:e0:06:45:1e";

function table(): NameTable {
  const t = new NameTable();
  t.add("x.weave.local.", "10.32.0.1", "c1", PEER);
  t.add("x.weave.local.", "10.32.0.2", "c2", PEER);
  t.add("x.weave.local.", "10.32.0.3", "c3", PEER);
  t.add("x.weave.local.", "fd00::1", "c1", PEER);
  t.add("v6.weave.local.", "fd00::2", "c4", PEER);
  t.add("gone.weave.local.", "10.32.0.9", "c9", PEER);
  t.remove({ origin: PEER, container: "c9" });
  return t;
}

const opts = (over: Partial<AnswerOptions> = {}): AnswerOptions => ({
  domain: "weave.local.",
  ttl: 1,
  transport: "udp",
  random: prng(1).next,
  ...over,
});

const opt = (udpSize: number, ttl = 0) => ({
  name: ".",
  type: RRType.OPT,
  class: udpSize,
  ttl,
  data: new Uint8Array(),
});

/** Answers and decodes the reply; fails when the query was dropped or forwarded. */
function ask(q: Uint8Array, t: NameTable = table(), o: AnswerOptions = opts()): Message {
  const r = answer(q, t, o);
  assert.ok(r instanceof Uint8Array, `expected a reply, got ${String(r)}`);
  return decodeMessage(r);
}

const addrs = (m: Message) => m.answers.map((a) => formatIP(a.data as Uint8Array));

Deno.test("answer() gives every address of a name, shuffled on every reply", () => {
  const t = table(), o = opts({ random: prng(42).next });
  const firsts = new Map<string, number>();
  for (let i = 0; i < 600; i++) {
    const m = ask(query("x.weave.local."), t, o);
    assert.equal(m.id, 0xbeef);
    assert.equal(rcodeOf(m.flags), Rcode.noError);
    assert.ok(m.flags & Flag.qr && m.flags & Flag.aa && m.flags & Flag.rd && m.flags & Flag.ra);
    assert.deepEqual([...addrs(m)].sort(), ["10.32.0.1", "10.32.0.2", "10.32.0.3"]);
    assert.ok(m.answers.every((a) => a.name === "x.weave.local." && a.ttl === 1 && a.type === RRType.A));
    firsts.set(addrs(m)[0], (firsts.get(addrs(m)[0]) ?? 0) + 1);
  }
  for (const n of firsts.values()) {
    assert.ok(n > 150 && n < 250, `first-place counts ${[...firsts.values()]}`);
  }
});

Deno.test("answer() serves AAAA and ANY, ignores case and uses the TTL option", () => {
  assert.deepEqual(addrs(ask(query("x.weave.local.", RRType.AAAA))), ["fd00::1"]);
  const any = ask(query("x.weave.local.", RRType.ANY));
  assert.deepEqual(any.answers.map((a) => a.type).sort(), [1, 1, 1, 28]);
  const upper = ask(query("X.WEAVE.Local.", RRType.A), table(), opts({ ttl: 30 }));
  assert.equal(upper.questions[0].name, "X.WEAVE.Local.", "the question is echoed as asked");
  assert.equal(upper.answers.length, 3);
  assert.ok(upper.answers.every((a) => a.ttl === 30 && a.name === "X.WEAVE.Local."));
});

Deno.test("answer() gives NOERROR-empty for other types and NXDOMAIN for unknown names", () => {
  for (const type of [RRType.MX, RRType.TXT, RRType.AAAA]) {
    const name = type === RRType.AAAA ? "gone.weave.local." : "x.weave.local.";
    const m = ask(query(name, type));
    assert.equal(rcodeOf(m.flags), type === RRType.AAAA ? Rcode.nxDomain : Rcode.noError);
    assert.equal(m.answers.length, 0);
  }
  assert.equal(rcodeOf(ask(query("v6.weave.local.", RRType.A)).flags), Rcode.noError);
  assert.equal(rcodeOf(ask(query("weave.local.")).flags), Rcode.noError, "the domain itself exists");
  for (const name of ["nobody.weave.local.", "a.b.x.weave.local."]) {
    const m = ask(query(name));
    assert.equal(rcodeOf(m.flags), Rcode.nxDomain, name);
    assert.ok(m.flags & Flag.aa);
  }
  assert.equal(
    rcodeOf(ask(query("gone.weave.local.")).flags),
    Rcode.nxDomain,
    "a tombstone is not an address",
  );
});

Deno.test("answer() serves PTR for registered addresses, forwards other reverse names", () => {
  const m = ask(DIG_PTR_QUERY);
  assert.equal(m.id, 0x79af);
  assert.deepEqual(m.answers.map((a) => [a.type, a.data]), [[RRType.PTR, "x.weave.local."]]);
  const v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
  assert.deepEqual(ask(query(v6.toUpperCase(), RRType.PTR)).answers.map((a) => a.data), ["x.weave.local."]);
  for (
    const name of [
      "9.0.32.10.in-addr.arpa.",
      "1.0.32.in-addr.arpa.",
      "01.0.32.10.in-addr.arpa.",
      "x.ip6.arpa.",
    ]
  ) {
    assert.equal(answer(query(name, RRType.PTR), table(), opts()), FORWARD, name);
  }
});

Deno.test("answer() forwards names outside the domain; single labels known in the domain are answered", () => {
  assert.equal(answer(query("example.com."), table(), opts()), FORWARD);
  assert.equal(answer(query("xweave.local."), table(), opts()), FORWARD);
  assert.equal(answer(query("nobody."), table(), opts()), FORWARD);
  assert.equal(answer(query("."), table(), opts()), FORWARD);
  const m = ask(query("X."));
  assert.equal(m.questions[0].name, "X.");
  assert.equal(m.answers.length, 3);
  assert.equal(answer(query("x.weave.local."), table(), opts({ domain: "other.test." })), FORWARD);
});

Deno.test("answer() answers the dig query with its id, RD and an OPT record", () => {
  const m = ask(DIG_QUERY);
  assert.equal(m.id, 0x1b6f);
  assert.ok(m.flags & Flag.rd);
  assert.equal(m.answers.length, 3);
  assert.deepEqual(m.additionals.map((a) => [a.type, a.class]), [[RRType.OPT, 1232]]);
});

Deno.test("answer() truncates UDP replies at 512 bytes or the EDNS size and sets TC; TCP is whole", () => {
  const t = new NameTable();
  for (let i = 0; i < 100; i++) t.add("many.weave.local.", `10.32.1.${i}`, `c${i}`, PEER);
  const plain = answer(query("many.weave.local."), t, opts()) as Uint8Array;
  assert.ok(plain.length <= 512);
  const m = decodeMessage(plain);
  assert.ok(m.flags & Flag.tc);
  assert.equal(m.answers.length, Math.floor((512 - 12 - 22) / 16));
  const big = answer(
    query("many.weave.local.", RRType.A, { additionals: [opt(1000)] }),
    t,
    opts(),
  ) as Uint8Array;
  assert.ok(big.length <= 1000 && big.length > 900);
  assert.ok(decodeMessage(big).flags & Flag.tc);
  const huge = answer(query("many.weave.local.", RRType.A, { additionals: [opt(65000)] }), t, opts());
  assert.equal(
    decodeMessage(huge as Uint8Array).answers.length,
    (1232 - 12 - 22 - 11) / 16 | 0,
    "capped at 1232",
  );
  const small = ask(query("many.weave.local.", RRType.A, { additionals: [opt(100)] }), t);
  assert.ok(small.flags & Flag.tc, "sizes under 512 mean 512");
  const tcp = ask(query("many.weave.local."), t, opts({ transport: "tcp" }));
  assert.equal(tcp.answers.length, 100);
  assert.equal(tcp.flags & Flag.tc, 0);
});

Deno.test("answer() drops responses and runts, FORMERRs malformed queries", () => {
  const response = query("x.weave.local.", RRType.A, { flags: Flag.qr });
  assert.equal(answer(response, table(), opts()), undefined);
  assert.equal(answer(new Uint8Array(11), table(), opts()), undefined);
  const header = "beef0100";
  const formerr = [
    hex(header + "0000000000000000"), // no question
    hex(header + "0002000000000000" + "0178000001000101780000010001"), // two questions
    hex(header + "0001000000000000" + "40" + "61".repeat(64) + "0000010001"), // label over 63
    hex(header + "0001000000000000" + "c00c00010001"), // question name is a pointer
    hex(header + "0001000000000000" + "0178c00e00010001"), // pointer loop inside the question
    hex(header + "0001000000000000" + "01780000"), // truncated question
    hex(header + "0001000000000000" + "017800000100010000"), // trailing bytes
    hex(header + "0001000000000001" + "0178000001000100002904d0000000000005"), // OPT claims more than follows
    query("x.weave.local.", RRType.A, { additionals: [opt(1232), opt(1232)] }), // two OPT
    query("x.weave.local.", RRType.A, { additionals: [{ ...opt(1232), name: "a." }] }), // OPT not at root
  ];
  for (const [i, q] of formerr.entries()) {
    const m = ask(q);
    assert.equal(rcodeOf(m.flags), Rcode.formErr, `case ${i}`);
    assert.equal(m.id, 0xbeef);
    assert.ok(m.flags & Flag.qr);
  }
});

Deno.test("answer() gives NOTIMP for other opcodes, BADVERS for EDNS versions over 0, REFUSED for CHAOS", () => {
  const notify = ask(query("x.weave.local.", RRType.A, { flags: 4 << 11 }));
  assert.equal(rcodeOf(notify.flags), Rcode.notImp);
  assert.equal(opcodeOf(notify.flags), 4);
  const v1 = ask(query("x.weave.local.", RRType.A, { additionals: [opt(1232, 1 << 16)] }));
  assert.equal(rcodeOf(v1.flags), 0);
  assert.equal(v1.additionals[0].ttl >>> 24, 1, "extended rcode 1 << 4 = BADVERS");
  const chaos = query("x.weave.local.", RRType.TXT, {
    questions: [{ name: "x.weave.local.", type: RRType.TXT, class: 3 }],
  });
  assert.equal(rcodeOf(ask(chaos).flags), Rcode.refused);
});

Deno.test("errorReply() echoes a parseable question and gives the rcode", () => {
  const m = decodeMessage(errorReply(DIG_QUERY, Rcode.servFail));
  assert.equal(m.id, 0x1b6f);
  assert.equal(rcodeOf(m.flags), Rcode.servFail);
  assert.deepEqual(m.questions, decodeMessage(DIG_QUERY).questions);
  assert.equal(m.additionals.length, 1);
  const bare = decodeMessage(errorReply(hex("beef01000000000000000000"), Rcode.formErr));
  assert.deepEqual([bare.id, rcodeOf(bare.flags), bare.questions.length], [0xbeef, Rcode.formErr, 0]);
});

Deno.test("answer() fuzz: random and mutated packets give a well-formed reply, forward or drop, never throw", () => {
  const r = prng(9);
  const t = table();
  const seeds = [
    DIG_QUERY,
    DIG_PTR_QUERY,
    query("x.weave.local.", RRType.ANY),
    query("example.com.", RRType.A, { additionals: [opt(4096)] }),
  ];
  const counts = { reply: 0, forward: 0, drop: 0 };
  for (let i = 0; i < 30000; i++) {
    let b: Uint8Array;
    if (i % 5 === 0) b = r.bytes(r.int(100));
    else {
      b = r.pick(seeds).slice();
      for (let k = 1 + r.int(4); k > 0; k--) {
        b[r.int(b.length)] = r.int(3) === 0 ? 0xc0 | r.int(64) : r.int(256);
      }
      if (r.int(4) === 0) b = b.subarray(0, r.int(b.length + 1));
      if (r.int(8) === 0) b = Uint8Array.of(...b, ...r.bytes(r.int(10)));
    }
    const before = b.slice();
    const res = answer(b, t, opts({ transport: r.int(2) === 0 ? "udp" : "tcp", random: r.next }));
    assert.deepEqual(b, before, "the query is not modified");
    if (res === undefined) {
      counts.drop++;
      assert.ok(b.length < 12 || b[2] & 0x80);
    } else if (res === FORWARD) counts.forward++;
    else {
      counts.reply++;
      const m = decodeMessage(res);
      assert.equal(m.id, (b[0] << 8) | b[1]);
      assert.ok(m.flags & Flag.qr);
      assert.ok(res.length <= 1232);
    }
  }
  assert.ok(counts.reply > 1000 && counts.forward > 100 && counts.drop > 1000, JSON.stringify(counts));
});

Deno.test("answer() puts the domain's SOA in the authority of NXDOMAIN and NOERROR-empty replies", () => {
  for (
    const [name, type, rcode] of [
      ["nobody.weave.local.", RRType.A, Rcode.nxDomain],
      ["x.weave.local.", RRType.MX, Rcode.noError],
      ["weave.local.", RRType.A, Rcode.noError],
    ] as const
  ) {
    for (const additionals of [[], [opt(1232)]]) {
      const m = ask(query(name, type, { additionals }), table(), opts({ ttl: 7 }));
      assert.equal(rcodeOf(m.flags), rcode, name);
      assert.equal(m.answers.length, 0);
      assert.equal(m.authorities.length, 1, `${name} carries an SOA`);
      const soa = m.authorities[0];
      assert.deepEqual([soa.name, soa.type, soa.ttl], ["weave.local.", RRType.SOA, 7]);
      const data = soa.data as Uint8Array;
      const view = new DataView(data.buffer, data.byteOffset + data.length - 20);
      assert.equal(view.getUint32(16), 7, "MINIMUM is the answer TTL, so negatives live no longer");
    }
  }
  assert.equal(ask(query("x.weave.local.")).authorities.length, 0, "positive answers carry none");
});

Deno.test("answer() serves the domain's SOA and NS, and its nameserver's address when given", () => {
  const soa = ask(query("Weave.Local.", RRType.SOA));
  assert.equal(rcodeOf(soa.flags), Rcode.noError);
  assert.deepEqual(soa.answers.map((a) => a.type), [RRType.SOA]);
  const ns = ask(query("weave.local.", RRType.NS));
  assert.deepEqual(ns.answers.map((a) => [a.type, a.data]), [[RRType.NS, "ns.weave.local."]]);
  const any = ask(query("weave.local.", RRType.ANY));
  assert.deepEqual(any.answers.map((a) => a.type).sort(), [RRType.NS, RRType.SOA]);
  assert.equal(rcodeOf(ask(query("ns.weave.local.")).flags), Rcode.nxDomain, "no address without one given");
  const withNs = opts({ nameserver: new Uint8Array([10, 32, 0, 254]) });
  assert.deepEqual(addrs(ask(query("ns.weave.local."), table(), withNs)), ["10.32.0.254"]);
});
