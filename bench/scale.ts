/**
 * Benchmark: N real routers, one per lab host, full mesh, launched together, for each N asked (default 10,
 * 25, 40). Per N and trial it measures:
 *   - launch to converged: from spawning every daemon until every router's report shows all N peers and
 *     N−1 established connections (polled about once a second, so ±1 s), and the CPU seconds each router
 *     used until then (N routers × that ÷ 2 cores ≈ the time a CPU-bound bring-up takes);
 *   - gossip bytes each router sent in the first `--window` seconds (default 60), all channels and topology;
 *   - connections closed (terminations) during that window, and then during the idle window;
 *   - over the idle window (`--idle`, default 15 s, starting `--settle` seconds, default 0, after the first
 *     window, so a late window shows a settled mesh apart from its last collections): CPU % per router from
 *     /proc/PID/stat, frames/s through each host's `weave-tap` (rx + tx in /proc/net/dev of its namespace;
 *     with no containers it should be ≈ 0, a storm shows as thousands);
 *   - at the end: RSS, private memory (RSS less file-backed and shared pages: the Deno binary's ≈ 42 MB
 *     of code is shared by every router) and threads per router (/proc), the main isolate's JS heap (from /metrics), the load
 *     average, and every router that exited (with its log's last line).
 * Each trial gets a fresh lab, torn down afterwards also on failure; every wait is bounded (`--timeout`,
 * default 120 s, from launch).
 *
 * Flow: sequential; per trial one lab, one {@link Fleet}; the probes are `curl`/`cat` inside the namespaces.
 * The daemons share the 2 cores with the probes, so a figure is a floor, and the load average is printed.
 *
 * Run: `deno task bench:scale [N…] [--trials K] [--window S] [--settle S] [--idle S] [--timeout S] [-- router args…]`
 * (as root), e.g. `deno task bench:scale 10 --trials 3 -- --no-fastdp`.
 *
 * @module
 */
import { CLOCK_TICKS, convergedAt, describe, Fleet, sumFamily, withLab } from "../src/lab/mod.ts";
import type { ProcSample } from "../src/lab/mod.ts";

/** The TAP of the sleeve in every host namespace. */
const TAP = "weave-tap";
const MB = 1024 * 1024;

interface Options {
  sizes: number[];
  trials: number;
  windowS: number;
  idleS: number;
  settleS: number;
  timeoutS: number;
  routerArgs: string[];
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    sizes: [],
    trials: 1,
    windowS: 60,
    idleS: 15,
    settleS: 0,
    timeoutS: 120,
    routerArgs: [],
  };
  const dash = args.indexOf("--");
  if (dash >= 0) o.routerArgs = args.slice(dash + 1);
  const own = dash >= 0 ? args.slice(0, dash) : args;
  for (let i = 0; i < own.length; i++) {
    const a = own[i];
    const num = (v: string | undefined, min = 1) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) {
        throw new Error(`Invalid value '${v}' for ${a}: use a whole number ≥ ${min}`);
      }
      return n;
    };
    if (a === "--trials") o.trials = num(own[++i]);
    else if (a === "--window") o.windowS = num(own[++i]);
    else if (a === "--idle") o.idleS = num(own[++i]);
    else if (a === "--settle") o.settleS = num(own[++i], 0);
    else if (a === "--timeout") o.timeoutS = num(own[++i]);
    else if (/^\d+$/.test(a) && Number(a) >= 2) o.sizes.push(Number(a));
    else {throw new Error(
        `Unknown argument '${a}': use peer counts ≥ 2 and --trials/--window/--settle/--idle/--timeout`,
      );}
  }
  if (o.sizes.length === 0) o.sizes = [10, 25, 40];
  return o;
}

/** The figures of one trial. */
interface Trial {
  n: number;
  convergedS?: number;
  /** How many routers saw the full mesh at the last poll. */
  convergedCount: number;
  exited: string[];
  /** CPU seconds each router used from its spawn until convergence (or the timeout). */
  bringUpCpuS: number[];
  cpuPct: number[];
  rssMB: number[];
  privateMB: number[];
  threads: number[];
  heapUsedMB: number[];
  heapTotalMB: number[];
  gossipKB: number[];
  topologyKB: number[];
  /** Per channel, the gossip KB each router sent in the window. */
  channelKB: Map<string, number[]>;
  closedInWindow: number;
  closedInIdle: number;
  tapFps: { host: string; fps: number }[];
  load: number[];
  notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mean = (xs: number[]) => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
const max = (xs: number[]) => xs.length ? Math.max(...xs) : NaN;
const f1 = (x: number) => Number.isNaN(x) ? "–" : x.toFixed(1);

/** Terminations per host from metrics (undefined for a router that did not answer). */
function terminations(m: Map<string, Map<string, number> | Error>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [h, v] of m) {
    if (!(v instanceof Error)) out.set(h, sumFamily(v, "weave_connection_terminations_total"));
  }
  return out;
}

function closedBetween(a: Map<string, number>, b: Map<string, number>): number {
  let n = 0;
  for (const [h, v] of b) n += v - (a.get(h) ?? 0);
  return n;
}

async function trial(n: number, o: Options): Promise<Trial> {
  return await withLab({ hosts: n, topology: "full" }, async (lab) => {
    const fleet = Fleet.start(lab, o.routerArgs);
    const t: Trial = {
      n,
      convergedCount: 0,
      exited: [],
      bringUpCpuS: [],
      cpuPct: [],
      rssMB: [],
      privateMB: [],
      threads: [],
      heapUsedMB: [],
      heapTotalMB: [],
      gossipKB: [],
      topologyKB: [],
      channelKB: new Map(),
      closedInWindow: 0,
      closedInIdle: 0,
      tapFps: [],
      load: [],
      notes: [],
    };
    const windowMs = o.windowS * 1000;
    let windowMetrics: Map<string, Map<string, number> | Error> | undefined;
    const takeWindow = async () => {
      if (windowMetrics || fleet.elapsedMs < windowMs) return;
      windowMetrics = await fleet.metrics();
    };
    const { ms, last } = await fleet.waitConverged(o.timeoutS * 1000, takeWindow);
    t.convergedS = ms === undefined ? undefined : ms / 1000;
    for (const p of (await fleet.proc()).values()) t.bringUpCpuS.push(p.cpuTicks / CLOCK_TICKS);
    t.convergedCount = [...last.values()].filter((r) => !(r instanceof Error) && convergedAt(r, n)).length;
    if (ms === undefined) {
      const stuck = [...last].filter(([, r]) => r instanceof Error || !convergedAt(r, n));
      const vitals = await fleet.vitals();
      t.notes.push(...stuck.slice(0, 5).map(([h, r]) => `${describe(h, n, r)}; ${vitals.get(h)}`));
    }
    if (!windowMetrics) {
      await sleep(Math.max(0, windowMs - fleet.elapsedMs));
      windowMetrics = await fleet.metrics();
    }
    const atWindow = terminations(windowMetrics);
    for (const [, m] of windowMetrics) {
      if (m instanceof Error) continue;
      t.gossipKB.push(sumFamily(m, "meshnet_gossip_sent_bytes_total") / 1024);
      t.topologyKB.push((m.get('meshnet_gossip_sent_bytes_total{channel="topology"}') ?? 0) / 1024);
      for (const [key, v] of m) {
        const channel = /^meshnet_gossip_sent_bytes_total\{channel="([^"]*)"\}$/.exec(key)?.[1];
        if (channel === undefined) continue;
        t.channelKB.set(channel, [...t.channelKB.get(channel) ?? [], v / 1024]);
      }
    }
    t.notes.push(
      `gossip KB sent in the window per router, mean by channel: ${
        [...t.channelKB].map(([c, kb]) => `${c} ${f1(mean(kb))}`).join(", ")
      }`,
    );
    t.closedInWindow = [...atWindow.values()].reduce((a, b) => a + b, 0);

    // The idle window: CPU, TAP frames and closed connections between two samples.
    await sleep(o.settleS * 1000);
    const [p0, d0] = [await fleet.proc(), await fleet.netdev()];
    const i0 = performance.now();
    await sleep(o.idleS * 1000);
    const [p1, d1] = [await fleet.proc(), await fleet.netdev()];
    const seconds = (performance.now() - i0) / 1000;
    const end = await fleet.metrics();
    t.closedInIdle = closedBetween(atWindow, terminations(end));
    for (const h of fleet.hosts) {
      const [a, b]: (ProcSample | undefined)[] = [p0.get(h.name), p1.get(h.name)];
      if (a && b && b.state !== "Z") {
        t.cpuPct.push(((b.cpuTicks - a.cpuTicks) / CLOCK_TICKS / seconds) * 100);
        t.rssMB.push(b.rssBytes / MB);
        t.privateMB.push(b.privateBytes / MB);
        t.threads.push(b.threads);
      }
      const [ta, tb] = [d0.get(h.name)?.get(TAP), d1.get(h.name)?.get(TAP)];
      if (ta && tb) {
        t.tapFps.push({
          host: h.name,
          fps: (tb.rxPackets + tb.txPackets - ta.rxPackets - ta.txPackets) / seconds,
        });
      }
      const m = end.get(h.name);
      if (m && !(m instanceof Error)) {
        t.heapUsedMB.push((m.get('meshnet_js_heap_bytes{kind="used"}') ?? NaN) / MB);
        t.heapTotalMB.push((m.get('meshnet_js_heap_bytes{kind="total"}') ?? NaN) / MB);
      } else if (m instanceof Error) t.notes.push(`${h.name}: /metrics: ${m.message}`);
    }
    t.load = Deno.loadavg();
    const reasons = fleet.closeReasons();
    if (reasons.length > 0) {
      t.notes.push(
        `wired connections closed, by reason: ${reasons.map(([r, k]) => `${k}× ${r}`).join("; ")}`,
      );
    }
    for (const e of fleet.exits) {
      t.exited.push(e.host);
      t.notes.push(
        `${e.host} exited after ${(e.afterMs / 1000).toFixed(0)} s (code ${e.code}): ${
          fleet.exitReason(e.host, 0)
        }`,
      );
    }
    return t;
  });
}

function row(t: Trial): string {
  const storm = t.tapFps.reduce((a, b) => (b.fps > a.fps ? b : a), { host: "–", fps: 0 });
  return [
    t.n,
    t.convergedS === undefined ? `no (${t.convergedCount}/${t.n})` : t.convergedS.toFixed(1),
    t.exited.length,
    `${f1(mean(t.bringUpCpuS))} / ${f1(max(t.bringUpCpuS))}`,
    `${f1(mean(t.cpuPct))} / ${f1(max(t.cpuPct))}`,
    `${f1(mean(t.rssMB))} / ${f1(max(t.rssMB))}`,
    `${f1(mean(t.privateMB))} / ${f1(max(t.privateMB))}`,
    `${f1(mean(t.heapUsedMB))} / ${f1(mean(t.heapTotalMB))}`,
    f1(mean(t.threads)),
    `${f1(mean(t.gossipKB))} / ${f1(max(t.gossipKB))}`,
    f1(mean(t.topologyKB)),
    t.closedInWindow,
    t.closedInIdle,
    `${storm.fps.toFixed(0)} (${storm.host})`,
    t.load.map((l) => l.toFixed(2)).join(" "),
  ].join(" | ");
}

if (import.meta.main) {
  const o = parseArgs(Deno.args);
  const head = [
    "peers",
    "launch→converged s",
    "exited",
    "bring-up CPU s mean / max",
    "idle CPU % mean / max",
    "RSS MB mean / max",
    "private MB mean / max",
    "JS heap used / total MB",
    "threads",
    `gossip KB sent in ${o.windowS} s mean / max`,
    "of it topology KB",
    `closed in ${o.windowS} s`,
    `closed in next ${o.settleS + o.idleS} s`,
    "max TAP frames/s",
    "load 1/5/15",
  ];
  console.log(
    `# bench:scale ${o.sizes.join(" ")} trials ${o.trials} router args [${
      o.routerArgs.join(" ")
    }]; idle window ${o.windowS + o.settleS}–${o.windowS + o.settleS + o.idleS} s after launch`,
  );
  console.log(`| ${head.join(" | ")} |\n|${head.map(() => "---").join("|")}|`);
  for (const n of o.sizes) {
    for (let k = 0; k < o.trials; k++) {
      const t = await trial(n, o);
      console.log(`| ${row(t)} |`);
      for (const note of t.notes) console.error(`  N=${n} trial ${k + 1}: ${note}`);
    }
  }
}
