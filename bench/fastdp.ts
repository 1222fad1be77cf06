/**
 * Benchmark of meshnet's fast datapath: TCP throughput container to container, as a ratio of a kernel VXLAN
 * built by hand between the same two lab hosts in the same run (the setup of limits.md §2b).
 *
 * Flow: one lab of 2 hosts (full), 2 containers each. c1 of each host is attached by meshnet, whose pair runs
 * fastdp (the overlay MTU derived from the 1500-byte underlay: 1450); c2 of each host hangs off the hand-built
 * VXLAN (VNI 42, UDP 4789, its own bridge, MTU 1450, 10.99.0.H/24). iperf3 runs c1→c1 and c2→c2 with 1 and
 * 2 streams (the first second, slow start, omitted), the two paths interleaved run by run and in alternating
 * order so the shared cores' load hits both alike; the median of each is reported. Sequential.
 *
 * Run: `deno task bench:fastdp` (as root: it builds namespaces).
 *
 * @module
 */
import { type Lab, labContainerAddress, launchMeshnet, meshnet, withLab } from "../src/lab/mod.ts";
import { converge, mustExec, poll, report, Watched } from "../tests/overlay/lab_traffic.ts";

/** Seconds per iperf3 run and runs per path and stream count. */
const SECONDS = 4, RUNS = 5;
/** The hand-built VXLAN's MTU, as meshnet derives it: 1500 − 50. */
const MTU = 1450;
/** The goal: fastdp throughput / kernel VXLAN throughput. */
const GOAL = 0.95;

/** `ip -batch` lines that build the reference VXLAN on host `h` and its container c2's end. */
function referenceVxlan(lab: Lab, h: number): string {
  const me = lab.host(h).address, peer = lab.host(3 - h).address;
  return [
    `link add refvx type vxlan id 42 dstport 4789 local ${me} remote ${peer} dev eth0`,
    `link add refbr mtu ${MTU} type bridge`,
    `link set refvx mtu ${MTU} master refbr up`,
    `link add refc mtu ${MTU} type veth peer name eth0 netns ${lab.ns(`h${h}c2`)}`,
    `link set refc master refbr up`,
    `link set refbr up`,
  ].join("\n") + "\n";
}

async function buildReference(lab: Lab): Promise<void> {
  for (const h of [1, 2]) {
    const file = await Deno.makeTempFile({ prefix: "mnt-fastdp-" });
    try {
      await Deno.writeTextFile(file, referenceVxlan(lab, h));
      await mustExec(lab, `h${h}`, ["ip", "-batch", file]);
    } finally {
      await Deno.remove(file);
    }
    await mustExec(lab, `h${h}c2`, ["ip", "link", "set", "eth0", "mtu", String(MTU), "up"]);
    await mustExec(lab, `h${h}c2`, ["ip", "addr", "add", `10.99.0.${h}/24`, "dev", "eth0"]);
  }
  await mustExec(lab, "h1c2", ["ping", "-c1", "-W2", "10.99.0.2"]);
}

/** Received Gbit/s of one iperf3 run from `from` to `address` with `streams` streams. */
async function gbps(lab: Lab, from: string, address: string, streams: number): Promise<number> {
  const json = await mustExec(lab, from, [
    "iperf3",
    "-c",
    address,
    "-t",
    `${SECONDS}`,
    "-P",
    `${streams}`,
    "-J",
  ]);
  return JSON.parse(json).end.sum_received.bits_per_second / 1e9;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await withLab({ hosts: 2, containers: 2, topology: "full" }, async (lab) => {
  const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`machine: kernel ${Deno.osRelease()}, load average ${load} (2 shared cores)`);
  await buildReference(lab);
  for (const h of [1, 2]) {
    await launchMeshnet(lab, h, ["--ipalloc-range", "10.48.0.0/12"]);
    const r = await meshnet(lab, h, ["attach", labContainerAddress(h, 1), lab.ns(`h${h}c1`)]);
    if (r.code !== 0) throw new Error(`Cannot attach h${h}c1: ${r.stderr.trim()}`);
  }
  await converge(lab, [["h1c1", "10.32.2.1"], ["h2c1", "10.32.1.1"]]);
  await poll(
    async () => (await report(lab, 1)).router.connections.every((c) => c.overlay === "fastdp") || undefined,
    20_000,
    () => "the pair did not reach fastdp",
  );
  const servers = [
    new Watched(lab, "h2c1", ["iperf3", "-s", "--forceflush", "-B", "10.32.2.1"]),
    new Watched(lab, "h2c2", ["iperf3", "-s", "--forceflush", "-B", "10.99.0.2"]),
  ];
  try {
    for (const s of servers) await s.until((w) => w.stdout.includes("Server listening"));
    const rows: string[] = [];
    const ratios: number[] = [];
    for (const streams of [1, 2]) {
      const fast: number[] = [], ref: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        // Alternate which path goes first, so a load spike does not always hit the same one.
        const pair = [
          async () => fast.push(await gbps(lab, "h1c1", "10.32.2.1", streams)),
          async () => ref.push(await gbps(lab, "h1c2", "10.99.0.2", streams)),
        ];
        for (const run of i % 2 ? pair.reverse() : pair) await run();
      }
      const ratio = median(fast) / median(ref), best = Math.max(...fast) / Math.max(...ref);
      ratios.push(ratio);
      const cell = (xs: number[]) => `${median(xs).toFixed(2)} [${xs.map((x) => x.toFixed(2)).join(" ")}]`;
      rows.push(`| ${streams} | ${cell(fast)} | ${cell(ref)} | ${ratio.toFixed(3)} | ${best.toFixed(3)} |`);
    }
    console.log(
      `\niperf3 ${SECONDS} s per run, median of ${RUNS} (all runs in brackets), MTU ${MTU} on both paths`,
    );
    console.log(
      "| streams | meshnet fastdp Gbit/s | hand-built VXLAN Gbit/s | ratio of medians | ratio of bests |",
    );
    console.log("|---|---|---|---|---|");
    for (const r of rows) console.log(r);
    const verdict = ratios.every((r) => r >= GOAL) ? "meets" : "MISSES";
    console.log(`\ngoal fastdp / VXLAN ≥ ${GOAL} (ratio of medians): ${verdict}`);
  } finally {
    for (const s of servers) await s.stop("SIGTERM");
  }
});
