/**
 * Benchmark of the sleeve data plane against a hand-built kernel VXLAN between the same two lab hosts.
 *
 * Flow: one lab of 2 hosts (full), 2 containers each. c1 of each host is attached by meshnet (10.32.H.1/12,
 * meshnet's default MTU); c2 of each host hangs off a kernel VXLAN (VNI 42 on eth0, a bridge, MTU 1450,
 * 10.99.0.H/24). iperf3 runs c1→c1 and c2→c2 with 1 and 2 streams, ping measures the RTT; then both paths
 * again (1 stream) with {@link LOSS_PERCENT} % of underlay frames dropped each way (`lab loss`) and the hosts'
 * eth0 at gso_max_segs 1, so a UDP GSO send leaves as separate packets and loss hits single datagrams as on
 * a real underlay; then meshnet is restarted on both hosts with a password and the sleeve is measured again,
 * encrypted. CPU per GB: the meshnet daemons' user + system time (/proc/PID/stat) over the 1-stream runs,
 * and for every path iperf3's own sender and receiver CPU (its -J cpu_utilization_percent), both divided
 * by the bytes received. Runs sequentially.
 *
 * Run: `deno task bench:sleeve` (as root: it builds namespaces).
 *
 * @module
 */
import { CLOCK_TICKS, type Lab, launchMeshnet, meshnet, meshnetDataDir, withLab } from "../src/lab/mod.ts";
import { DEFAULT_MTU } from "../src/router/config.ts";
import { converge, mustExec, poll, Watched } from "../tests/overlay/lab_traffic.ts";

/** Seconds of each iperf3 run, and runs per measurement (the median is reported: the cores are shared). */
const SECONDS = 2, RUNS = 3;
/** The VXLAN MTU: 1500 − 50 bytes of VXLAN/UDP/IP/Ethernet headers. */
const VXLAN_MTU = 1450;
/** Pings per RTT measurement, and their interval in seconds. */
const PINGS = 50, PING_INTERVAL = "0.01";
/** Underlay frame loss of the lossy runs, percent each way. */
const LOSS_PERCENT = 0.5;
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
  /** iperf3's sender and receiver CPU seconds per GB received, 1-stream runs. */
  iperfCpu: number[];
  /** The meshnet daemons' CPU seconds per GB received (sender h1, receiver h2), 1-stream runs; sleeve only. */
  daemonCpu?: { sender: number[]; receiver: number[] };
  p2: number[];
  retransmits: number[];
  rtt: number[];
}

/** One iperf3 run: received Gbit/s and the sender's TCP retransmits. */
interface IperfRun {
  gbps: number;
  retransmits: number;
  /** GB received. */
  gb: number;
  /** iperf3's CPU seconds, sender plus receiver. */
  cpu: number;
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
  const seconds = result.end.sum_received.seconds, cpu = result.end.cpu_utilization_percent;
  return {
    gbps: result.end.sum_received.bits_per_second / 1e9,
    retransmits: result.end.sum_sent.retransmits,
    gb: result.end.sum_received.bytes / 1e9,
    cpu: (cpu.host_total + cpu.remote_total) / 100 * seconds,
  };
}

/** Average RTT in ms of {@link PINGS} pings from `from` to `address`. */
async function rtt(lab: Lab, from: string, address: string): Promise<number> {
  const out = await mustExec(lab, from, ["ping", "-q", "-c", String(PINGS), "-i", PING_INTERVAL, address]);
  const m = / = [\d.]+\/([\d.]+)\//.exec(out);
  if (!m) throw new Error(`Cannot read the RTT from ping's output '${out.trim()}'`);
  return Number(m[1]);
}

/** User + system CPU seconds of the meshnet daemon on host `h` so far (/proc read with cat: Deno needs --allow-all). */
function daemonCpu(lab: Lab, h: number): number {
  const pid = Deno.readTextFileSync(`${meshnetDataDir(lab, h)}/meshnet.pid`).trim();
  const out = new Deno.Command("cat", { args: [`/proc/${pid}/stat`], stdout: "piped" }).outputSync();
  const stat = new TextDecoder().decode(out.stdout);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS; // utime, stime
}

/**
 * Measures one path from `from` to an iperf3 server started in `to` at `address`; `full` adds the 2-stream
 * runs and the RTT, `sleeve` the daemons' CPU.
 */
async function measure(
  lab: Lab,
  from: string,
  to: string,
  address: string,
  opts: { full?: boolean; sleeve?: boolean } = {},
): Promise<PathResult> {
  const server = new Watched(lab, to, ["iperf3", "-s", "--forceflush", "-B", address]);
  await server.until((w) => w.stdout.includes("Server listening"));
  try {
    const p1: IperfRun[] = [], sender: number[] = [], receiver: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const before = opts.sleeve ? [daemonCpu(lab, 1), daemonCpu(lab, 2)] : [];
      const run = await iperf(lab, from, address, 1);
      p1.push(run);
      if (opts.sleeve) {
        sender.push((daemonCpu(lab, 1) - before[0]) / run.gb);
        receiver.push((daemonCpu(lab, 2) - before[1]) / run.gb);
      }
    }
    return {
      p1: p1.map((r) => r.gbps),
      iperfCpu: p1.map((r) => r.cpu / r.gb),
      daemonCpu: opts.sleeve ? { sender, receiver } : undefined,
      retransmits: p1.map((r) => r.retransmits),
      p2: opts.full ? await runs(async () => (await iperf(lab, from, address, 2)).gbps) : [],
      rtt: opts.full ? await runs(() => rtt(lab, from, address)) : [],
    };
  } finally {
    await server.stop("SIGTERM");
  }
}

/** Sets gso_max_segs of both hosts' eth0 (the kernel's default is 65535). */
async function gsoMaxSegs(lab: Lab, segs: number): Promise<void> {
  for (const h of [1, 2]) {
    await mustExec(lab, `h${h}`, ["ip", "link", "set", "dev", "eth0", "gso_max_segs", String(segs)]);
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
  console.log(`machine at start: ${machine()}`);
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
  const vxlan = await measure(lab, "h1c2", "h2c2", "10.99.0.2", { full: true });
  const plain = await measure(lab, "h1c1", "h2c1", "10.32.2.1", { full: true, sleeve: true });
  const plainDrops = await tapDrops(lab);
  await gsoMaxSegs(lab, 1);
  await lab.loss(1, 2, LOSS_PERCENT);
  const vxlanLoss = await measure(lab, "h1c2", "h2c2", "10.99.0.2");
  const plainLoss = await measure(lab, "h1c1", "h2c1", "10.32.2.1", { sleeve: true });
  await lab.loss(1, 2, 0);
  await gsoMaxSegs(lab, 65535);
  for (const h of [1, 2]) await stopMeshnet(lab, h);
  await launchBoth(lab, ["--password", "bench"]);
  await sleeveUp(lab);
  const enc = await measure(lab, "h1c1", "h2c1", "10.32.2.1", { full: true, sleeve: true });
  const encDrops = await tapDrops(lab);

  const m = (xs: number[]) => median(xs);
  const cell = (xs: number[], digits: number) =>
    xs.length ? `${fmt(m(xs), digits)} [${xs.map((x) => fmt(x, digits)).join(" ")}]` : "–";
  console.log("\n| path | 1 stream Gbit/s | 1 stream retransmits | -P 2 Gbit/s | ping avg ms |");
  console.log("|---|---|---|---|---|");
  const paths = [
    ["kernel VXLAN", vxlan],
    ["sleeve plain", plain],
    ["sleeve encrypted", enc],
    [`kernel VXLAN, ${LOSS_PERCENT} % loss`, vxlanLoss],
    [`sleeve plain, ${LOSS_PERCENT} % loss`, plainLoss],
  ] as const;
  for (const [name, r] of paths) {
    console.log(
      `| ${name} | ${cell(r.p1, 3)} | ${cell(r.retransmits, 0)} | ${cell(r.p2, 3)} | ${cell(r.rtt, 3)} |`,
    );
  }
  console.log(
    "\nCPU seconds per GB received, 1 stream: | path | iperf3 sender + receiver | meshnet sender | meshnet receiver |",
  );
  console.log("|---|---|---|---|");
  for (const [name, r] of paths) {
    console.log(
      `| ${name} | ${cell(r.iperfCpu, 2)} | ${cell(r.daemonCpu?.sender ?? [], 2)} | ${
        cell(r.daemonCpu?.receiver ?? [], 2)
      } |`,
    );
  }
  console.log(`\nh1's weave-tap over all runs: plain ${plainDrops}, encrypted ${encDrops}`);
  const ratio = (a: number[], b: number[]) => m(a) / m(b);
  const bar = (ok: boolean) => ok ? "meets" : "MISSES";
  console.log(
    `\nplain / VXLAN:     1 stream ${fmt(ratio(plain.p1, vxlan.p1))}×, -P 2 ${
      fmt(ratio(plain.p2, vxlan.p2))
    }×` +
      ` (bar ≥ 0.5×: ${bar(ratio(plain.p1, vxlan.p1) >= 0.5)}; first bar 0.3×)`,
  );
  console.log(
    `${LOSS_PERCENT} % loss, plain / VXLAN under the same loss: 1 stream ${
      fmt(ratio(plainLoss.p1, vxlanLoss.p1), 3)
    }× (bar ≥ 0.1×: ${bar(ratio(plainLoss.p1, vxlanLoss.p1) >= 0.1)}; goal 0.3×)`,
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
  console.log(`machine at end: ${machine()}`);
});
