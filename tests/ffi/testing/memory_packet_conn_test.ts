import assert from "node:assert/strict";
import { MemoryNetwork } from "../../../ffi/testing/memory_packet_conn.ts";
import { type Endpoint, endpoint } from "../../../ffi/packet_conn.ts";

Deno.test("MemoryNetwork.listen() delivers datagrams with their source endpoint", async () => {
  const net = new MemoryNetwork();
  const a = net.listen("10.0.0.1", 6783), b = net.listen("10.0.0.2", 6783);
  assert.equal(a.send([new Uint8Array([1]), new Uint8Array([2, 2])], b.local), 2);
  assert.equal(await b.readable(0), true);
  const bufs = [new Uint8Array(10), new Uint8Array(10)], sizes = [0, 0], srcs: Endpoint[] = [];
  assert.equal(b.receive(bufs, sizes, srcs), 2);
  assert.deepEqual(sizes, [1, 2]);
  assert.equal(srcs[0].key, "10.0.0.1:6783");
  assert.equal(net.delivered, 2);
  assert.equal(b.receive(bufs, sizes, srcs), 0);
});

Deno.test("MemoryNetwork.listen() picks free ports for port 0 and refuses a bound address", () => {
  const net = new MemoryNetwork();
  const a = net.listen("fd00::1"), b = net.listen("fd00::1");
  assert.notEqual(a.local.port, b.local.port);
  assert.equal(a.local.key, `[fd00::1]:${a.local.port}`);
  net.listen("10.0.0.1", 6783);
  assert.throws(() => net.listen("10.0.0.1", 6783), /Cannot bind 10\.0\.0\.1:6783: address in use/);
  assert.throws(() => net.listen("10.0.0.300", 1), /Invalid IP address '10\.0\.0\.300'/);
  assert.throws(() => net.listen("10.0.0.1", 70000), /Invalid UDP port '70000' for 10\.0\.0\.1/);
  assert.throws(() => new MemoryNetwork({ loss: 2 }), /Invalid loss '2'/);
});

Deno.test("MemoryPacketConn drops to unbound or closed endpoints and refuses family mismatch", async () => {
  const net = new MemoryNetwork();
  const a = net.listen("10.0.0.1", 1), b = net.listen("10.0.0.2", 1);
  a.send([new Uint8Array(1)], endpoint("10.0.0.9", 1));
  assert.equal(net.dropped, 1);
  const waiting = b.readable();
  b.close();
  assert.equal(await waiting, false);
  a.send([new Uint8Array(1)], endpoint("10.0.0.2", 1));
  assert.equal(net.dropped, 2);
  assert.throws(() => b.send([], a.local), Deno.errors.BadResource);
  assert.throws(() => a.send([new Uint8Array(1)], endpoint("fd00::1", 1)), /address families differ/);
  net.listen("10.0.0.2", 1); // the port is free again after close
});

Deno.test("MemoryNetwork loss is seeded: the same seed drops the same datagrams, near the asked rate", () => {
  const run = (seed: number) => {
    const net = new MemoryNetwork({ loss: 0.3, seed, capacity: 100_000 });
    const a = net.listen("10.0.0.1", 1), b = net.listen("10.0.0.2", 1);
    const got: number[] = [];
    for (let i = 0; i < 2000; i++) a.send([new Uint8Array([i & 255, i >> 8])], b.local);
    const bufs = Array.from({ length: 2000 }, () => new Uint8Array(2)),
      sizes: number[] = [],
      srcs: Endpoint[] = [];
    const n = b.receive(bufs, sizes, srcs);
    for (let i = 0; i < n; i++) got.push(bufs[i][0] | (bufs[i][1] << 8));
    return got;
  };
  const x = run(7), y = run(7), z = run(8);
  assert.deepEqual(x, y);
  assert.notDeepEqual(x, z);
  assert.ok(x.length > 1250 && x.length < 1550, `kept ${x.length} of 2000 at 30 % loss`);
  assert.deepEqual(x, [...x].sort((p, q) => p - q), "order is kept");
});
