/**
 * Benchmark of the sleeve data plane against a hand-built kernel VXLAN between the same two lab hosts.
 *
 * Flow: one lab of 2 hosts (full), 2 containers each. c1 of each host is attached by meshnet (10.32.H.1/12,
 * meshnet's default MTU); c2 of each host hangs off a kernel VXLAN (VNI 42 on eth0, a bridge, MTU 1450,
 * 10.99.0.H/24). iperf3 runs c1→c1 and c2→c2 with 1 and 2 streams, ping measures the RTT; then meshnet is
 * restarted on both hosts with a password and the sleeve is measured again, encrypted. Runs sequentially.
 *
 * Run: `deno task bench:sleeve` (as root: it builds namespaces).
 *
 * @module
 */
import { type Lab, launchMeshnet, meshnet, meshnetDataDir, withLab } from "../src/lab/mod.ts";
import { DEFAULT_MTU } from "../src/router/config.ts";
import { converge, mustExec, poll, Watched } from "../tests/overlay/lab_traffic.ts";

/** Seconds of each iperf3 run, and runs per measurement (the median is reported: the cores are shared). */
const SECONDS = 2, RUNS = 3;
/** The VXLAN MTU: 1500 − 50 bytes of VXLAN/UDP/IP/Ethernet headers. */
const VXLAN_MTU = 1450;
/** Pings per RTT measurement, and their interval in seconds. */
const PINGS = 50, PING_INTERVAL = "0.01";
/**
 * Only the sleeve (no kernel fast datapath), and the fixed overlay addresses out of IPAM's range, so attaching
 * them needs no IPAM consensus.
 */
const LAUNCH = ["--no-fastdp", "--ipalloc-range", "10.48.0.0/12"];

/**
 * One measured path: throughput with 1 and 2 streams (Gbit/s, each run), TCP retransmits of the 1-stream runs,
 * and the average ping RTT (ms, each run).
 */
interface PathResult {
  p1: number[];
  p2: number[];
  retransmits: number[];
  rtt: number[];
}

/** One iperf3 run: received Gbit/s and the sender's TCP retransmits. */
interface IperfRun {
  gbps: number;
  retransmits: number;
}

/** The median of `xs`. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** `f` run {@link RUNS} times, in order. */
async function runs(f: () => Promise<number>): Promise<number[]> {
  const out = [];
  for (let i = 0; i < RUNS; i++) out.push(await f());
  return out;
}

/** Builds the kernel VXLAN between h1c2 and h2c2. */
async function buildVxlan(lab: Lab): Promise<void> {
  for (const h of [1, 2]) {
    const self = lab.host(h), other = lab.host(3 - h), c2 = lab.ns(`h${h}c2`);
    const script = [
      `link add vx42 type vxlan id 42 dstport 4789 local ${self.address} remote ${other.address} dev eth0`,
      `link set vx42 mtu ${VXLAN_MTU}`,
      `link add vxbr type bridge`,
      `link set vxbr mtu ${VXLAN_MTU}`,
      `link set vx42 master vxbr`,
      `link add vxc type veth peer name eth0 netns ${c2}`,
      `link set vxc mtu ${VXLAN_MTU} master vxbr up`,
      `link set vx42 up`,
      `link set vxbr up`,
    ];
    for (const line of script) await mustExec(lab, `h${h}`, ["ip", ...line.split(" ")]);
    await mustExec(lab, `h${h}c2`, ["ip", "link", "set", "eth0", "mtu", String(VXLAN_MTU), "up"]);
    await mustExec(lab, `h${h}c2`, ["ip", "addr", "add", `10.99.0.${h}/24`, "dev", "eth0"]);
  }
  await mustExec(lab, "h1c2", ["ping", "-c1", "-W2", "10.99.0.2"]);
}

/** iperf3 from `from` to the server at `address` (in `to`), `streams` streams. */
async function iperf(lab: Lab, from: string, address: string, streams: number): Promise<IperfRun> {
  const out = await mustExec(lab, from, [
    "iperf3",
    "-c",
    address,
    "-t",
    String(SECONDS),
    "-P",
    String(streams),
    "-J",
  ]);
  const result = JSON.parse(out);
  if (result.error) throw new Error(`iperf3 from ${from} to ${address} failed: ${result.error}`);
  return {
    gbps: result.end.sum_received.bits_per_second / 1e9,
    retransmits: result.end.sum_sent.retransmits,
  };
}

/** Average RTT in ms of {@link PINGS} pings from `from` to `address`. */
async function rtt(lab: Lab, from: string, address: string): Promise<number> {
  const out = await mustExec(lab, from, ["ping", "-q", "-c", String(PINGS), "-i", PING_INTERVAL, address]);
  const m = / = [\d.]+\/([\d.]+)\//.exec(out);
  if (!m) throw new Error(`Cannot read the RTT from ping's output '${out.trim()}'`);
  return Number(m[1]);
}

/** Measures one path from `from` to an iperf3 server started in `to` at `address`. */
async function measure(lab: Lab, from: string, to: string, address: string): Promise<PathResult> {
  const server = new Watched(lab, to, ["iperf3", "-s", "--forceflush", "-B", address]);
  await server.until((w) => w.stdout.includes("Server listening"));
  try {
    const p1: IperfRun[] = [];
    for (let i = 0; i < RUNS; i++) p1.push(await iperf(lab, from, address, 1));
    return {
      p1: p1.map((r) => r.gbps),
      retransmits: p1.map((r) => r.retransmits),
      p2: await runs(async () => (await iperf(lab, from, address, 2)).gbps),
      rtt: await runs(() => rtt(lab, from, address)),
    };
  } finally {
    await server.stop("SIGTERM");
  }
}

/** TX drops and queue length of the sending host's (h1's) sleeve TAP: frames the bridge could not queue for the sleeve. */
async function tapDrops(lab: Lab): Promise<string> {
  const out = await mustExec(lab, "h1", ["ip", "-j", "-s", "link", "show", "weave-tap"]);
  const [link] = JSON.parse(out);
  return `${link.stats64.tx.dropped} TX drops (txqlen ${link.txqlen})`;
}

/** Launches meshnet on both hosts with `args`. */
async function launchBoth(lab: Lab, args: string[]): Promise<void> {
  for (const h of [1, 2]) await launchMeshnet(lab, h, [...LAUNCH, ...args]);
}

/**
 * Stops meshnet on host `h` and waits until its process is gone: `meshnet stop` returns once the API stops
 * answering, while the daemon may still hold its TAP, and a relaunch would fail with EBUSY.
 */
async function stopMeshnet(lab: Lab, h: number): Promise<void> {
  const pid = Deno.readTextFileSync(`${meshnetDataDir(lab, h)}/meshnet.pid`).trim();
  const r = await meshnet(lab, h, ["stop"]);
  if (r.code !== 0) throw new Error(`Cannot stop meshnet on h${h}: ${r.stderr.trim()}`);
  const alive = () => {
    try {
      Deno.statSync(`/proc/${pid}`);
      return true;
    } catch {
      return undefined;
    }
  };
  await poll(
    () => Promise.resolve(alive() ? undefined : true),
    15_000,
    () => `meshnet pid ${pid} still runs`,
  );
}

/** Waits until the mesh converged and c1 of each host pings the other. */
function sleeveUp(lab: Lab): Promise<number> {
  return converge(lab, [["h1c1", "10.32.2.1"], ["h2c1", "10.32.1.1"]]);
}

/** nproc, kernel, date and load: what the numbers were measured on. */
function machine(): string {
  const run = (cmd: string, args: string[]) =>
    new TextDecoder().decode(new Deno.Command(cmd, { args }).outputSync().stdout).trim();
  return `nproc ${run("nproc", [])}, kernel ${run("uname", ["-r"])}, ${run("date", ["-u", "-Iseconds"])}, ` +
    `load average ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")} (the cores are shared)`;
}

const fmt = (x: number, digits = 2) => x.toFixed(digits);

await withLab({ hosts: 2, containers: 2, topology: "full" }, async (lab) => {
  console.log(`machine: ${machine()}`);
  console.log(
    `MTU: sleeve containers ${DEFAULT_MTU} (meshnet default), VXLAN ${VXLAN_MTU}; iperf3 ${SECONDS} s per run, median of ${RUNS} runs (all runs in brackets)`,
  );
  await buildVxlan(lab);
  await launchBoth(lab, []);
  for (const h of [1, 2]) {
    const r = await meshnet(lab, h, ["attach", `10.32.${h}.1/12`, lab.ns(`h${h}c1`)]);
    if (r.code !== 0) throw new Error(`Cannot attach h${h}c1: ${r.stderr.trim()}`);
  }
  await sleeveUp(lab);
  const vxlan = await measure(lab, "h1c2", "h2c2", "10.99.0.2");
  const plain = await measure(lab, "h1c1", "h2c1", "10.32.2.1");
  const plainDrops = await tapDrops(lab);
  for (const h of [1, 2]) await stopMeshnet(lab, h);
  await launchBoth(lab, ["--password", "bench"]);
  await sleeveUp(lab);
  const enc = await measure(lab, "h1c1", "h2c1", "10.32.2.1");
  const encDrops = await tapDrops(lab);

  const m = (xs: number[]) => median(xs);
  const cell = (xs: number[], digits: number) =>
    `${fmt(m(xs), digits)} [${xs.map((x) => fmt(x, digits)).join(" ")}]`;
  console.log("\n| path | 1 stream Gbit/s | 1 stream retransmits | -P 2 Gbit/s | ping avg ms |");
  console.log("|---|---|---|---|---|");
  for (
    const [name, r] of [["kernel VXLAN", vxlan], ["sleeve plain", plain], ["sleeve encrypted", enc]] as const
  ) {
    console.log(
      `| ${name} | ${cell(r.p1, 3)} | ${cell(r.retransmits, 0)} | ${cell(r.p2, 3)} | ${cell(r.rtt, 3)} |`,
    );
  }
  console.log(`\nh1's weave-tap over all runs: plain ${plainDrops}, encrypted ${encDrops}`);
  const ratio = (a: number[], b: number[]) => m(a) / m(b);
  const bar = (ok: boolean) => ok ? "meets" : "MISSES";
  console.log(
    `\nplain / VXLAN:     1 stream ${fmt(ratio(plain.p1, vxlan.p1))}×, -P 2 ${
      fmt(ratio(plain.p2, vxlan.p2))
    }×` +
      ` (bar ≥ 0.2×: ${bar(ratio(plain.p1, vxlan.p1) >= 0.2)})`,
  );
  console.log(
    `encrypted / plain: 1 stream ${fmt(ratio(enc.p1, plain.p1))}×, -P 2 ${fmt(ratio(enc.p2, plain.p2))}×` +
      ` (bar ≥ 0.6×: ${bar(ratio(enc.p1, plain.p1) >= 0.6)})`,
  );
  console.log(
    `encrypted / VXLAN: 1 stream ${fmt(ratio(enc.p1, vxlan.p1))}×, -P 2 ${fmt(ratio(enc.p2, vxlan.p2))}×`,
  );
  console.log(
    `RTT / VXLAN:       plain ${fmt(ratio(plain.rtt, vxlan.rtt))}×, encrypted ${
      fmt(ratio(enc.rtt, vxlan.rtt))
    }×`,
  );
});
