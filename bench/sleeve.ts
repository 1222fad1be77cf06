/**
 * Benchmark of the sleeve data plane against a hand-built kernel VXLAN between the same two lab hosts.
 *
 * Flow: one lab of 4 hosts (full), 2 containers each. h1 and h2 form a plain mesh, h3 and h4 a second mesh
 * with a password (encrypted); c1 of each host is attached by meshnet (10.32.H.1/12, meshnet's default MTU).
 * c2 of h1 and h2 hangs off a kernel VXLAN (VNI 42 on eth0, a bridge, MTU 1450, 10.99.0.H/24). iperf3 runs
 * c2→c2 (VXLAN), h1c1→h2c1 (plain) and h3c1→h4c1 (encrypted), 1 stream and then 2, and ping measures the
 * RTT: the three paths take turns run by run, so a change in what the shared cores give (other tenants,
 * frequency) hits all three alike and the ratios stay fair. A first run of each path is not counted (the
 * daemons' JIT compiles the data path during its first seconds). Then VXLAN and plain again (1 stream, taking
 * turns) with {@link LOSS_PERCENT} % of underlay frames dropped each way between h1 and h2 (`lab loss`) and
 * their eth0 at gso_max_segs 1, so a UDP GSO send leaves as separate packets and loss hits single datagrams
 * as on a real underlay. CPU per GB: the meshnet daemons' user + system time (/proc/PID/stat) over the
 * 1-stream runs, for every path iperf3's own sender and receiver CPU (its -J cpu_utilization_percent), and
 * the whole machine's busy time (/proc/stat: user, system, irq and softirq of all cores, so the kernel's VXLAN
 * work, which no process is charged for, counts too), each divided by the bytes received; and the share of
 * the cores left idle during those runs.
 *
 * Run: `deno task bench:sleeve` (as root: it builds namespaces).
 *
 * @module
 */
import { CLOCK_TICKS, type Lab, launchMeshnet, meshnet, meshnetDataDir, withLab } from "../src/lab/mod.ts";
import { DEFAULT_MTU } from "../src/router/config.ts";
import { mustExec, poll, Watched } from "../tests/overlay/lab_traffic.ts";

/** Seconds of each iperf3 run, and runs per measurement (the median is reported: the cores are shared). */
const SECONDS = 2, RUNS = 5;
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
  /** All cores' busy seconds per GB received, 1-stream runs (the kernel's softirq work included). */
  machineCpu: number[];
  /** Percent of the cores' time left idle during the 1-stream runs. */
  idle: number[];
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

/** A /proc file's text, read with cat: Deno reads /proc only with --allow-all. */
function readProc(path: string): string {
  return new TextDecoder().decode(
    new Deno.Command("cat", { args: [path], stdout: "piped" }).outputSync().stdout,
  );
}

/** User + system CPU seconds of the meshnet daemon on host `h` so far. */
function daemonCpu(lab: Lab, h: number): number {
  const pid = Deno.readTextFileSync(`${meshnetDataDir(lab, h)}/meshnet.pid`).trim();
  const stat = readProc(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS; // utime, stime
}

/** Busy and idle clock ticks of all cores so far (/proc/stat's first line). */
function machineTicks(): { busy: number; idle: number } {
  const [user, nice, system, idle, iowait, irq, softirq] = readProc("/proc/stat").split("\n")[0].trim()
    .split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq, idle: idle + iowait };
}

/** A path to measure: iperf3 from `from` to a server in `to` at `address`; `hosts` are its meshnet daemons. */
interface Path {
  from: string;
  to: string;
  address: string;
  hosts?: [number, number];
}

/**
 * Measures the paths taking turns, run by run: {@link RUNS} 1-stream runs each (with the daemons' CPU), then
 * with `full` as many 2-stream runs and RTTs. Every path's iperf3 server runs throughout.
 */
async function measure(lab: Lab, paths: Path[], full: boolean): Promise<PathResult[]> {
  const servers = paths.map((p) => new Watched(lab, p.to, ["iperf3", "-s", "--forceflush", "-B", p.address]));
  try {
    for (const server of servers) await server.until((w) => w.stdout.includes("Server listening"));
    const results: PathResult[] = paths.map((p) => ({
      p1: [],
      iperfCpu: [],
      machineCpu: [],
      idle: [],
      daemonCpu: p.hosts ? { sender: [], receiver: [] } : undefined,
      p2: [],
      retransmits: [],
      rtt: [],
    }));
    // One run each first, not counted: the daemons' JIT compiles the data path during its first seconds.
    for (const p of paths) await iperf(lab, p.from, p.address, 1);
    for (let i = 0; i < RUNS; i++) {
      for (const [k, p] of paths.entries()) {
        const r = results[k];
        const before = p.hosts?.map((h) => daemonCpu(lab, h)), ticks = machineTicks();
        const run = await iperf(lab, p.from, p.address, 1);
        const after = machineTicks(), busy = after.busy - ticks.busy, idle = after.idle - ticks.idle;
        r.p1.push(run.gbps);
        r.iperfCpu.push(run.cpu / run.gb);
        r.machineCpu.push(busy / CLOCK_TICKS / run.gb);
        r.idle.push(100 * idle / (busy + idle));
        r.retransmits.push(run.retransmits);
        if (p.hosts && before) {
          r.daemonCpu!.sender.push((daemonCpu(lab, p.hosts[0]) - before[0]) / run.gb);
          r.daemonCpu!.receiver.push((daemonCpu(lab, p.hosts[1]) - before[1]) / run.gb);
        }
      }
    }
    if (!full) return results;
    for (let i = 0; i < RUNS; i++) {
      for (const [k, p] of paths.entries()) results[k].p2.push((await iperf(lab, p.from, p.address, 2)).gbps);
    }
    for (let i = 0; i < RUNS; i++) {
      for (const [k, p] of paths.entries()) results[k].rtt.push(await rtt(lab, p.from, p.address));
    }
    return results;
  } finally {
    for (const server of servers) await server.stop("SIGTERM");
  }
}

/** Sets gso_max_segs of both hosts' eth0 (the kernel's default is 65535). */
async function gsoMaxSegs(lab: Lab, segs: number): Promise<void> {
  for (const h of [1, 2]) {
    await mustExec(lab, `h${h}`, ["ip", "link", "set", "dev", "eth0", "gso_max_segs", String(segs)]);
  }
}

/** TX drops and queue length of `host`'s sleeve TAP: frames the bridge could not queue for the sleeve. */
async function tapDrops(lab: Lab, host: string): Promise<string> {
  const out = await mustExec(lab, host, ["ip", "-j", "-s", "link", "show", "weave-tap"]);
  const [link] = JSON.parse(out);
  return `${link.stats64.tx.dropped} TX drops (txqlen ${link.txqlen})`;
}

/** Launches meshnet on hosts `a` and `b`, each with the other as its only peer (a mesh of two), with `args`. */
async function launchPair(lab: Lab, a: number, b: number, args: string[]): Promise<void> {
  for (const [h, other] of [[a, b], [b, a]]) {
    await launchMeshnet(lab, h, [...LAUNCH, ...args], [lab.host(other).address]);
    const r = await meshnet(lab, h, ["attach", `10.32.${h}.1/12`, lab.ns(`h${h}c1`)]);
    if (r.code !== 0) throw new Error(`Cannot attach h${h}c1: ${r.stderr.trim()}`);
  }
}

/** Waits until c1 of each host pings c1 of the other host of its mesh (its sleeve link is up and routed). */
async function sleeveUp(lab: Lab): Promise<void> {
  const pings = [["h1c1", "10.32.2.1"], ["h2c1", "10.32.1.1"], ["h3c1", "10.32.4.1"], ["h4c1", "10.32.3.1"]];
  for (const [from, to] of pings) {
    await poll(
      async () => (await lab.exec(from, ["ping", "-c1", "-W1", to])).code === 0 || undefined,
      30_000,
      () => `no ping answer from ${to} to ${from}: the meshes did not come up`,
    );
  }
}

/** nproc, kernel, date and load: what the numbers were measured on. */
function machine(): string {
  const run = (cmd: string, args: string[]) =>
    new TextDecoder().decode(new Deno.Command(cmd, { args }).outputSync().stdout).trim();
  return `nproc ${run("nproc", [])}, kernel ${run("uname", ["-r"])}, ${run("date", ["-u", "-Iseconds"])}, ` +
    `load average ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")} (the cores are shared)`;
}

const fmt = (x: number, digits = 2) => x.toFixed(digits);

await withLab({ hosts: 4, containers: 2, topology: "full" }, async (lab) => {
  console.log(`machine at start: ${machine()}`);
  console.log(
    `MTU: sleeve containers ${DEFAULT_MTU} (meshnet default), VXLAN ${VXLAN_MTU}; iperf3 ${SECONDS} s per run, median of ${RUNS} runs (all runs in brackets); the paths take turns`,
  );
  await buildVxlan(lab);
  await launchPair(lab, 1, 2, []);
  await launchPair(lab, 3, 4, ["--password", "bench"]);
  await sleeveUp(lab);
  const vxlanPath: Path = { from: "h1c2", to: "h2c2", address: "10.99.0.2" };
  const plainPath: Path = { from: "h1c1", to: "h2c1", address: "10.32.2.1", hosts: [1, 2] };
  const encPath: Path = { from: "h3c1", to: "h4c1", address: "10.32.4.1", hosts: [3, 4] };
  const [vxlan, plain, enc] = await measure(lab, [vxlanPath, plainPath, encPath], true);
  const plainDrops = await tapDrops(lab, "h1"), encDrops = await tapDrops(lab, "h3");
  await gsoMaxSegs(lab, 1);
  await lab.loss(1, 2, LOSS_PERCENT);
  const [vxlanLoss, plainLoss] = await measure(lab, [vxlanPath, plainPath], false);
  await lab.loss(1, 2, 0);
  await gsoMaxSegs(lab, 65535);

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
    "\nCPU seconds per GB received, 1 stream: | path | all cores (kernel included) | iperf3 sender + receiver | meshnet sender | meshnet receiver | cores idle % |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const [name, r] of paths) {
    console.log(
      `| ${name} | ${cell(r.machineCpu, 2)} | ${cell(r.iperfCpu, 2)} | ${
        cell(r.daemonCpu?.sender ?? [], 2)
      } | ${cell(r.daemonCpu?.receiver ?? [], 2)} | ${cell(r.idle, 0)} |`,
    );
  }
  console.log(
    `\nweave-tap of the senders over all runs: plain (h1) ${plainDrops}, encrypted (h3) ${encDrops}`,
  );
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
