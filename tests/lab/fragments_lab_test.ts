/**
 * `meshnet lab frags drop|allow` on real namespaces: with fragments dropped, a UDP datagram larger than the
 * underlay MTU (sent fragmentable) no longer arrives while small ones do, and the lab's counter shows the
 * dropped fragments; allowed again, the large one arrives.
 */
import assert from "node:assert/strict";
import { openUdp, type UdpConn } from "../../ffi/udp.ts";
import type { Endpoint } from "../../ffi/packet_conn.ts";
import { withLab } from "../../src/lab/with_lab.ts";

/** Runs `./meshnet lab ARGS`, failing the test on a non-zero exit; returns stdout. */
async function cli(...args: string[]): Promise<string> {
  const r = await new Deno.Command("./meshnet", { args: ["lab", ...args], stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  assert.equal(r.code, 0, dec.decode(r.stderr));
  return dec.decode(r.stdout);
}

/**
 * The sizes of the datagrams that arrive at `rx` until `count` did (at most 10 s), and any more within 300 ms
 * after (the large datagram is sent before the last small one on one FIFO path, so it would be in by then).
 */
async function arrivals(rx: UdpConn, count: number): Promise<number[]> {
  const bufs = [new Uint8Array(65536)], sizes: number[] = [], srcs: Endpoint[] = [], got: number[] = [];
  const deadline = Date.now() + 10_000;
  let until = deadline;
  while (Date.now() < until) {
    if (rx.receive(bufs, sizes, srcs) === 1) {
      got.push(sizes[0]);
      if (got.length === count) until = Date.now() + 300;
    } else await rx.readable(Math.max(1, until - Date.now()));
  }
  return got;
}

Deno.test("meshnet lab frags drop: large (fragmented) UDP datagrams stop, small ones pass, the counter shows it", async () => {
  await withLab({ hosts: 2 }, async (lab) => {
    const tx = openUdp(lab.host(1).address, 0, { netns: lab.host(1).ns });
    const rx = openUdp(lab.host(2).address, 0, { netns: lab.host(2).ns });
    const small = new Uint8Array(500), large = new Uint8Array(4000);
    try {
      const send = () => {
        assert.equal(tx.send([small, large, small], rx.local, true), 3);
      };
      send();
      assert.deepEqual(await arrivals(rx, 3), [500, 4000, 500], "fragments allowed: all arrive");

      assert.match(await cli("frags", "drop", "--prefix", lab.prefix), /IP fragments dropped/);
      assert.match(await cli("status", "--prefix", lab.prefix), /IP fragments: dropped/);
      send();
      assert.deepEqual(await arrivals(rx, 2), [500, 500], "fragments dropped: only the small ones arrive");
      // 4000 bytes over a 1500-byte MTU leave as 3 fragments: the first (MF set) and two with an offset.
      assert.equal(await lab.fragmentsDropped(), 3);

      assert.match(await cli("frags", "allow", "--prefix", lab.prefix), /IP fragments allowed/);
      send();
      assert.deepEqual(await arrivals(rx, 3), [500, 4000, 500], "allowed again: all arrive");
      assert.equal(await lab.fragmentsDropped(), 0, "the counter restarts with the table");
    } finally {
      tx.close();
      rx.close();
    }
  });
});
