/**
 * A fleet: one meshnet router per lab host, all started at once in the foreground (as `meshnet launch
 * --foreground`, output to each host's log file), and what can be seen of them from outside without
 * trusting them to answer: their API (report, metrics) through `curl` with a timeout inside each host's
 * namespace, their CPU time, memory and state from /proc (read with `grep`: Deno reads /proc only with
 * --allow-all), and their interface counters from /proc/net/dev
 * in the namespace. Scale benchmarks and lab tests use it.
 *
 * Flow: {@link Fleet.start} spawns every router through {@link Lab.spawn} (so `lab.down` kills them) and
 * records when each exits; the probes run one short-lived process per host in parallel and never throw
 * for a router that does not answer: they return the error instead.
 *
 * @module
 */
import { meshnetCommand } from "../self.ts";
import type { Report } from "../client/wire.ts";
import type { Lab, LabHost } from "./lab.ts";
import { meshnetDataDir } from "./meshnet.ts";
import { runCommand } from "./runner.ts";

/** The daemon API inside each host namespace. */
const API = "http://127.0.0.1:6784";
/** Bytes per page, for the `rss` field of /proc/PID/stat. */
const PAGE_BYTES = 4096;
/** Clock ticks per second of /proc/PID/stat's CPU times (USER_HZ, 100 on Linux x86-64). */
export const CLOCK_TICKS = 100;

/** A router that exited. */
export interface Exit {
  /** Lab host name, e.g. `h3`. */
  host: string;
  /** Exit code (128 + signal when killed). */
  code: number;
  /** The signal that killed it, if any. */
  signal: string | null;
  /** Milliseconds after {@link Fleet.start}. */
  afterMs: number;
}

/** What /proc says about one router process. */
export interface ProcSample {
  /** State letter: `R`, `S`, `Z`, …. */
  state: string;
  /** User plus system CPU time, in clock ticks ({@link CLOCK_TICKS} per second). */
  cpuTicks: number;
  /** Resident memory in bytes, shared pages (the Deno binary, libraries) included. */
  rssBytes: number;
  /** Resident memory in bytes not backed by a file or shared memory: what this process alone costs. */
  privateBytes: number;
  /** Number of threads. */
  threads: number;
}

/** Packet counters of one interface, as /proc/net/dev reports them in the host's namespace. */
export interface NetdevSample {
  /** Packets the kernel received from the device (for a TAP: frames the sleeve wrote into it). */
  rxPackets: number;
  /** Packets the kernel sent out of the device (for a TAP: frames the sleeve read from it). */
  txPackets: number;
}

/** Whether a router sees the full mesh: `n` peers and `n − 1` established connections. */
export function convergedAt(report: Report, n: number): boolean {
  return report.router.peers.length === n &&
    report.router.connections.filter((c) => c.state === "established").length === n - 1;
}

/** One line saying what a router sees, for assertion messages: `h3: 9/10 peers, 7/9 established (2 pending)`. */
export function describe(host: string, n: number, seen: Report | Error | undefined): string {
  if (seen === undefined) return `${host}: not probed`;
  if (seen instanceof Error) return `${host}: ${seen.message}`;
  const cs = seen.router.connections;
  const est = cs.filter((c) => c.state === "established").length;
  return `${host}: ${seen.router.peers.length}/${n} peers, ${est}/${n - 1} established (${
    cs.length - est
  } pending, ${seen.router.handshaking} handshaking, ${seen.router.terminations} closed)`;
}

/**
 * Parses Prometheus text into `name{labels}` → value (the key is the sample line up to its value).
 *
 * @example
 * ```ts
 * parseMetrics('meshnet_peers 3\nx{a="b"} 1\n').get('x{a="b"}'); // 1
 * ```
 */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** The sum of every sample of family `name` (all label sets) in parsed metrics. */
export function sumFamily(metrics: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [k, v] of metrics) if (k === name || k.startsWith(`${name}{`)) sum += v;
  return sum;
}

/**
 * Parses `grep -H "" /proc/PID/stat /proc/PID/statm …` output into PID → sample (a PID missing either file
 * is left out). In stat the command name may hold spaces and parentheses, so fields count from its `)`.
 */
export function parseProcFiles(text: string): Map<number, ProcSample> {
  const stat = new Map<number, string[]>(), statm = new Map<number, string[]>();
  for (const line of text.split("\n")) {
    const m = line.match(/^\/proc\/(\d+)\/(stat|statm):(.*)$/);
    if (!m) continue;
    if (m[2] === "stat") stat.set(Number(m[1]), m[3].slice(m[3].lastIndexOf(") ") + 2).split(" "));
    else statm.set(Number(m[1]), m[3].split(" "));
  }
  const out = new Map<number, ProcSample>();
  for (const [pid, f] of stat) {
    const mem = statm.get(pid);
    if (!mem) continue;
    // f[0] is field 3 (state); utime, stime are fields 14, 15; num_threads 20. statm: size resident shared ….
    out.set(pid, {
      state: f[0],
      cpuTicks: Number(f[11]) + Number(f[12]),
      threads: Number(f[17]),
      rssBytes: Number(mem[1]) * PAGE_BYTES,
      privateBytes: (Number(mem[1]) - Number(mem[2])) * PAGE_BYTES,
    });
  }
  return out;
}

/** Parses /proc/net/dev into interface → packet counters. */
export function parseNetdev(text: string): Map<string, NetdevSample> {
  const out = new Map<string, NetdevSample>();
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    out.set(line.slice(0, colon).trim(), { rxPackets: f[1], txPackets: f[9] });
  }
  return out;
}

/** Routers on every host of a lab, started together. */
export class Fleet {
  #lab: Lab;
  #t0: number;
  #pids = new Map<string, number>();
  #exits: Exit[] = [];

  private constructor(lab: Lab) {
    this.#lab = lab;
    this.#t0 = performance.now();
  }

  /**
   * Starts a router on every host of `lab`, all at once, each told about the hosts the lab's topology says
   * it reaches, with `args` added (e.g. `["--no-fastdp"]`). Does not wait for anything.
   */
  static start(lab: Lab, args: string[] = []): Fleet {
    const fleet = new Fleet(lab);
    for (const h of lab.hosts) {
      const dir = meshnetDataDir(lab, h.number);
      Deno.mkdirSync(dir, { recursive: true });
      const child = lab.spawn(h.name, [
        "env",
        "NO_COLOR=1",
        "sh",
        "-c",
        'log=$1; shift; exec "$@" >>"$log" 2>&1',
        "sh",
        `${dir}/meshnet.log`,
        meshnetCommand(),
        "launch",
        "--foreground",
        "--data-dir",
        dir,
        "--nickname",
        h.name,
        ...args,
        "--",
        ...lab.peersOf(h.number).map((p) => p.address),
      ]);
      // `ip netns exec`, `env`, `sh` and the launcher script all exec, so this is the daemon's PID.
      fleet.#pids.set(h.name, child.pid);
      child.status.then((s) =>
        fleet.#exits.push({
          host: h.name,
          code: s.code,
          signal: s.signal,
          afterMs: performance.now() - fleet.#t0,
        })
      );
    }
    return fleet;
  }

  /** The lab's hosts, one router each. */
  get hosts(): LabHost[] {
    return this.#lab.hosts;
  }

  /** Milliseconds since {@link Fleet.start}. */
  get elapsedMs(): number {
    return performance.now() - this.#t0;
  }

  /** The daemon PID of `host`. */
  pid(host: string): number {
    return this.#pids.get(host)!;
  }

  /** The routers that exited so far, in order. */
  get exits(): Exit[] {
    return [...this.#exits];
  }

  /**
   * Why `host`'s router stopped, from its log: the last line saying `error` (an uncaught exception's
   * message, not its stack) and the `context` lines after it; else the log's last `context` + 1 lines.
   */
  exitReason(host: string, context = 2): string {
    let lines: string[];
    try {
      lines = Deno.readTextFileSync(`${meshnetDataDir(this.#lab, host)}/meshnet.log`).trimEnd().split("\n");
    } catch {
      return "(no log)";
    }
    const at = lines.findLastIndex((l) => /\berror\b/i.test(l) && !/^\s+at /.test(l));
    return (at >= 0 ? lines.slice(at, at + 1 + context) : lines.slice(-1 - context)).join("\n");
  }

  /**
   * How many connections every router's log says were closed after they were wired, by reason (the
   * "Connection closed" lines; a duplicate dropped before it was wired is not logged), most frequent first.
   */
  closeReasons(): [string, number][] {
    const counts = new Map<string, number>();
    for (const h of this.hosts) {
      let text: string;
      try {
        text = Deno.readTextFileSync(`${meshnetDataDir(this.#lab, h.name)}/meshnet.log`);
      } catch {
        continue;
      }
      for (const m of text.matchAll(/Connection closed .*?reason="([^"]*)"/g)) {
        const reason = m[1].replace(/'[^']*'/g, "'…'").replace(/\d+/g, "N");
        counts.set(reason, (counts.get(reason) ?? 0) + 1);
      }
    }
    return [...counts].sort((a, b) => b[1] - a[1]);
  }

  /** GETs `path` from every router's API with a timeout; a router that does not answer gives its error. */
  async #get(path: string, timeoutMs: number): Promise<Map<string, string | Error>> {
    const out = new Map<string, string | Error>();
    await Promise.all(this.hosts.map(async (h) => {
      const r = await this.#lab.exec(h.name, ["curl", "-sSf", "-m", String(timeoutMs / 1000), API + path]);
      out.set(
        h.name,
        r.code === 0 ? r.stdout : new Error(`GET ${path}: ${r.stderr.trim() || `exit ${r.code}`}`),
      );
    }));
    return out;
  }

  /** Every router's report, or the error that stopped it (no answer within `timeoutMs`, bad JSON). */
  async reports(timeoutMs = 5000): Promise<Map<string, Report | Error>> {
    const out = new Map<string, Report | Error>();
    for (const [host, body] of await this.#get("/report", timeoutMs)) {
      if (body instanceof Error) out.set(host, body);
      else {
        try {
          out.set(host, JSON.parse(body) as Report);
        } catch (err) {
          out.set(host, new Error(`GET /report: ${(err as Error).message}`));
        }
      }
    }
    return out;
  }

  /** Every router's metrics, parsed with {@link parseMetrics}, or the error that stopped it. */
  async metrics(timeoutMs = 5000): Promise<Map<string, Map<string, number> | Error>> {
    const out = new Map<string, Map<string, number> | Error>();
    for (const [host, body] of await this.#get("/metrics", timeoutMs)) {
      out.set(host, body instanceof Error ? body : parseMetrics(body));
    }
    return out;
  }

  /** /proc figures of every router process still there (a reaped one is missing, a zombie has state Z). */
  async proc(): Promise<Map<string, ProcSample>> {
    const files = [...this.#pids.values()].flatMap((pid) => [`/proc/${pid}/stat`, `/proc/${pid}/statm`]);
    const byPid = parseProcFiles((await runCommand(["grep", "-H", "", ...files])).stdout);
    const out = new Map<string, ProcSample>();
    for (const [host, pid] of this.#pids) {
      const sample = byPid.get(pid);
      if (sample) out.set(host, sample);
    }
    return out;
  }

  /** Interface packet counters in every host's namespace. */
  async netdev(): Promise<Map<string, Map<string, NetdevSample>>> {
    const out = new Map<string, Map<string, NetdevSample>>();
    await Promise.all(this.hosts.map(async (h) => {
      const r = await this.#lab.exec(h.name, ["cat", "/proc/net/dev"]);
      out.set(h.name, parseNetdev(r.stdout));
    }));
    return out;
  }

  /**
   * One line per host of what can be seen without the router's help, for failure messages: CPU seconds,
   * private memory, process state and the frames through `weave-tap` so far, e.g.
   * `cpu 12.3 s, 41 MB, S, weave-tap 20 in / 31 out` (or `no process`).
   */
  async vitals(): Promise<Map<string, string>> {
    const [proc, dev] = await Promise.all([this.proc(), this.netdev()]);
    const out = new Map<string, string>();
    for (const h of this.hosts) {
      const p = proc.get(h.name), tap = dev.get(h.name)?.get("weave-tap");
      const cpu = p
        ? `cpu ${(p.cpuTicks / CLOCK_TICKS).toFixed(1)} s, ${
          (p.privateBytes / 2 ** 20).toFixed(0)
        } MB, ${p.state}`
        : "no process";
      out.set(h.name, `${cpu}, weave-tap ${tap ? `${tap.rxPackets} in / ${tap.txPackets} out` : "absent"}`);
    }
    return out;
  }

  /**
   * Polls every router's report until each sees the full mesh ({@link convergedAt}) or `timeoutMs` after
   * {@link Fleet.start} passed, or a router exited (the mesh cannot be full then); `onPoll` runs after each round (e.g. to take timed samples).
   *
   * @returns the milliseconds from start to convergence (undefined when it did not converge) and the last
   *   report or error per host
   */
  async waitConverged(
    timeoutMs: number,
    onPoll: () => Promise<void> = async () => {},
  ): Promise<{ ms?: number; last: Map<string, Report | Error> }> {
    const n = this.hosts.length;
    let last = new Map<string, Report | Error>();
    while (this.elapsedMs < timeoutMs) {
      last = await this.reports(Math.max(1000, Math.min(5000, timeoutMs - this.elapsedMs)));
      const ms = this.elapsedMs;
      if ([...last.values()].every((r) => !(r instanceof Error) && convergedAt(r, n))) return { ms, last };
      if (this.#exits.length > 0) break;
      await onPoll();
      await new Promise((r) => setTimeout(r, 500));
    }
    return { last };
  }
}
