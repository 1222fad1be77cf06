import assert from "node:assert/strict";
import { openUdp, type UdpConn } from "../../ffi/udp.ts";
import type { Endpoint } from "../../ffi/packet_conn.ts";
import { SyscallError } from "../../ffi/libc.ts";
import { removeOrphanedNamespaces } from "../orphaned_namespaces.ts";

const NS = `mnt-udpb-${Deno.pid}`;

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Runs `fn` with a fresh namespace whose loopback is up (MTU 1500, like an underlay), then deletes it. */
async function inNetns(fn: () => Promise<void>): Promise<void> {
  await removeOrphanedNamespaces();
  await ip("netns", "add", NS);
  try {
    await ip("-n", NS, "link", "set", "lo", "mtu", "1500", "up");
    await fn();
  } finally {
    await ip("netns", "del", NS);
  }
}

/**
 * Receives with recvmmsg until `count` datagrams arrived, splitting coalesced (GRO) buffers at their segment
 * size; returns the datagrams and how many buffers carried them.
 */
async function receiveSplit(conn: UdpConn, count: number, from: Endpoint): Promise<[Uint8Array[], number]> {
  const bufs = Array.from({ length: 8 }, () => new Uint8Array(65536));
  const sizes: number[] = [], segs: number[] = [], srcs: Endpoint[] = [];
  const got: Uint8Array[] = [];
  let buffers = 0;
  while (got.length < count) {
    const n = conn.receiveBatch(bufs, sizes, srcs, segs);
    if (n === 0) assert.ok(await conn.readable(1000), `timed out after ${got.length} of ${count} datagrams`);
    for (let i = 0; i < n; i++) {
      assert.equal(srcs[i].key, from.key);
      assert.ok(segs[i] > 0 && segs[i] <= sizes[i], `segment size ${segs[i]} of a ${sizes[i]}-byte buffer`);
      for (let at = 0; at < sizes[i]; at += segs[i]) {
        got.push(bufs[i].slice(at, Math.min(at + segs[i], sizes[i])));
      }
      buffers++;
    }
  }
  return [got, buffers];
}

/** `count` datagrams of `size` bytes then one of `tail`, each filled with its index, and them back to back. */
function batch(count: number, size: number, tail: number): [Uint8Array[], Uint8Array] {
  const dgs = Array.from({ length: count }, (_, i) => new Uint8Array(size).fill(i + 1));
  if (tail > 0) dgs.push(new Uint8Array(tail).fill(0xee));
  const joined = new Uint8Array(dgs.reduce((n, d) => n + d.length, 0));
  let at = 0;
  for (const d of dgs) joined.set(d, (at += d.length) - d.length);
  return [dgs, joined];
}

for (const address of ["127.0.0.1", "::1"]) {
  Deno.test(`UdpConn.sendSegments() (UDP GSO) keeps datagram boundaries, received with and without GRO (${address})`, async () => {
    await inNetns(async () => {
      const tx = openUdp(address, 0, { netns: NS, dontFragment: true });
      const plain = openUdp(address, 0, { netns: NS });
      const gro = openUdp(address, 0, { netns: NS, gro: true });
      try {
        const [dgs, joined] = batch(50, 1200, 333);
        for (const rx of [plain, gro]) {
          assert.equal(tx.sendSegments(joined, joined.length, 1200, rx.local), true);
          const [got, buffers] = await receiveSplit(rx, dgs.length, tx.local);
          assert.deepEqual(got, dgs, "every datagram, in order, with its own boundaries");
          if (rx === plain) assert.equal(buffers, dgs.length, "no GRO: one datagram per buffer");
          else {assert.ok(
              buffers < dgs.length,
              `GRO coalesced ${dgs.length} datagrams into ${buffers} buffers`,
            );}
        }
        // Too many segments for one GSO send: a clear error, the caller falls back to sendBatch.
        const [, tooMany] = batch(200, 100, 0);
        assert.throws(
          () => tx.sendSegments(tooMany, tooMany.length, 100, plain.local),
          (e: unknown) => e instanceof SyscallError && /UDP GSO/.test(e.message),
        );
        // A segment above the path MTU on a Don't Fragment socket is refused, not fragmented.
        assert.throws(() => tx.sendSegments(joined, 4000, 2000, plain.local), /EMSGSIZE|EINVAL/);
      } finally {
        tx.close();
        plain.close();
        gro.close();
      }
    });
  });
}

Deno.test("UdpConn.sendBatch() (sendmmsg) and receiveBatch() (recvmmsg) carry batches larger than one call", async () => {
  await inNetns(async () => {
    const tx = openUdp("127.0.0.1", 0, { netns: NS, batchSize: 16 });
    const rx = openUdp("127.0.0.1", 0, { netns: NS });
    try {
      const dgs = Array.from({ length: 100 }, (_, i) => new Uint8Array(1 + i * 13).fill(i));
      assert.equal(tx.sendBatch(dgs, rx.local), 100);
      const [got, buffers] = await receiveSplit(rx, 100, tx.local);
      assert.deepEqual(got, dgs);
      assert.equal(buffers, 100);
      assert.equal(rx.receiveBatch([new Uint8Array(64)], [], []), 0, "drained");
      assert.throws(() => tx.sendBatch([new Uint8Array(1)], { ...rx.local, family: 6 }), /families differ/);
    } finally {
      tx.close();
      rx.close();
    }
  });
});
