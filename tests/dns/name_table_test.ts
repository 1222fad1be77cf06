import assert from "node:assert/strict";
import { type NameEntry, NameTable } from "../../src/dns/name_table.ts";
import { DnsFormatError } from "../../src/dns/message.ts";
import { TOMBSTONE_GRACE_MS } from "../../src/dns/constants.ts";
import { type Prng, prng } from "./prng.ts";

const P1 = "ce:31:e0:06:45:1e", P2 = "a2:00:00:00:00:02", P3 = "a2:00:00:00:00:03";

/** Sorted entries, for comparing tables regardless of insertion order. */
const state = (t: NameTable) => t.entries().map((e) => JSON.stringify(e)).sort();

const ip = (b: readonly Uint8Array[]) => b.map((a) => a.join(".")).sort();

/** A random entry from a small universe, so keys collide often. */
function randomEntry(r: Prng): NameEntry {
  return {
    name: r.pick(["a.weave.local.", "b.weave.local.", "C.weave.local."]),
    address: r.pick(["10.32.0.1", "10.32.0.2", "fd00::1"]),
    container: r.pick(["c1", "c2"]),
    origin: r.pick([P1, P2, P3]),
    version: r.int(4),
    tombstone: r.int(3) === 0 ? 1000 + r.int(3) : 0,
  };
}

const randomTable = (r: Prng) => new NameTable(Array.from({ length: r.int(12) }, () => randomEntry(r)));

Deno.test("NameTable.merge() is commutative, associative and idempotent (seeded random)", () => {
  const r = prng(7);
  for (let i = 0; i < 500; i++) {
    const [a, b, c] = [randomTable(r), randomTable(r), randomTable(r)];
    const copy = (t: NameTable) => new NameTable(t.entries());
    assert.deepEqual(state(copy(a).merge(b) as NameTable), state(copy(b).merge(a) as NameTable));
    const left = copy(a).merge(b).merge(c) as NameTable;
    const right = copy(a).merge(copy(b).merge(c)) as NameTable;
    assert.deepEqual(state(left), state(right));
    assert.deepEqual(state(copy(a).merge(a) as NameTable), state(a));
  }
});

Deno.test("NameTable.merge() matches a model: per key the greatest (version, tombstone) wins", () => {
  const r = prng(11);
  for (let i = 0; i < 300; i++) {
    const all = Array.from({ length: r.int(20) }, () => randomEntry(r));
    const model = new Map<string, NameEntry>();
    for (const e of all) {
      const n = { ...e, name: e.name.toLowerCase() };
      const k = `${n.name}|${n.address}|${n.container}|${n.origin}`;
      const old = model.get(k);
      if (!old || n.version > old.version || (n.version === old.version && n.tombstone > old.tombstone)) {
        model.set(k, n);
      }
    }
    const t = new NameTable();
    for (const e of all) t.merge(new NameTable([e]));
    assert.deepEqual(state(t), [...model.values()].map((e) => JSON.stringify(e)).sort());
    // lookups agree with the model's live entries
    for (const name of ["a.weave.local.", "b.weave.local.", "c.weave.local."]) {
      const live = [...model.values()].filter((e) => e.name === name && e.tombstone === 0);
      const want = [...new Set(live.map((e) => e.address))].sort();
      assert.deepEqual(t.addressesOf(name).map((a) => a.length === 4 ? a.join(".") : "fd00::1").sort(), want);
    }
  }
});

Deno.test("NameTable.add() and remove() change own entries and return the delta", () => {
  const t = new NameTable();
  const d1 = t.add("DB.weave.local", "10.32.0.5", "c1", P1);
  assert.deepEqual(d1.entries(), [{
    name: "db.weave.local.",
    address: "10.32.0.5",
    container: "c1",
    origin: P1,
    version: 1,
    tombstone: 0,
  }]);
  t.add("db.weave.local.", "fd00:0::5", "c2", P1);
  assert.deepEqual(ip(t.addressesOf("Db.Weave.Local.")), ["10.32.0.5", "253.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5"]);
  assert.deepEqual(t.namesOf("10.32.0.5"), ["db.weave.local."]);
  assert.deepEqual(
    t.add("db.weave.local.", "10.32.0.5", "c1", P1).entries()[0].version,
    1,
    "re-add is a no-op",
  );

  const d2 = t.remove({ origin: P1, container: "c1" }, 5000);
  assert.deepEqual(d2.entries().map((e) => [e.version, e.tombstone]), [[2, 5000]]);
  assert.deepEqual(ip(t.addressesOf("db.weave.local.")), ["253.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5"]);
  assert.deepEqual(t.namesOf("10.32.0.5"), []);
  assert.equal(t.remove({ origin: P2 }).size, 0, "only the origin's entries are removed");

  const d3 = t.add("db.weave.local.", "10.32.0.5", "c1", P1);
  assert.deepEqual(
    d3.entries().map((e) => [e.version, e.tombstone]),
    [[3, 0]],
    "re-adding raises the version",
  );

  // another peer holding the tombstone learns the re-add
  const other = new NameTable(d2.entries());
  assert.deepEqual(other.mergeNew(d3)?.entries(), d3.entries());
  assert.equal(other.mergeNew(d2), undefined, "an old delta changes nothing");
});

Deno.test("NameTable.add() refuses invalid fields with the value in the message", () => {
  const t = new NameTable();
  assert.throws(() => t.add("db.weave.local.", "10.32.0", "c1", P1), /Invalid IP address '10.32.0'/);
  assert.throws(() => t.add("a..b.", "10.32.0.1", "c1", P1), /Invalid DNS name 'a..b.'/);
  assert.throws(() => t.add("db.", "10.32.0.1", "", P1), /Invalid container ''/);
  assert.throws(() => t.add(".", "10.32.0.1", "c1", P1), /root cannot be registered/);
});

Deno.test("NameTable.purgeTombstones() drops only tombstones past the grace period", () => {
  const t = new NameTable();
  t.add("a.weave.local.", "10.32.0.1", "c1", P1);
  t.add("b.weave.local.", "10.32.0.2", "c2", P1);
  t.remove({ origin: P1, container: "c2" }, 1000);
  assert.equal(t.purgeTombstones(1000 + TOMBSTONE_GRACE_MS - 1), 0);
  assert.equal(t.purgeTombstones(1000 + TOMBSTONE_GRACE_MS), 1);
  assert.deepEqual(t.entries().map((e) => e.name), ["a.weave.local."]);
});

Deno.test("NameTable.removePeer() drops every entry of that peer", () => {
  const t = new NameTable();
  t.add("a.weave.local.", "10.32.0.1", "c1", P1);
  t.merge(
    new NameTable([{ ...t.entries()[0], origin: P2 }, { ...t.entries()[0], origin: P2, container: "c9" }]),
  );
  assert.equal(t.removePeer(P2), 2);
  assert.deepEqual(t.entries().map((e) => e.origin), [P1]);
  assert.deepEqual(ip(t.addressesOf("a.weave.local.")), ["10.32.0.1"]);
});

Deno.test("NameTable.encode() and decode() round-trip, split into bounded messages", () => {
  const r = prng(3);
  const t = new NameTable();
  for (let i = 0; i < 2000; i++) {
    t.add(`n${i}.weave.local.`, `10.${32 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, `c${r.int(100)}`, P1);
  }
  t.remove({ origin: P1, container: "c7" }, 1234567890123);
  const msgs = t.encode();
  assert.ok(msgs.length > 1 && msgs.every((m) => m.length <= 16 * 1024));
  const back = new NameTable();
  for (const m of msgs) back.merge(NameTable.decode(m));
  assert.deepEqual(state(back), state(t));
  assert.deepEqual(state(NameTable.decode(new NameTable().encode()[0])), []);
});

Deno.test("NameTable.decode() fuzz: mutated and random input throws DnsFormatError, never corrupts", () => {
  const r = prng(5);
  const t = new NameTable();
  t.add("a.weave.local.", "10.32.0.1", "c1", P1);
  t.add("b.weave.local.", "fd00::2", "c2", P2);
  const good = t.encode()[0];
  const target = new NameTable(t.entries());
  const before = state(target);
  let decoded = 0;
  for (let i = 0; i < 20000; i++) {
    let b: Uint8Array;
    if (i % 3 === 0) b = r.bytes(r.int(60));
    else {
      b = good.slice();
      for (let k = 1 + r.int(3); k > 0; k--) b[r.int(b.length)] = r.int(256);
      if (r.int(4) === 0) b = b.subarray(0, r.int(b.length + 1));
    }
    let got: NameTable;
    try {
      got = NameTable.decode(b);
    } catch (e) {
      assert.ok(e instanceof DnsFormatError, `case ${i}: ${(e as Error).stack}`);
      assert.match((e as Error).message, /^Cannot decode name table gossip: /);
      continue;
    }
    decoded++;
    // whatever decodes is a valid table that re-encodes identically
    assert.deepEqual(state(NameTable.decode(got.encode()[0])), state(got));
  }
  assert.ok(decoded > 0);
  assert.deepEqual(state(target), before);
});

Deno.test("NameTable.merge() refuses other kinds of gossip data", () => {
  assert.throws(() => new NameTable().merge({ encode: () => [], merge: (o) => o }), TypeError);
});
