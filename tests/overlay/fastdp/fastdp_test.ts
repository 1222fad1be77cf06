import assert from "node:assert/strict";
import { FakeClock } from "../../../src/mesh/testing/fake_clock.ts";
import { FALLBACK_MS, HEARTBEAT_MS, HEARTBEAT_SLOW_MS } from "../../../src/overlay/fastdp/constants.ts";
import { FastDp, type FastDpIo, RECONCILE_MS } from "../../../src/overlay/fastdp/fastdp.ts";
import type { FdbWanted } from "../../../src/overlay/fastdp/fdb_plan.ts";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { runFdbScenarios } from "./fdb_scenario.ts";
import { VxlanTableModel } from "./vxlan_table_model.ts";

const A = "02:00:00:00:00:0a", B = "02:00:00:00:00:0b", C = "02:00:00:00:00:0c";
const IP: Record<string, string> = { [A]: "198.18.0.1", [B]: "198.18.0.2", [C]: "198.18.0.3" };

/** Hosts joined by a modelled VXLAN: a frame goes to the host its destination MAC's entry names. */
class Wire {
  readonly queues = new Map<string, Uint8Array[]>();
  readonly tables = new Map<string, FdbWanted>();
  /** "from>to" pairs whose frames are dropped (a firewall on UDP 6784). */
  readonly blocked = new Set<string>();
  /** Per host, what it told the sleeve and the bridge, in order. */
  readonly log = new Map<string, string[]>();

  io(host: string): FastDpIo {
    this.queues.set(host, []);
    this.log.set(host, []);
    return {
      send: (frame) => {
        const dst = [...frame.subarray(0, 6)].map((x) => x.toString(16).padStart(2, "0")).join(":");
        const ip = this.tables.get(host)?.candidates.get(dst);
        const target = Object.keys(IP).find((n) => IP[n] === ip);
        if (target === undefined || this.blocked.has(`${host}>${target}`)) return true;
        this.queues.get(target)?.push(frame.slice());
        return true;
      },
      receive: (buf) => {
        const f = this.queues.get(host)!.shift();
        if (f === undefined) return undefined;
        buf.set(f);
        return f.length;
      },
      program: (wanted) => {
        this.tables.set(host, { candidates: new Map(wanted.candidates), fast: new Set(wanted.fast) });
      },
      switched: (fast) => this.log.get(host)!.push(`bridge forgets ${fast ? "tap" : "vxlan"}`),
      forgetOnSleevePort: (mac) => (this.log.get(host)!.push(`bridge forgets ${mac} on tap`), true),
      close: () => this.log.get(host)!.push("closed"),
    };
  }
}

Deno.test("FastDp falls back to sleeve when heartbeats stop and returns when they resume", async () => {
  const clock = new FakeClock(1_000);
  const wire = new Wire();
  const sleeve = new Map<string, string[]>();
  const make = (us: string) =>
    new FastDp(
      {
        us,
        mtu: 1450,
        enabled: true,
        encrypted: false,
        clock,
        onChange: (fast) => {
          sleeve.set(us, fast);
          wire.log.get(us)!.push(`sleeve ${fast.join(",")}`);
        },
      },
      wire.io(us),
    );
  const a = make(A), b = make(B);
  try {
    a.peerUp(B, IP[B], ["fastdp", "sleeve"]);
    b.peerUp(A, IP[A], ["fastdp", "sleeve"]);
    assert.match(a.overlay(B), /^sleeve \(fastdp heartbeats not answered yet/);
    assert.deepEqual(wire.tables.get(A)!.fast, new Set());
    await clock.advance(3 * HEARTBEAT_MS);
    assert.equal(a.overlay(B), "fastdp");
    assert.equal(b.overlay(A), "fastdp");
    assert.deepEqual(sleeve.get(A), [B]);
    assert.deepEqual(wire.tables.get(A)!.fast, new Set([B]));
    assert.deepEqual(wire.log.get(A), [`sleeve ${B}`, "bridge forgets tap"]);

    // One direction blocked: both ends fall back within a slow heartbeat, and the fast ones after the first miss.
    wire.blocked.add(`${A}>${B}`);
    await clock.advance(HEARTBEAT_SLOW_MS + FALLBACK_MS);
    assert.match(
      a.overlay(B),
      /^sleeve \(fastdp heartbeats stopped \(3 in a row unanswered, 2 s\); check UDP 6784 .* 1500-byte packets\)$/,
    );
    assert.match(b.overlay(A), /^sleeve \(fastdp heartbeats stopped/);
    assert.deepEqual(sleeve.get(A), []);
    assert.deepEqual(wire.tables.get(A)!.fast, new Set());
    assert.equal(wire.tables.get(A)!.candidates.get(B), IP[B], "heartbeats keep their entry");
    assert.deepEqual(wire.log.get(A)!.slice(2), ["sleeve ", "bridge forgets vxlan"]);

    a.leftToFastdp("02:00:00:00:01:0b", B); // B is on sleeve here now: the bridge's entry on the tap is right
    assert.deepEqual(wire.log.get(A)!.slice(4), []);

    wire.blocked.clear();
    await clock.advance(3 * HEARTBEAT_MS);
    assert.equal(a.overlay(B), "fastdp");
    assert.equal(b.overlay(A), "fastdp");
    a.leftToFastdp("02:00:00:00:01:0b", B);
    assert.deepEqual(wire.log.get(A)!.slice(-1), ["bridge forgets 02:00:00:00:01:0b on tap"]);

    b.peerDown(A);
    assert.equal(b.overlay(A), "sleeve");
    assert.deepEqual(sleeve.get(B), []);
    assert.deepEqual(wire.tables.get(B), { candidates: new Map(), fast: new Set() });
  } finally {
    a.stop();
    b.stop();
  }
  assert.equal(wire.log.get(A)!.at(-1), "closed");
});

Deno.test("FastDp keeps a pair on sleeve and says why: off, encrypted, not offered, IPv6", () => {
  const clock = new FakeClock();
  const opts = { us: A, mtu: 1450, clock };
  const off = new FastDp({ ...opts, enabled: false, encrypted: false }, undefined);
  const enc = new FastDp({ ...opts, enabled: true, encrypted: true }, undefined);
  const failed = new FastDp({ ...opts, enabled: true, encrypted: false }, undefined, "Cannot add link 'x'");
  const on = new FastDp({ ...opts, enabled: true, encrypted: false }, new Wire().io(A));
  try {
    for (const f of [off, enc, failed, on]) f.peerUp(B, IP[B], ["sleeve"]);
    assert.equal(off.overlay(B), "sleeve (fastdp turned off with --no-fastdp)");
    assert.match(enc.overlay(B), /^sleeve \(encrypted/);
    assert.equal(failed.overlay(B), "sleeve (fastdp unavailable: Cannot add link 'x')");
    assert.equal(on.overlay(B), "sleeve (the peer does not offer fastdp)");
    assert.deepEqual([off, enc, failed, on].map((f) => f.overlays), [
      ["sleeve"],
      ["sleeve"],
      ["sleeve"],
      ["fastdp", "sleeve"],
    ]);
    on.peerUp(C, "fd00::3", ["fastdp", "sleeve"]);
    assert.equal(on.overlay(C), "sleeve (fastdp needs an IPv4 underlay address)");
    assert.equal(on.overlayType(C), "sleeve");
    assert.equal(on.overlay("02:00:00:00:00:99"), "sleeve");
  } finally {
    for (const f of [off, enc, failed, on]) f.stop();
  }
});

Deno.test("FastDp in a triangle with one pair blocked: flood lists hold only the pairs that work", async () => {
  const clock = new FakeClock(5);
  const wire = new Wire();
  const hosts = [A, B, C];
  const f = new Map(
    hosts.map((
      h,
    ) => [h, new FastDp({ us: h, mtu: 1450, enabled: true, encrypted: false, clock }, wire.io(h))]),
  );
  try {
    wire.blocked.add(`${A}>${C}`).add(`${C}>${A}`);
    for (const x of hosts) for (const y of hosts) if (x !== y) f.get(x)!.peerUp(y, IP[y], ["fastdp"]);
    await clock.advance(2_000);
    assert.deepEqual(f.get(A)!.fastPeers(), [B]);
    assert.deepEqual(f.get(B)!.fastPeers().sort(), [A, C]);
    assert.deepEqual(f.get(C)!.fastPeers(), [B]);
    assert.deepEqual([...wire.tables.get(B)!.fast].map((n) => IP[n]).sort(), [IP[A], IP[C]]);
  } finally {
    for (const x of f.values()) x.stop();
  }
});

Deno.test("FastDp programs the table on its own changes, the pairs of one drain together, and otherwise every RECONCILE_MS", async () => {
  const clock = new FakeClock(1_000);
  const wire = new Wire();
  const runs = new Map<string, number>();
  const make = (us: string) => {
    const io = wire.io(us), program = io.program;
    io.program = (wanted) => (runs.set(us, (runs.get(us) ?? 0) + 1), program(wanted));
    return new FastDp({ us, mtu: 1450, enabled: true, encrypted: false, clock }, io);
  };
  const a = make(A), b = make(B), c = make(C);
  try {
    a.peerUp(B, IP[B], ["fastdp"]), a.peerUp(C, IP[C], ["fastdp"]);
    b.peerUp(A, IP[A], ["fastdp"]), c.peerUp(A, IP[A], ["fastdp"]);
    assert.equal(runs.get(A), 2, "one run per peer up");
    await clock.advance(3 * HEARTBEAT_MS);
    assert.deepEqual(a.fastPeers().sort(), [B, C]);
    assert.equal(runs.get(A), 3, "both pairs' acks came in one drain: one run");
    runs.set(A, 0);
    await clock.advance(RECONCILE_MS - 4 * HEARTBEAT_MS);
    assert.equal(runs.get(A), 0, "no change, no run");
    await clock.advance(5 * HEARTBEAT_MS);
    assert.equal(runs.get(A), 1, "the periodic check");
  } finally {
    for (const f of [a, b, c]) f.stop();
  }
});

Deno.test("FastDp keeps the kernel table equal to its state under random peer up/down sequences (seeded property, kernel model)", async () => {
  const table = new VxlanTableModel();
  await runFdbScenarios(
    new SeededRandom(0x5eed),
    {
      entries: () => table.entries(),
      apply: (c) => table.apply(c),
      learn: (mac, dst) => table.learn(mac, dst),
    },
    150,
    12,
  );
});

Deno.test("FastDp survives a kernel that refuses programming and a sleeve callback that throws, and catches up", async () => {
  const clock = new FakeClock();
  let refuse = true;
  const programmed: FdbWanted[] = [];
  const fastdp = new FastDp(
    {
      us: A,
      mtu: 1450,
      enabled: true,
      encrypted: false,
      clock,
      onChange: () => {
        throw new Error("sleeve gone");
      },
    },
    {
      ...new Wire().io(A),
      program: (wanted) => {
        if (refuse) throw new Error("Cannot add FDB entry: File exists (EEXIST)");
        programmed.push({ candidates: new Map(wanted.candidates), fast: new Set(wanted.fast) });
      },
    },
  );
  try {
    fastdp.peerUp(B, IP[B], ["fastdp"]);
    fastdp.peerUp(B, IP[B], ["fastdp"]);
    fastdp.peerDown(C);
    fastdp.peerUp("not-a-mac", IP[C], ["fastdp"]);
    assert.match(fastdp.overlay("not-a-mac"), /not a MAC address/);
    refuse = false;
    await clock.advance(HEARTBEAT_MS);
    assert.deepEqual(programmed.at(-1)!.candidates, new Map([[B, IP[B]]]));
  } finally {
    fastdp.stop();
  }
});
