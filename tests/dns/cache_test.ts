import assert from "node:assert/strict";
import { AnswerCache } from "../../src/dns/cache.ts";
import { Flag, Rcode, RRClass, RRType } from "../../src/dns/constants.ts";
import { decodeMessage, encodeMessage, type ResourceRecord } from "../../src/dns/message.ts";
import { query } from "./fixtures.ts";
import { prng } from "./prng.ts";

const A = (name: string, ttl: number, last = 1): ResourceRecord => ({
  name,
  type: RRType.A,
  class: RRClass.IN,
  ttl,
  data: new Uint8Array([192, 0, 2, last]),
});

function soa(ttl: number, minimum: number): ResourceRecord {
  const names = [4, 0x6e, 0x73, 0x30, 0x31, 0, 2, 0x68, 0x6d, 0]; // "ns01." "hm."
  const data = new Uint8Array(names.length + 20);
  data.set(names);
  new DataView(data.buffer).setUint32(names.length + 16, minimum);
  return { name: "ext.test.", type: RRType.SOA, class: RRClass.IN, ttl, data };
}

const opt = (udpSize: number, flags = 0): ResourceRecord => ({
  name: ".",
  type: RRType.OPT,
  class: udpSize,
  ttl: flags,
  data: new Uint8Array(),
});

/** An upstream reply to `q`: its question, the given sections, QR+RA and `rcode`. */
function reply(
  q: Uint8Array,
  sections: { answers?: ResourceRecord[]; authorities?: ResourceRecord[]; additionals?: ResourceRecord[] },
  rcode: number = Rcode.noError,
  extra = 0,
): Uint8Array {
  const m = decodeMessage(q);
  return encodeMessage({
    ...m,
    id: 0x1234,
    flags: m.flags | Flag.qr | Flag.ra | extra | rcode,
    answers: sections.answers ?? [],
    authorities: sections.authorities ?? [],
    additionals: sections.additionals ?? [],
  });
}

/** A cache with a clock the test moves. */
function clocked(options: ConstructorParameters<typeof AnswerCache>[0] = {}) {
  const clock = { ms: 1_000_000 };
  return { cache: new AnswerCache({ ...options, now: () => clock.ms }), clock };
}

Deno.test("AnswerCache serves a positive answer with the client's id and case, TTLs counted down, until the smallest TTL", () => {
  const { cache, clock } = clocked();
  const q = query("www.ext.test.");
  assert.equal(
    cache.store(q, reply(q, { answers: [A("www.ext.test.", 30), A("www.ext.test.", 10, 2)] }), "udp"),
    true,
  );
  clock.ms += 3_500;
  const asked = query("WWW.Ext.TEST.");
  asked[0] = 0x42;
  const hit = cache.lookup(asked, "udp");
  assert.ok(hit);
  const m = decodeMessage(hit);
  assert.equal(m.id, 0x42ef);
  assert.equal(m.questions[0].name, "WWW.Ext.TEST.", "the client's 0x20 case is echoed");
  assert.deepEqual(m.answers.map((a) => a.ttl), [7, 7], "min(own, entry) minus the 3 whole seconds elapsed");
  clock.ms += 6_400;
  assert.ok(cache.lookup(q, "udp"), "still alive at 9.9 s");
  clock.ms += 100;
  assert.equal(cache.lookup(q, "udp"), undefined, "gone at 10 s");
  assert.equal(cache.size, 0, "the expired entry is dropped when met");
});

Deno.test("AnswerCache keeps negative answers for min(SOA TTL, MINIMUM) and only with an SOA (RFC 2308)", () => {
  const { cache, clock } = clocked();
  const nx = query("nope.ext.test.");
  assert.equal(cache.store(nx, reply(nx, { authorities: [soa(60, 5)] }, Rcode.nxDomain), "udp"), true);
  const nodata = query("www.ext.test.", RRType.AAAA);
  assert.equal(cache.store(nodata, reply(nodata, { authorities: [soa(4, 900)] }), "udp"), true);
  const bare = query("bare.ext.test.");
  assert.equal(cache.store(bare, reply(bare, {}, Rcode.nxDomain), "udp"), false, "no SOA, no caching");
  const hit = decodeMessage(cache.lookup(nx, "udp")!);
  assert.equal(rcodeOf(hit.flags), Rcode.nxDomain);
  assert.equal(hit.authorities[0].ttl, 5, "the SOA's TTL is cut to the negative TTL");
  clock.ms += 4_000;
  assert.equal(cache.lookup(nodata, "udp"), undefined);
  assert.ok(cache.lookup(nx, "udp"));
  clock.ms += 1_000;
  assert.equal(cache.lookup(nx, "udp"), undefined);
});

const rcodeOf = (flags: number) => flags & 0xf;

Deno.test("AnswerCache refuses SERVFAIL, truncated, zero-TTL, mismatched and malformed replies", () => {
  const { cache } = clocked();
  const q = query("www.ext.test.");
  const ok = { answers: [A("www.ext.test.", 30)] };
  assert.equal(cache.store(q, reply(q, ok, Rcode.servFail), "udp"), false);
  assert.equal(cache.store(q, reply(q, ok, Rcode.noError, Flag.tc), "udp"), false);
  assert.equal(cache.store(q, reply(q, { answers: [A("www.ext.test.", 0)] }), "udp"), false);
  assert.equal(cache.store(q, reply(query("other.ext.test."), ok), "udp"), false);
  assert.equal(cache.store(q, reply(q, ok).subarray(0, 40), "udp"), false);
  assert.equal(cache.store(q, q, "udp"), false, "a query is not a reply");
  assert.equal(cache.size, 0);
});

Deno.test("AnswerCache keys on type, transport, EDNS size, DO and CD bits, and caps TTLs", () => {
  const { cache, clock } = clocked({ maxTtl: 60 });
  const plain = query("www.ext.test.");
  cache.store(plain, reply(plain, { answers: [A("www.ext.test.", 86400)] }), "udp");
  const others = [
    query("www.ext.test.", RRType.AAAA),
    query("www.ext.test.", RRType.A, { additionals: [opt(1232)] }),
    query("www.ext.test.", RRType.A, { additionals: [opt(1232, 0x8000)] }),
    query("www.ext.test.", RRType.A, { flags: Flag.rd | Flag.cd }),
    query("www.ext.test.", RRType.A, { flags: 0 }),
  ];
  for (const o of others) assert.equal(cache.lookup(o, "udp"), undefined);
  assert.equal(cache.lookup(plain, "tcp"), undefined);
  assert.equal(decodeMessage(cache.lookup(plain, "udp")!).answers[0].ttl, 60);
  clock.ms += 60_000;
  assert.equal(cache.lookup(plain, "udp"), undefined, "capped at maxTtl");
});

Deno.test("AnswerCache evicts least recently used entries beyond its entry and byte bounds; flush empties it", () => {
  const { cache } = clocked({ maxEntries: 3 });
  const qs = ["a", "b", "c", "d"].map((n) => query(`${n}.ext.test.`));
  const store = (q: Uint8Array) => cache.store(q, reply(q, { answers: [A("x.ext.test.", 30)] }), "udp");
  qs.slice(0, 3).forEach(store);
  assert.ok(cache.lookup(qs[0], "udp"), "a is now the most recently used");
  store(qs[3]);
  assert.deepEqual(qs.map((q) => cache.lookup(q, "udp") !== undefined), [true, false, true, true]);
  const perEntry = cache.bytes / cache.size;
  const small = new AnswerCache({ maxBytes: Math.floor(perEntry * 2.5) });
  qs.forEach((q) => small.store(q, reply(q, { answers: [A("x.ext.test.", 30)] }), "udp"));
  assert.equal(small.size, 2);
  assert.ok(small.bytes <= perEntry * 2.5);
  cache.flush();
  assert.deepEqual([cache.size, cache.bytes], [0, 0]);
});

Deno.test("AnswerCache matches a model of TTL expiry and LRU eviction (seeded random)", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = prng(seed);
    const max = 1 + r.int(6);
    const { cache, clock } = clocked({ maxEntries: max });
    const model = new Map<string, { expires: number; used: number }>();
    const names = Array.from({ length: 10 }, (_, i) => `n${i}.ext.test.`);
    let tick = 0;
    for (let step = 0; step < 400; step++) {
      const name = r.pick(names), q = query(name);
      const op = r.int(3);
      if (op === 0) {
        const ttl = 1 + r.int(5);
        assert.ok(cache.store(q, reply(q, { answers: [A(name, ttl)] }), "udp"));
        model.set(name, { expires: clock.ms + ttl * 1000, used: ++tick });
        while (model.size > max) {
          const [oldest] = [...model].sort((a, b) => a[1].used - b[1].used)[0];
          model.delete(oldest);
        }
      } else if (op === 1) {
        const m = model.get(name);
        const alive = m !== undefined && clock.ms < m.expires;
        if (m && !alive) model.delete(name);
        if (alive) m.used = ++tick;
        assert.equal(cache.lookup(q, "udp") !== undefined, alive, `seed ${seed} step ${step} ${name}`);
      } else clock.ms += r.int(1500);
    }
  }
});

Deno.test("AnswerCache fuzz: mutated replies never throw, and whatever it stores it serves decodable", () => {
  const r = prng(17);
  const q = query("www.ext.test.", RRType.A, { additionals: [opt(1232)] });
  const base = reply(q, {
    answers: [A("www.ext.test.", 30)],
    authorities: [soa(60, 5)],
    additionals: [opt(1232)],
  });
  const { cache } = clocked();
  for (let i = 0; i < 20_000; i++) {
    const m = i % 10 === 0
      ? r.bytes(r.int(80))
      : base.slice(0, r.int(4) === 0 ? r.int(base.length) : base.length);
    for (let k = r.int(4); k > 0 && m.length > 0; k--) m[r.int(m.length)] = r.int(256);
    if (cache.store(q, m, "udp")) decodeMessage(cache.lookup(q, "udp")!);
  }
});

Deno.test("AnswerCache fuzz: mutated and random queries never throw on lookup or store", () => {
  const r = prng(29);
  const q = query("www.ext.test.", RRType.A, { additionals: [opt(1232)] });
  const { cache } = clocked();
  cache.store(q, reply(q, { answers: [A("www.ext.test.", 30)], additionals: [opt(1232)] }), "udp");
  for (let i = 0; i < 20_000; i++) {
    const m = i % 4 === 0 ? r.bytes(r.int(60)) : q.slice(0, r.int(3) === 0 ? r.int(q.length) : q.length);
    for (let k = r.int(4); k > 0 && m.length > 0; k--) m[r.int(m.length)] = r.int(256);
    const hit = cache.lookup(m, r.int(2) ? "udp" : "tcp");
    if (hit) assert.equal(hit.length, cache.lookup(q, "udp")!.length);
    cache.store(m, reply(q, { answers: [A("www.ext.test.", 30)] }), "udp");
  }
});
