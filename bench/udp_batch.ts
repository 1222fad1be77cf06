/**
 * Benchmark of the ways ffi/udp.ts moves datagrams: per-datagram sendto(2) vs sendmmsg(2) vs UDP GSO
 * (sendmsg + UDP_SEGMENT), and recvfrom(2) vs recvmmsg(2) vs UDP GRO (recvmmsg into 64 KiB buffers) — the
 * sleeve's choice for carrying a segmented 64 KiB TCP super-frame.
 *
 * Flow: two throwaway namespaces joined by a veth pair (MTU 1500, like the lab underlay), one socket pair per
 * receive mode, all in this process. A burst is {@link BURST} datagrams of {@link SIZE} bytes (one GSO send);
 * each burst is sent by one send mode, then drained by one receive mode, timing both phases. Every
 * combination runs {@link BURSTS} bursts per round, rounds interleaved so load spikes spread evenly; the
 * median round is reported as ns per datagram and as a ratio to sendto + recvfrom of the same run, with
 * the CPU time of the whole combination, and the load average.
 *
 * Run: `bash scripts/deno.sh run --allow-ffi --allow-read --allow-run --allow-env --allow-sys bench/udp_batch.ts`
 * (as root: it builds namespaces).
 *
 * @module
 */
import process from "node:process";
import { openUdp, type UdpConn } from "../ffi/udp.ts";
import type { Endpoint } from "../ffi/packet_conn.ts";

/** Datagrams per burst (one GSO send) and their size: a 56 KB super-frame cut for a 1500-byte path. */
const BURST = 40, SIZE = 1400;
/** Bursts per measured round, and rounds per combination (the median round is reported). */
const BURSTS = 150, ROUNDS = 5;

const PREFIX = `mnb-udp${Deno.pid}-`;
const A = `${PREFIX}a`, B = `${PREFIX}b`;

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

type Sender = (conn: UdpConn, to: Endpoint) => void;
type Receiver = (conn: UdpConn) => number;

const datagrams = Array.from({ length: BURST }, (_, i) => new Uint8Array(SIZE).fill(i));
const joined = new Uint8Array(BURST * SIZE);
datagrams.forEach((d, i) => joined.set(d, i * SIZE));

const senders: Record<string, Sender> = {
  sendto: (c, to) => must(c.send(datagrams, to), BURST),
  sendmmsg: (c, to) => must(c.sendBatch(datagrams, to), BURST),
  gso: (c, to) => must(c.sendSegments(joined, joined.length, SIZE, to) ? BURST : 0, BURST),
};

const small = Array.from({ length: 64 }, () => new Uint8Array(2048));
const big = Array.from({ length: 8 }, () => new Uint8Array(65536));
const sizes: number[] = [], segs: number[] = [], srcs: Endpoint[] = [];
/** Receives until a whole burst arrived; returns the system calls made. */
const receivers: Record<string, Receiver> = {
  recvfrom: (c) => drain(() => c.receive(small, sizes, srcs)),
  recvmmsg: (c) => drain(() => c.receiveBatch(small, sizes, srcs)),
  gro: (c) =>
    drain(() => {
      const n = c.receiveBatch(big, sizes, srcs, segs);
      let count = 0;
      for (let i = 0; i < n; i++) count += Math.ceil(sizes[i] / segs[i]);
      return count;
    }),
};

function must(sent: number, want: number): void {
  if (sent !== want) throw new Error(`Sent ${sent} of ${want} datagrams: the socket buffer filled`);
}

/** Calls `receive` (returning datagrams got) until a burst arrived, spinning on an empty socket. */
function drain(receive: () => number): number {
  let got = 0, spins = 0;
  while (got < BURST) {
    const n = receive();
    got += n;
    if (n === 0 && ++spins > 5_000_000) throw new Error(`Burst lost: ${got} of ${BURST} datagrams arrived`);
  }
  return got;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await ip("netns", "add", A);
try {
  await ip("netns", "add", B);
  await ip("-n", A, "link", "add", "v", "type", "veth", "peer", "name", "v", "netns", B);
  for (const [ns, addr] of [[A, "198.19.0.1/24"], [B, "198.19.0.2/24"]]) {
    await ip("-n", ns, "addr", "add", addr, "dev", "v");
    await ip("-n", ns, "link", "set", "v", "mtu", "1500", "up");
  }
  const tx = openUdp("198.19.0.1", 0, { netns: A, dontFragment: true, batchSize: 64 });
  const rx = {
    plain: openUdp("198.19.0.2", 0, { netns: B }),
    gro: openUdp("198.19.0.2", 0, { netns: B, gro: true }),
  };
  try {
    const combos: [string, string][] = [];
    for (const s of Object.keys(senders)) for (const r of Object.keys(receivers)) combos.push([s, r]);
    const results = new Map(
      combos.map((
        [s, r],
      ) => [`${s}+${r}`, { send: [] as number[], recv: [] as number[], cpu: [] as number[] }]),
    );
    const load0 = Deno.loadavg();
    for (let round = 0; round < ROUNDS + 1; round++) {
      for (const [s, r] of round % 2 ? [...combos].reverse() : combos) {
        const conn = r === "gro" ? rx.gro : rx.plain, send = senders[s], receive = receivers[r];
        let sendMs = 0, recvMs = 0;
        const cpu0 = process.cpuUsage();
        for (let b = 0; b < BURSTS; b++) {
          const t0 = performance.now();
          send(tx, conn.local);
          const t1 = performance.now();
          receive(conn);
          recvMs += performance.now() - t1;
          sendMs += t1 - t0;
        }
        const cpu = process.cpuUsage(cpu0);
        if (round === 0) continue; // warm-up
        const per = (ms: number) => ms * 1e6 / (BURSTS * BURST);
        const res = results.get(`${s}+${r}`)!;
        res.send.push(per(sendMs));
        res.recv.push(per(recvMs));
        res.cpu.push((cpu.user + cpu.system) * 1e3 / (BURSTS * BURST));
      }
    }
    const load1 = Deno.loadavg();
    const base = results.get("sendto+recvfrom")!;
    const [bs, br, bc] = [median(base.send), median(base.recv), median(base.cpu)];
    console.log(
      `machine: kernel ${Deno.osRelease()}, 2 shared cores, load average ${
        load0.map((x) => x.toFixed(2)).join(" ")
      }` +
        ` → ${load1.map((x) => x.toFixed(2)).join(" ")}`,
    );
    console.log(
      `veth pair MTU 1500; bursts of ${BURST} × ${SIZE}-byte datagrams, ${BURSTS} bursts per round, median of ${ROUNDS} rounds`,
    );
    console.log(
      "| send + receive | send ns/dgram (× sendto) | receive ns/dgram (× recvfrom) | CPU ns/dgram (× baseline) |",
    );
    console.log("|---|---|---|---|");
    for (const [key, r] of results) {
      const [s, v, c] = [median(r.send), median(r.recv), median(r.cpu)];
      console.log(
        `| ${key} | ${s.toFixed(0)} (${(s / bs).toFixed(2)}) | ${v.toFixed(0)} (${(v / br).toFixed(2)}) | ` +
          `${c.toFixed(0)} (${(c / bc).toFixed(2)}) |`,
      );
    }
  } finally {
    tx.close();
    rx.plain.close();
    rx.gro.close();
  }
} finally {
  await ip("netns", "del", A).catch(() => {});
  await ip("netns", "del", B).catch(() => {});
}
