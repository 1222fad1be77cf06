import assert from "node:assert/strict";
import { aes256gcm, CIPHERS, tweetnaclSodium } from "../../../ffi/sodium.ts";
import { endpoint } from "../../../ffi/packet_conn.ts";
import { memoryFramePair } from "../../../ffi/testing/memory_frame_device.ts";
import { MemoryNetwork } from "../../../ffi/testing/memory_packet_conn.ts";
import { SyscallError } from "../../../ffi/libc.ts";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import { agreedCipher } from "../../../src/overlay/sleeve/cipher.ts";
import { DatagramBuilder, linkKey } from "../../../src/overlay/sleeve/datagram.ts";
import {
  FASTDP_MAC_REPORT_LIMIT,
  FASTDP_MAC_REPORT_MS,
  FRAME_HOP_LIMIT,
  HEARTBEAT_QUIET_MS,
  RecordKind,
  TICK_MS,
} from "../../../src/overlay/sleeve/constants.ts";
import { parseMac48 } from "../../../src/overlay/sleeve/mac48.ts";
import { Sleeve } from "../../../src/overlay/sleeve/sleeve.ts";
import { writeVnetHeader } from "../../../src/overlay/sleeve/vnet_header.ts";
import { completed, frameProblem, parse, randomFlow, superFrame } from "./tcp_frames.ts";
import {
  Bench,
  BROADCAST_MAC,
  checksum,
  frame,
  GsoConn,
  mac,
  payloadOf,
  peerName,
  sessionKeyOf,
} from "./testbed.ts";

const LINE: [number, number][] = [[0, 1], [1, 2], [2, 3]];
// 0-1, 0-2, 1-2, 1-3, 2-4, 3-4: cycles, so floods must follow trees to arrive once.
const MESH: [number, number][] = [[0, 1], [0, 2], [1, 2], [1, 3], [2, 4], [3, 4]];

/** Frames each bridge received, as payload texts. */
function texts(bench: Bench): string[][] {
  return bench.received().map((fs) => fs.map(payloadOf));
}

Deno.test("Sleeve forwards unicast across hops both ways once MACs are learned (line of 4)", () => {
  const bench = new Bench(4, LINE);
  try {
    bench.settle();
    bench.nodes[3].bridge.write([frame(BROADCAST_MAC, mac(3), "hello from 3")]);
    bench.settle();
    assert.deepEqual(texts(bench), [["hello from 3"], ["hello from 3"], ["hello from 3"], []]);
    bench.nodes[0].bridge.write([frame(mac(3), mac(0), "to 3")]);
    bench.settle();
    assert.deepEqual(texts(bench), [[], [], [], ["to 3"]]);
    bench.nodes[3].bridge.write([frame(mac(0), mac(3), "to 0")]);
    bench.settle();
    assert.deepEqual(texts(bench), [["to 0"], [], [], []]);
    const s1 = bench.nodes[1].sleeve.stats();
    assert.equal(s1.framesRelayed, 3); // the broadcast and both unicasts pass through 1
    assert.equal(Object.values(s1.drops).reduce((a, b) => a + b), 0);
  } finally {
    bench.close();
  }
});

Deno.test("Sleeve floods a broadcast to every bridge exactly once in a mesh with cycles", () => {
  const bench = new Bench(5, MESH);
  try {
    bench.settle();
    for (let src = 0; src < 5; src++) {
      bench.nodes[src].bridge.write([frame(BROADCAST_MAC, mac(src), `b${src}`)]);
      bench.settle();
      const got = texts(bench);
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(got[i], i === src ? [] : [`b${src}`], `source ${src} at ${i}`);
      }
    }
  } finally {
    bench.close();
  }
});

Deno.test("Sleeve floods unknown unicast once and then sends learned unicast to one peer only", () => {
  const bench = new Bench(5, MESH);
  try {
    bench.settle();
    bench.nodes[0].bridge.write([frame(mac(4), mac(0), "who is 4")]);
    bench.settle();
    assert.deepEqual(texts(bench), [[], ["who is 4"], ["who is 4"], ["who is 4"], ["who is 4"]]);
    bench.nodes[4].bridge.write([frame(mac(0), mac(4), "4 here")]); // 0's MAC was learned from the flood
    bench.settle();
    assert.deepEqual(texts(bench), [["4 here"], [], [], [], []]);
    bench.nodes[0].bridge.write([frame(mac(4), mac(0), "direct")]);
    bench.settle();
    assert.deepEqual(texts(bench), [[], [], [], [], ["direct"]]);
  } finally {
    bench.close();
  }
});

Deno.test("Sleeve reports a MAC that moves to another peer and follows it", () => {
  const bench = new Bench(3, [[0, 1], [0, 2]]);
  try {
    bench.settle();
    bench.nodes[1].bridge.write([frame(BROADCAST_MAC, mac(9), "at 1")]);
    bench.settle();
    bench.received();
    bench.nodes[2].bridge.write([frame(BROADCAST_MAC, mac(9), "at 2")]);
    bench.settle();
    bench.received();
    assert.deepEqual(bench.nodes[0].events.filter((e) => e.type === "macMoved"), [
      { type: "macMoved", mac: "02:00:00:00:00:09", from: peerName(1), to: peerName(2) },
    ]);
    bench.nodes[0].bridge.write([frame(mac(9), mac(0), "follow")]);
    bench.settle();
    assert.deepEqual(texts(bench), [[], [], ["follow"]]);
  } finally {
    bench.close();
  }
});

Deno.test("Sleeve drops frames from peers that carry one of our local MACs, and bridge frames to local MACs", () => {
  const bench = new Bench(2, [[0, 1]]);
  try {
    bench.settle();
    bench.nodes[0].bridge.write([frame(BROADCAST_MAC, mac(5), "local at 0")]);
    bench.settle();
    bench.received();
    bench.nodes[1].bridge.write([frame(BROADCAST_MAC, mac(5), "duplicate MAC")]);
    bench.nodes[0].bridge.write([frame(mac(5), mac(6), "to a local MAC")]);
    bench.settle();
    assert.deepEqual(texts(bench), [[], []]);
    const drops = bench.nodes[0].sleeve.stats().drops;
    assert.equal(drops.ownMac, 1);
    assert.equal(drops.localDestination, 1);
  } finally {
    bench.close();
  }
});

Deno.test("Sleeve batches the frames of one wakeup to one next hop into few datagrams", () => {
  const bench = new Bench(2, [[0, 1]]);
  try {
    bench.settle();
    bench.nodes[1].bridge.write([frame(BROADCAST_MAC, mac(1), "learn")]);
    bench.settle();
    bench.received();
    const before = bench.nodes[0].sleeve.stats().datagramsSent;
    const frames = Array.from({ length: 20 }, (_, i) => frame(mac(1), mac(0), `f${i}`.padEnd(1000, ".")));
    bench.nodes[0].bridge.write(frames);
    bench.settle();
    const sent = bench.nodes[0].sleeve.stats().datagramsSent - before;
    // 20 × 1029-byte records in datagrams of at most 9000 bytes: 8 per datagram.
    assert.equal(sent, 3);
    assert.deepEqual(
      bench.received()[1].map((f) => payloadOf(f).slice(0, 3).replace(".", "")),
      frames.map((_, i) => `f${i}`),
    );
  } finally {
    bench.close();
  }
});

for (const cipher of CIPHERS) {
  Deno.test({
    name: `Sleeve seals links per hop (${cipher}) and drops replayed, tampered and unsealed datagrams`,
    ignore: cipher === "aes256gcm" && aes256gcm() === undefined, // a CPU without AES-NI
    fn: () => {
      const bench = new Bench(3, [[0, 1], [1, 2]], { sealed: true, cipher });
      try {
        bench.settle();
        const recorded: Uint8Array[] = [];
        const target = bench.nodes[2];
        target.conn.onReceive = (d) => (recorded.push(d.slice()), d);
        bench.nodes[0].bridge.write([frame(BROADCAST_MAC, mac(0), "sealed hello")]);
        bench.settle();
        assert.deepEqual(texts(bench), [[], ["sealed hello"], ["sealed hello"]]);
        target.conn.onReceive = undefined;
        assert.equal(recorded.length, 1);
        assert.equal(recorded[0][1], 1, "the datagram is sealed");
        assert.equal(new TextDecoder().decode(recorded[0]).includes("sealed hello"), false);
        const attacker = bench.network.listen("10.0.0.99", 1);
        const to = target.conn.local;
        attacker.send([recorded[0]], to); // replay
        const tampered = recorded[0].slice();
        tampered[tampered.length - 1] ^= 1;
        tampered[15] += 100; // a fresh sequence number, so it reaches the authenticator
        attacker.send([tampered], to);
        const plain = new DatagramBuilder(200);
        plain.begin(parseMac48(peerName(1), "peer"), 200);
        plain.addFrame(
          RecordKind.frame,
          parseMac48(peerName(0), "peer"),
          parseMac48(peerName(2), "peer"),
          FRAME_HOP_LIMIT,
          0,
          frame(mac(2), mac(0), "forged"),
        );
        attacker.send([plain.finish()], to);
        const wrongKey = new DatagramBuilder(200);
        const box = cipher === "aes256gcm" ? aes256gcm()! : tweetnaclSodium();
        wrongKey.begin(parseMac48(peerName(1), "peer"), 200, linkKey(box, sessionKeyOf(0, 1), true), 1000);
        wrongKey.addFrame(
          RecordKind.frame,
          parseMac48(peerName(0), "peer"),
          parseMac48(peerName(2), "peer"),
          FRAME_HOP_LIMIT,
          0,
          frame(mac(2), mac(0), "forged"),
        );
        attacker.send([wrongKey.finish()], to);
        bench.settle();
        assert.deepEqual(texts(bench), [[], [], []]);
        const drops = target.sleeve.stats().drops;
        assert.equal(drops.replay, 1);
        assert.equal(drops.auth, 3);
        bench.nodes[2].bridge.write([frame(mac(0), mac(2), "still works")]);
        bench.settle();
        assert.deepEqual(texts(bench), [["still works"], [], []]);
        assert.equal(target.sleeve.stats().links[0].cipher, cipher);
      } finally {
        bench.close();
      }
    },
  });
}

Deno.test({
  name:
    "Sleeve: a peer offering AES-256-GCM and one offering only XSalsa20-Poly1305 agree on the latter; frames pass",
  ignore: aes256gcm() === undefined,
  fn: () => {
    const bench = new Bench(2, [[0, 1]], { cipher: "aes256gcm", bare: true });
    const offers = [["aes256gcm", "xsalsa20poly1305"], ["xsalsa20poly1305"]];
    try {
      for (const [a, b] of [[0, 1], [1, 0]]) {
        bench.nodes[a].sleeve.setPeer(peerName(b), {
          endpoint: bench.nodes[b].conn.local,
          sessionKey: sessionKeyOf(0, 1),
          outbound: a === 0,
          cipher: agreedCipher(offers[a], offers[b]),
        });
      }
      bench.setRoutes();
      bench.settle();
      bench.nodes[0].bridge.write([frame(mac(1), mac(0), "mixed")]);
      bench.nodes[1].bridge.write([frame(mac(0), mac(1), "back")]);
      bench.settle();
      assert.deepEqual(texts(bench), [["back"], ["mixed"]]);
      for (const n of bench.nodes) assert.equal(n.sleeve.stats().links[0].cipher, "xsalsa20poly1305");
    } finally {
      bench.close();
    }
  },
});

Deno.test("Sleeve survives random and mutated datagrams: counted drops, traffic unaffected", () => {
  const bench = new Bench(2, [[0, 1]], { sealed: false });
  const sealedBench = new Bench(2, [[0, 1]], { sealed: true });
  try {
    for (const b of [bench, sealedBench]) {
      b.settle();
      const valid: Uint8Array[] = [];
      b.nodes[1].conn.onReceive = (d) => (valid.push(d.slice()), d);
      b.nodes[0].bridge.write([frame(BROADCAST_MAC, mac(0), "seed"), frame(mac(1), mac(0), "x".repeat(300))]);
      b.settle();
      b.received();
      b.nodes[1].conn.onReceive = undefined;
      const rnd = new SeededRandom(99);
      const attacker = b.network.listen("10.0.0.99", 1);
      const before = b.nodes[1].sleeve.stats();
      for (let i = 0; i < 2000; i++) {
        const d = i % 4 === 0 ? rnd.bytes(rnd.int(200)) : rnd.mutate(valid[rnd.int(valid.length)]);
        attacker.send([d], b.nodes[1].conn.local);
        if (i % 50 === 0) b.settle();
      }
      b.settle();
      const after = b.nodes[1].sleeve.stats();
      const dropped = Object.values(after.drops).reduce((x, y) => x + y) -
        Object.values(before.drops).reduce((x, y) => x + y);
      assert.ok(dropped > 1500, `dropped ${dropped}`);
      b.received(); // plain mutants may deliver mutated frames; what matters is no crash and working traffic
      b.nodes[0].bridge.write([frame(mac(1), mac(0), "after fuzz")]);
      b.settle();
      assert.deepEqual(texts(b)[1], ["after fuzz"]);
    }
  } finally {
    bench.close();
    sealedBench.close();
  }
});

Deno.test("Sleeve heartbeats a fastdp peer every 10 s, and off fastdp at once, lost 5 s later without acks", async () => {
  const bench = new Bench(2, [[0, 1]]);
  try {
    bench.settle();
    await bench.run(1_000); // established, path MTU searched
    const sent = () => bench.nodes[0].sleeve.stats().datagramsSent;
    bench.nodes[0].sleeve.setFastPeers([peerName(1)]);
    bench.nodes[1].sleeve.setFastPeers([peerName(0)]);
    await bench.run(1_000);
    let before = sent();
    await bench.run(30_000);
    assert.equal(sent() - before, 6, "per 10 s on fastdp, one heartbeat and one ack of the peer's");
    bench.nodes[1].conn.onReceive = () => undefined; // 1 goes deaf
    await bench.run(20_000);
    assert.equal(
      bench.nodes[0].events.some((e) => e.type === "lost"),
      false,
      "10 s heartbeats may miss longer",
    );
    before = sent();
    bench.nodes[0].sleeve.setFastPeers([]); // fastdp fell back: the sleeve must prove the path now
    await bench.run(100);
    assert.equal(sent() - before, 1, "a heartbeat at once");
    await bench.run(4_500);
    assert.equal(bench.nodes[0].events.some((e) => e.type === "lost"), false);
    await bench.run(1_000);
    assert.deepEqual(bench.nodes[0].events.filter((e) => e.type === "lost"), [{
      type: "lost",
      peer: peerName(1),
      silentMs: 5_000,
      quiet: false,
    }]);
  } finally {
    bench.close();
  }
});

Deno.test("Sleeve sends quiet heartbeats on the shared 10 s grid, whatever each peer's phase", async () => {
  const bench = new Bench(3, [[0, 1], [0, 2]]);
  try {
    bench.settle();
    await bench.run(1_000); // established, path MTU searched
    await bench.run(2_345); // out of step with the grid
    for (const [i, fast] of [[0, [1, 2]], [1, [0]], [2, [0]]] as const) {
      bench.nodes[i].sleeve.setFastPeers(fast.map(peerName));
    }
    const arrivals: number[] = [];
    bench.nodes[0].conn.onReceive = (d) => (arrivals.push(bench.clock.now()), d);
    await bench.run(40_000);
    assert.ok(arrivals.length >= 3 * 2 * 2, `heartbeats and acks of both peers arrived (${arrivals.length})`);
    const slots = new Set(arrivals.map((t) => t % HEARTBEAT_QUIET_MS));
    assert.deepEqual(
      [...slots].filter((at) => at > TICK_MS),
      [],
      `arrivals within a tick of the grid: ${arrivals}`,
    );
  } finally {
    bench.close();
  }
});

Deno.test("Sleeve reports established after heartbeat acks and lost when acks stop", async () => {
  const bench = new Bench(2, [[0, 1]]);
  try {
    bench.settle();
    await bench.run(100);
    assert.deepEqual(bench.nodes[0].events.filter((e) => e.type !== "mtu"), [{
      type: "established",
      peer: peerName(1),
    }]);
    assert.equal(bench.nodes[0].sleeve.stats().links[0].established, true);
    bench.nodes[1].conn.onReceive = () => undefined; // 1 goes deaf: 0's heartbeats are no longer acked
    await bench.run(4_000);
    assert.equal(bench.nodes[0].events.some((e) => e.type === "lost"), false);
    await bench.run(2_000);
    assert.deepEqual(bench.nodes[0].events.filter((e) => e.type === "lost"), [{
      type: "lost",
      peer: peerName(1),
      silentMs: 5_000,
      quiet: false,
    }]);
    bench.nodes[1].conn.onReceive = undefined;
    await bench.run(500);
    assert.equal(bench.nodes[0].events.filter((e) => e.type === "established").length, 2);
  } finally {
    bench.close();
  }
});

Deno.test("Sleeve does not drop a peer while its own engine was stalled, only when acks stop after", async () => {
  const bench = new Bench(2, [[0, 1]]);
  try {
    bench.settle();
    await bench.run(1_000); // established
    bench.clock.stall(8_000); // a CPU-starved host: no timer, no socket read for 8 s
    await bench.run(2_000);
    assert.equal(bench.nodes[0].events.some((e) => e.type === "lost"), false, "the stall was ours");
    bench.nodes[1].conn.onReceive = () => undefined;
    await bench.run(6_000);
    assert.equal(
      bench.nodes[0].events.filter((e) => e.type === "lost").length,
      1,
      "a real silence still counts",
    );
  } finally {
    bench.close();
  }
});

Deno.test("Sleeve discovers the path MTU and answers too-big DF frames with ICMP fragmentation needed", async () => {
  const bench = new Bench(2, [[0, 1]], { maxDatagram: 9000 });
  try {
    // The path between 0 and 1 carries datagrams up to 1400 bytes; the kernel refuses more than 8000 outright.
    for (const n of bench.nodes) {
      n.conn.onSend = (d) => {
        if (d.length > 8000) throw emsgsize();
        return d.length <= 1400;
      };
    }
    await bench.run(5_000);
    const link = bench.nodes[0].sleeve.stats().links[0];
    assert.equal(link.pmtuVerified, true);
    assert.equal(link.maxDatagram, 1400);
    const mtuEvents = bench.nodes[0].events.filter((e) => e.type === "mtu");
    assert.deepEqual(mtuEvents.at(-1), {
      type: "mtu",
      peer: peerName(1),
      maxDatagram: link.maxDatagram,
      mtu: link.mtu,
    });
    assert.equal(link.mtu, link.maxDatagram - 8 - 15 - 5 - 14);
    bench.nodes[1].bridge.write([frame(BROADCAST_MAC, mac(1), "learn")]);
    bench.settle();
    bench.received();
    const big = ipv4Frame(mac(1), mac(0), link.mtu + 1, true);
    bench.nodes[0].bridge.write([
      big,
      ipv4Frame(mac(1), mac(0), link.mtu + 1, false),
      ipv4Frame(mac(1), mac(0), link.mtu, true),
    ]);
    bench.settle();
    const [at0, at1] = bench.received();
    assert.equal(at1.length, 1, "only the frame that fits crosses");
    assert.equal(at0.length, 1, "one ICMP for the DF frame, none for the other");
    const icmp = at0[0];
    assert.deepEqual(icmp.subarray(0, 6), mac(0));
    assert.equal(icmp[14 + 9], 1); // ICMP
    assert.deepEqual([icmp[34], icmp[35]], [3, 4]);
    assert.equal(icmp[40] << 8 | icmp[41], link.mtu);
    assert.deepEqual(icmp.subarray(26, 30), big.subarray(30, 34), "from the original destination");
    assert.equal(checksum(icmp.subarray(14, 34)), 0);
    assert.equal(checksum(icmp.subarray(34)), 0);
    assert.equal(bench.nodes[0].sleeve.stats().drops.tooBig >= 2, true);
  } finally {
    bench.close();
  }
});

Deno.test("Sleeve rejects bad configuration with clear errors", () => {
  const net = new MemoryNetwork();
  const [, device] = memoryFramePair();
  const conn = net.listen("10.0.0.1", 1);
  assert.throws(() => new Sleeve({ us: "nope", device, conn }), /Invalid peer name 'nope'/);
  assert.throws(
    () => new Sleeve({ us: peerName(0), device, conn, maxDatagram: 100 }),
    /Invalid maxDatagram '100'/,
  );
  const s = new Sleeve({ us: peerName(0), device, conn });
  try {
    const ep = endpoint("10.0.0.2", 1);
    assert.throws(
      () => s.setPeer(peerName(0), { endpoint: ep }),
      /Cannot set peer '02:00:00:00:01:00': it is this peer/,
    );
    assert.throws(
      () => s.setPeer(peerName(1), { endpoint: ep, sessionKey: new Uint8Array(5) }),
      /5 bytes, expected 32/,
    );
    assert.throws(
      () => s.setPeer(peerName(1), { endpoint: endpoint("fd00::2", 1) }),
      /at \[fd00::2\]:1: the sleeve socket 10\.0\.0\.1:1 is IPv4; use an IPv4 endpoint/,
    );
    assert.throws(
      () => s.setPeer(peerName(1), { endpoint: ep, sessionKey: new Uint8Array(32) }),
      /with xsalsa20poly1305: the sleeve has no box for it; pass options\.box/,
    );
    assert.throws(
      () => s.setRoutes({ unicast: new Map([["x", peerName(1)]]), broadcast: new Map() }),
      /Invalid peer name 'x'/,
    );
  } finally {
    s.close();
  }
});

Deno.test("Sleeve.run() moves frames on its own and ends on close()", async () => {
  const bench = new Bench(2, [[0, 1]]);
  const runs = bench.nodes.map((n) => n.sleeve.run());
  try {
    bench.nodes[0].bridge.write([frame(BROADCAST_MAC, mac(0), "async")]);
    await bench.nodes[1].bridge.readable(2000);
    assert.deepEqual(texts(bench)[1], ["async"]);
  } finally {
    bench.close();
    await Promise.all(runs);
  }
});

/** The SyscallError udp.ts throws for EMSGSIZE, built without libc (these tests run without FFI). */
function emsgsize(): SyscallError {
  return Object.assign(Object.create(SyscallError.prototype), {
    errno: 90,
    code: "EMSGSIZE",
    message: "too big",
  });
}

/** An IPv4 frame whose IP packet is `ipLength` bytes, DF set or not. */
function ipv4Frame(dst: Uint8Array, src: Uint8Array, ipLength: number, df: boolean): Uint8Array {
  const f = new Uint8Array(14 + ipLength);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  f[14] = 0x45;
  f[16] = ipLength >> 8;
  f[17] = ipLength & 0xff;
  f[20] = df ? 0x40 : 0;
  f[22] = 64;
  f[23] = 17;
  f.set([10, 32, 0, 1], 26);
  f.set([10, 32, 0, 2], 30);
  return f;
}

Deno.test("Sleeve.setFastPeers() leaves fastdp neighbours to VXLAN: every bridge gets each flood exactly once", () => {
  const rnd = new SeededRandom(0xfa57);
  for (let round = 0; round < 20; round++) {
    const bench = new Bench(5, MESH);
    try {
      bench.settle();
      // A random symmetric set of fastdp pairs among the links; the kernel VXLAN is modelled by hand below.
      const fast = MESH.filter(() => rnd.next() < 0.5);
      const fastOf = (i: number) => fast.flatMap(([a, b]) => a === i ? [b] : b === i ? [a] : []);
      for (let i = 0; i < 5; i++) bench.nodes[i].sleeve.setFastPeers(fastOf(i).map(peerName));
      for (let src = 0; src < 5; src++) {
        for (const kind of ["broadcast", "unknown"]) {
          const dst = kind === "broadcast" ? BROADCAST_MAC : mac(99);
          bench.nodes[src].bridge.write([frame(dst, mac(src), `${kind}${src}`)]);
          bench.settle();
          const got = texts(bench);
          for (const f of fastOf(src)) got[f].push(`${kind}${src}`); // VXLAN's copy
          for (let i = 0; i < 5; i++) {
            assert.deepEqual(
              got[i],
              i === src ? [] : [`${kind}${src}`],
              `round ${round} ${kind} ${src} at ${i}`,
            );
          }
        }
      }
      // Known unicast to a MAC behind a fastdp neighbour is VXLAN's; behind a sleeve peer it stays in the sleeve.
      for (let src = 0; src < 5; src++) {
        for (let to = 0; to < 5; to++) {
          if (to === src) continue;
          bench.nodes[src].bridge.write([frame(mac(to), mac(src), `u${src}>${to}`)]);
          bench.settle();
          const got = texts(bench);
          const viaVxlan = fastOf(src).includes(to);
          assert.deepEqual(got[to], viaVxlan ? [] : [`u${src}>${to}`], `round ${round} unicast ${src}→${to}`);
        }
        // A frame left to VXLAN for a MAC the sleeve knows is reported (the bridge may hold a stale entry on
        // the sleeve's port); nothing else is.
        for (const e of bench.nodes[src].events) {
          if (e.type !== "leftToFastdp") continue;
          const to = fastOf(src).find((p) => peerName(p) === e.peer);
          assert.ok(to !== undefined, `round ${round}: ${src} reported ${e.peer}, not a fastdp neighbour`);
          assert.equal(e.mac, `02:00:00:00:00:0${to}`);
        }
      }
    } finally {
      bench.close();
    }
  }
});

Deno.test("Sleeve reports frames it leaves to VXLAN once per MAC per FASTDP_MAC_REPORT_MS, in bounded memory", async () => {
  const bench = new Bench(2, [[0, 1]]);
  try {
    bench.settle();
    bench.nodes[1].bridge.write([frame(BROADCAST_MAC, mac(1), "hello")]); // node 0 learns mac(1) behind 1
    bench.settle();
    bench.nodes[0].sleeve.setFastPeers([peerName(1)]);
    const reports = () => bench.nodes[0].events.filter((e) => e.type === "leftToFastdp").length;
    for (let i = 0; i < 50; i++) bench.nodes[0].bridge.write([frame(mac(1), mac(0), `u${i}`)]);
    bench.settle();
    assert.equal(reports(), 1, "a burst is reported once");
    await bench.run(FASTDP_MAC_REPORT_MS);
    bench.nodes[0].bridge.write([frame(mac(1), mac(0), "later")]);
    bench.settle();
    assert.equal(reports(), 2, "and again once the interval passed");
    assert.deepEqual(texts(bench)[1], [], "nothing went over the sleeve");
    // Many MACs behind the fastdp peer (spoofed or real): memory stays bounded, each is reported.
    const many = FASTDP_MAC_REPORT_LIMIT * 3;
    for (let i = 0; i < many; i++) {
      const m = Uint8Array.of(2, 1, 0, 0, i >> 8, i & 0xff);
      bench.nodes[1].bridge.write([frame(BROADCAST_MAC, m, "x")]);
      bench.settle();
      bench.nodes[0].bridge.write([frame(m, mac(0), "y")]);
    }
    bench.settle();
    assert.equal(reports(), 2 + many);
  } finally {
    bench.close();
  }
});

Deno.test("Sleeve cuts super-frames to the path, coalesces them on offload devices; other frames keep the link MTU", () => {
  // Line 0-1-2-3; the devices of 0, 1 and 2 have offloads, 3's has not. Both plain and sealed links.
  for (const sealed of [false, true]) {
    const bench = new Bench(4, LINE, { offload: [0, 1, 2], sealed });
    const vnet = (flags: number, gsoType: number, gsoSize = 0) => {
      const h = new Uint8Array(10);
      writeVnetHeader({ flags, gsoType, hdrLen: 54, gsoSize, csumStart: 34, csumOffset: 16 }, h);
      return h;
    };
    const withHeader = (h: Uint8Array, f: Uint8Array) => {
      const out = new Uint8Array(10 + f.length);
      out.set(h);
      out.set(f, 10);
      return out;
    };
    const plain = new Uint8Array(10);
    try {
      bench.settle();
      bench.nodes[3].bridge.write([frame(BROADCAST_MAC, mac(3), "from 3")]);
      bench.nodes[2].bridge.write([withHeader(plain, frame(BROADCAST_MAC, mac(2), "from 2"))]);
      bench.settle();
      const learned = bench.received();
      assert.deepEqual(learned[0].map((f) => [...f.subarray(0, 10)]), [[...plain], [...plain]]);
      assert.deepEqual(learned[0].map((f) => payloadOf(f.subarray(10))).sort(), ["from 2", "from 3"]);
      assert.deepEqual(learned[3].map(payloadOf), ["from 2"], "a device without offloads gets bare frames");

      const sizes: number[] = [];
      bench.nodes[0].conn.onSend = (d) => (sizes.push(d.length), true);
      const link = bench.nodes[0].sleeve.stats().links[0];
      const rnd = new SeededRandom(0x6501);
      const payload = rnd.bytes(30_000);
      for (const to of [2, 3]) {
        const flow = { ...randomFlow(rnd, false), df: true };
        flow.macs = new Uint8Array([...mac(to), ...mac(0)]);
        bench.nodes[0].bridge.write([superFrame(flow, 1000, 0x18, 7, payload, 1324)]);
        bench.settle();
        const got = bench.received()[to];
        // 2 gets partial checksums (NEEDS_CSUM: 0 and the relay 1 sent them so, and its kernel completes them);
        // 3, without offloads, gets complete ones (the relay 2 summed them, as 3 did not offer partial ones).
        const frames = to === 3 ? got : got.map(completed);
        if (to === 2) assert.ok(got.every((f) => f[0] === 1), "NEEDS_CSUM on every frame to 2");
        frames.forEach((f) => assert.equal(frameProblem(f), undefined));
        const bytes = frames.flatMap((f) => {
          const p = parse(f);
          return [...f.subarray(p.payload, p.end)];
        });
        assert.deepEqual(new Uint8Array(bytes), payload, `the payload arrives at ${to} whole and in order`);
        if (to === 3) {
          assert.ok(frames.every((f) => f.length <= 14 + link.mtu), "bare segments within the MTU");
        } else assert.ok(frames.length < 23, `${frames.length} frames: coalesced back into super-frames`);
      }
      assert.ok(sizes.length >= 8 && sizes.every((n) => n <= link.maxDatagram), `datagrams ${sizes}`);
      assert.equal(bench.nodes[0].sleeve.stats().superFramesCut, 2);
      assert.ok(bench.nodes[2].sleeve.stats().superFramesCoalesced >= 1);

      const partial = withHeader(vnet(1, 0), ipv4Frame(mac(2), mac(0), link.mtu + 1, true));
      bench.nodes[0].bridge.write([partial]);
      bench.settle();
      const [at0, , at2] = bench.received();
      assert.deepEqual(at2, [], "the too-big frame that is not a super-frame does not cross");
      assert.equal(at0.length, 1, "it is answered with ICMP");
      assert.deepEqual([...at0[0].subarray(0, 10)], [...plain]);
      assert.deepEqual([at0[0][10 + 34], at0[0][10 + 35]], [3, 4]);
      assert.equal(bench.nodes[0].sleeve.stats().drops.tooBig, 1);
      assert.equal(bench.nodes[1].sleeve.stats().framesRelayed >= 46, true);
    } finally {
      bench.close();
    }
  }
});

Deno.test("Sleeve sends a wakeup's datagrams to one link in one UDP GSO send; EMSGSIZE lowers the path, EINVAL turns GSO off", () => {
  for (const sealed of [false, true]) {
    const bench = new Bench(2, [[0, 1]], { gso: [0], sealed, maxDatagram: 1500, offload: [0] });
    const conn = bench.nodes[0].conn as GsoConn;
    try {
      bench.settle();
      bench.nodes[1].bridge.write([frame(BROADCAST_MAC, mac(1), "hello")]);
      bench.settle();
      bench.received();
      const rnd = new SeededRandom(0x650);
      const flow = { ...randomFlow(rnd, false), df: true };
      flow.macs = new Uint8Array([...mac(1), ...mac(0)]);
      const send = (payload: Uint8Array) => {
        bench.nodes[0].bridge.write([superFrame(flow, 1, 0x10, 1, payload, 1300)]);
        bench.settle();
        return bench.received()[1].flatMap((f) => {
          const p = parse(f);
          return [...f.subarray(p.payload, p.end)];
        });
      };
      const payload = rnd.bytes(20_000);
      assert.deepEqual(new Uint8Array(send(payload)), payload);
      assert.equal(conn.sends, 1, "one GSO send for the wakeup");
      assert.ok(conn.datagrams >= 15, `${conn.datagrams} datagrams in it`);
      assert.equal(bench.nodes[0].sleeve.stats().gsoSends, 1);

      const before = bench.nodes[0].sleeve.stats();
      conn.gsoErrno = 90; // EMSGSIZE: the path is smaller than the datagrams
      assert.deepEqual(send(payload), []);
      const after = bench.nodes[0].sleeve.stats();
      assert.ok(after.drops.tooBig > before.drops.tooBig);
      assert.ok(after.links[0].maxDatagram < before.links[0].maxDatagram, "the PMTU search learned it");

      conn.gsoErrno = 22; // EINVAL: no GSO here; this batch and later ones go datagram by datagram
      assert.deepEqual(new Uint8Array(send(payload)), payload);
      assert.deepEqual(new Uint8Array(send(payload)), payload);
      assert.equal(bench.nodes[0].sleeve.stats().gsoSends, 1);
    } finally {
      bench.close();
    }
  }
});

Deno.test("Sleeve completes partial checksums a peer sent anyway when its device has no offloads", () => {
  // Node 0 (offloads) sends partial checksums to node 1 although 1 (no offloads) did not offer them, as a
  // peer with a wrong idea of 1 would: 1 completes them before its device takes the bare frames.
  const bench = new Bench(2, [[0, 1]], { offload: [0] });
  try {
    bench.nodes[0].sleeve.setPeer(peerName(1), {
      endpoint: bench.nodes[1].conn.local,
      partialChecksums: true,
    });
    bench.settle();
    bench.nodes[1].bridge.write([frame(BROADCAST_MAC, mac(1), "hello")]);
    bench.settle();
    bench.received();
    const rnd = new SeededRandom(0x651);
    const flow = { ...randomFlow(rnd, false), df: true, macs: new Uint8Array([...mac(1), ...mac(0)]) };
    const payload = rnd.bytes(12_000);
    bench.nodes[0].bridge.write([superFrame(flow, 5, 0x18, 1, payload, 1300)]);
    bench.settle();
    const got = bench.received()[1];
    assert.ok(got.length >= 9, `${got.length} segments`);
    got.forEach((f) => assert.equal(frameProblem(f), undefined, "a complete checksum"));
    assert.deepEqual(new Uint8Array(got.flatMap((f) => [...f.subarray(parse(f).payload)])), payload);
    assert.equal(bench.nodes[1].sleeve.stats().drops.offload, 0);
  } finally {
    bench.close();
  }
});
