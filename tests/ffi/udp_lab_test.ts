import assert from "node:assert/strict";
import { openUdp, type UdpConn } from "../../ffi/udp.ts";
import { type Endpoint, endpoint } from "../../ffi/packet_conn.ts";
import { SyscallError } from "../../ffi/libc.ts";
import { BlockingPoll } from "../../ffi/fd_poller.ts";
import { removeOrphanedNamespaces } from "../orphaned_namespaces.ts";

const NS = `mnt-tap-udp-${Deno.pid}`;

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Runs `fn` with a fresh namespace whose loopback is up, deleting the namespace afterwards. */
async function inNetns(fn: () => Promise<void>): Promise<void> {
  await removeOrphanedNamespaces();
  await ip("netns", "add", NS);
  try {
    await ip("-n", NS, "link", "set", "lo", "up");
    await fn();
  } finally {
    await ip("netns", "del", NS);
  }
}

/** Receives `count` datagrams (waiting up to 1 s each), returning copies and their sources. */
async function receiveAll(conn: UdpConn, count: number): Promise<{ data: Uint8Array[]; from: Endpoint[] }> {
  const bufs = Array.from({ length: 4 }, () => new Uint8Array(2048)),
    sizes: number[] = [],
    srcs: Endpoint[] = [];
  const data: Uint8Array[] = [], from: Endpoint[] = [];
  while (data.length < count) {
    const n = conn.receive(bufs, sizes, srcs);
    for (let i = 0; i < n; i++) {
      data.push(bufs[i].slice(0, sizes[i]));
      from.push(srcs[i]);
    }
    if (n === 0) assert.ok(await conn.readable(1000), `timed out after ${data.length} of ${count} datagrams`);
  }
  return { data, from };
}

async function exchange(address: string): Promise<void> {
  const a = openUdp(address, 0, { netns: NS }), b = openUdp(address, 0, { netns: NS, batchSize: 8 });
  try {
    assert.notEqual(a.local.port, 0);
    assert.equal(b.batchSize, 8);
    const packets = Array.from({ length: 10 }, (_, i) => new Uint8Array(100 + i).fill(i));
    assert.equal(a.send(packets, b.local), 10);
    const { data, from } = await receiveAll(b, 10);
    assert.deepEqual(data, packets);
    assert.ok(from.every((ep) => ep === from[0]), "sources are interned: one object per sender");
    assert.equal(from[0].key, a.local.key);
    assert.equal(b.receive([new Uint8Array(8)], [], []), 0, "the socket is drained");
    assert.equal(b.send([new Uint8Array([7])], from[0]), 1, "a received source can be answered");
    assert.deepEqual((await receiveAll(a, 1)).data, [new Uint8Array([7])]);
  } finally {
    a.close();
    b.close();
  }
}

Deno.test("openUdp() sends and receives batches over IPv4 and IPv6 loopback inside a netns", async () => {
  await inNetns(async () => {
    await exchange("127.0.0.1");
    await exchange("::1");
  });
});

Deno.test("UdpConn.send() on a Don't Fragment socket: EMSGSIZE above the MTU, fragmentable sends arrive whole", async () => {
  await inNetns(async () => {
    await ip("-n", NS, "link", "set", "lo", "mtu", "1500");
    const a = openUdp("127.0.0.1", 0, { netns: NS, dontFragment: true });
    const b = openUdp("127.0.0.1", 0, { netns: NS });
    try {
      const big = new Uint8Array(30_000).map((_, i) => i);
      assert.throws(
        () => a.send([big], b.local),
        (e: unknown) => e instanceof SyscallError && e.code === "EMSGSIZE",
      );
      assert.equal(a.send([big], b.local, true), 1);
      assert.equal(a.send([big.subarray(0, 100)], b.local), 1, "back to Don't Fragment for small datagrams");
      assert.throws(() => a.send([big], b.local), /EMSGSIZE/);
      const got: Uint8Array[] = [], bufs = [new Uint8Array(65536), new Uint8Array(65536)], sizes = [0, 0];
      while (got.length < 2) {
        assert.ok(await b.readable(1000), `timed out after ${got.length} of 2 datagrams`);
        const n = b.receive(bufs, sizes, []);
        for (let i = 0; i < n; i++) got.push(bufs[i].slice(0, sizes[i]));
      }
      assert.deepEqual(got, [big, big.subarray(0, 100)], "the big one reassembled whole");
    } finally {
      a.close();
      b.close();
    }
  });
});

Deno.test("UdpConn.readable() times out, and close() wakes a pending wait", async () => {
  await inNetns(async () => {
    const a = openUdp("127.0.0.1", 0, { netns: NS });
    assert.equal(await a.readable(10), false);
    const waiting = a.readable();
    await assert.rejects(() => a.readable(0), Deno.errors.Busy);
    a.close();
    assert.equal(await waiting, false);
    assert.throws(() => a.receive([new Uint8Array(8)], [], []), Deno.errors.BadResource);
    assert.throws(() => a.send([new Uint8Array(8)], a.local), /closed/);
    a.close();
  });
});

Deno.test("UdpConn.pollFd: a BlockingPoll over it wakes when a datagram is queued; −1 after close", async () => {
  await inNetns(async () => {
    const a = openUdp("127.0.0.1", 0, { netns: NS }), b = openUdp("127.0.0.1", 0, { netns: NS });
    try {
      assert.ok(b.pollFd >= 0);
      const poll = new BlockingPoll([b.pollFd]);
      assert.equal(poll.wait(0), false);
      assert.equal(a.send([new Uint8Array([7])], b.local), 1);
      assert.equal(poll.wait(1000), true, "the datagram did not wake the wait");
      assert.equal((await receiveAll(b, 1)).data[0][0], 7);
      assert.equal(poll.wait(0), false, "drained: nothing left to read");
    } finally {
      a.close();
      b.close();
    }
    assert.equal(b.pollFd, -1);
  });
});

Deno.test("openUdp() names the value on bad input: address, port, port in use, missing address or netns", async () => {
  assert.throws(() => openUdp("198.18.0.300", 1), /Invalid IP address '198\.18\.0\.300'/);
  assert.throws(() => openUdp("127.0.0.1", 65536), /Invalid UDP port '65536' for 127\.0\.0\.1/);
  assert.throws(() => openUdp("127.0.0.1", 1, { batchSize: 0 }), /Invalid UDP batch size '0'/);
  assert.throws(() => openUdp("127.0.0.1", 1, { netns: "mnt-tap-no-such-ns" }), (e: unknown) => {
    assert.ok(e instanceof SyscallError);
    assert.match(e.message, /'mnt-tap-no-such-ns'/);
    return true;
  });
  await inNetns(async () => {
    const a = openUdp("127.0.0.1", 0, { netns: NS });
    try {
      assert.throws(() => openUdp("127.0.0.1", a.local.port, { netns: NS }), (e: unknown) => {
        assert.ok(e instanceof SyscallError);
        assert.equal(e.code, "EADDRINUSE");
        assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${a.local.port}.*pick another port`));
        return true;
      });
      assert.throws(() => openUdp("198.18.0.1", 6783, { netns: NS }), /198\.18\.0\.1:6783.*EADDRNOTAVAIL/);
      assert.throws(
        () => a.send([new Uint8Array(1)], endpoint("::1", 9)),
        /Cannot send to \[::1\]:9.*families differ/,
      );
      await ip("-n", NS, "link", "set", "lo", "down");
      assert.throws(() => a.send([new Uint8Array(1)], endpoint("10.1.2.3", 9)), /10\.1\.2\.3:9.*ENETUNREACH/);
    } finally {
      a.close();
    }
  });
});
