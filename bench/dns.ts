/**
 * DNS benchmark: queries per second of meshnet's DNS server against dnsmasq in the same run, two cases.
 *
 * - local: both serve the same 4 A names on 127.0.0.1 (random ports).
 * - forwarded, warm cache: an upstream dnsmasq answers 4 names under ext.test (TTL 3600); a second dnsmasq
 *   and meshnet both forward to it with their caches warmed by one pass, so both answer from cache.
 * meshnet runs two ways: "worker", the DNS Worker the router uses (UDP socket, names and cache in a Worker),
 * and "main thread", the same batched UDP path on this process's main thread (DnsServer), to show what the
 * Worker costs or gains. dnsperf runs `-l SECONDS` (default 5) against dnsmasq, worker, main thread, main
 * thread, worker, dnsmasq for each case. Prints the machine, the load average before each case, every rate
 * and each meshnet way's ratio of the sums to dnsmasq's (goal ≥ 1.0×).
 * Installs dnsperf and dnsmasq with apt-get when missing.
 *
 * Run: bash scripts/deno.sh task bench:dns [SECONDS]
 *
 * @module
 */

import { DnsServer } from "../src/dns/server.ts";
import { NameTable } from "../src/dns/name_table.ts";
import { setLogLevel } from "../src/log.ts";
import { startDnsmasq } from "../tests/dns/dnsmasq.ts";
import { CachingForwarder } from "../src/dns/caching_forwarder.ts";
import { DnsWorker } from "../src/dns/dns_worker.ts";

const NAMES: [string, string][] = [
  ["x.weave.local", "10.32.0.1"],
  ["y.weave.local", "10.32.0.2"],
  ["z.weave.local", "10.32.0.3"],
  ["w.weave.local", "10.40.0.1"],
];
const PEER = "ce:31:e0:06:45:1e";

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { ok: o.success, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
  } catch (e) {
    return { ok: false, out: (e as Error).message };
  }
}

async function ensureInstalled(): Promise<void> {
  const missing = [];
  for (const [bin, pkg] of [["dnsperf", "dnsperf"], ["dnsmasq", "dnsmasq"]]) {
    if (!(await run("sh", ["-c", `command -v ${bin}`])).ok) missing.push(pkg);
  }
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(" ")}`);
  const r = await run("apt-get", ["install", "-y", ...missing]);
  if (!r.ok) {
    throw new Error(`Cannot install ${missing.join(" ")}: ${r.out.slice(-300)}; install them by hand`);
  }
}

async function machine(): Promise<string> {
  // Deno wants --allow-all to read /proc itself, so ask grep.
  const info = await new Deno.Command("grep", {
    args: ["-m1", "model name", "/proc/cpuinfo"],
    stdout: "piped",
  }).output();
  const cpu = new TextDecoder().decode(info.stdout).match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
  const cores = navigator.hardwareConcurrency;
  return `${cpu}, ${cores} cores, Linux ${Deno.osRelease()}, Deno ${Deno.version.deno}`;
}

/** Runs dnsperf against 127.0.0.1:port and returns queries per second and the lost count. */
async function dnsperf(
  port: number,
  queries: string,
  seconds: number,
): Promise<{ qps: number; lost: string }> {
  const r = await run("dnsperf", [
    "-s",
    "127.0.0.1",
    "-p",
    String(port),
    "-d",
    queries,
    "-l",
    String(seconds),
  ]);
  const qps = Number(r.out.match(/Queries per second:\s*([\d.]+)/)?.[1]);
  if (!r.ok || !Number.isFinite(qps)) {
    throw new Error(`dnsperf against port ${port} failed: ${r.out.slice(-400)}`);
  }
  return { qps, lost: r.out.match(/Queries lost:\s*(\S+)/)?.[1] ?? "?" };
}

/**
 * Runs dnsperf against dnsmasq, then each meshnet way, then them in reverse order, then dnsmasq (so a load
 * drift hits all alike), and prints each rate, each way's ratio of the sums to dnsmasq's and the load average
 * before the case.
 */
async function compare(
  label: string,
  dnsmasqPort: number,
  meshnet: Record<string, number>,
  queries: string,
  seconds: number,
): Promise<void> {
  console.log(`${label}: load average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const ways = Object.entries(meshnet);
  const order: [string, number][] = [["dnsmasq", dnsmasqPort], ...ways, ...ways.toReversed(), [
    "dnsmasq",
    dnsmasqPort,
  ]];
  const sums: Record<string, number> = {};
  for (const [who, port] of order) {
    const r = await dnsperf(port, queries, seconds);
    sums[who] = (sums[who] ?? 0) + r.qps;
    console.log(`${label}: ${who} ${r.qps.toFixed(0)} qps (lost ${r.lost})`);
  }
  for (const [who] of ways) {
    console.log(`${label}: ${who} ratio ${(sums[who] / sums.dnsmasq).toFixed(2)}x dnsmasq (goal 1.00x)`);
  }
}

async function main(): Promise<void> {
  const seconds = Number(Deno.args[0] ?? 5);
  setLogLevel("error");
  await ensureInstalled();
  const dir = await Deno.makeTempDir({ prefix: "meshnet-bench-dns-" });
  const hosts = `${dir}/hosts`, queries = `${dir}/queries`, forwarded = `${dir}/forwarded`;
  await Deno.writeTextFile(hosts, NAMES.map(([n, a]) => `${a} ${n}\n`).join(""));
  await Deno.writeTextFile(queries, NAMES.map(([n]) => `${n} A\n`).join(""));
  await Deno.writeTextFile(forwarded, ["a", "b", "c", "d"].map((n) => `${n}.ext.test A\n`).join(""));
  const table = new NameTable();
  NAMES.forEach(([n, a], i) => table.add(n, a, `c${i}`, PEER));
  const dnsmasq = await startDnsmasq([`--addn-hosts=${hosts}`, "--cache-size=1000"], "x.weave.local.");
  const server = DnsServer.listen({ hostname: "127.0.0.1", port: 0, table });
  const upstream = await startDnsmasq(["--address=/ext.test/192.0.2.1", "--local-ttl=3600"], "ext.test.");
  const forwarding = await startDnsmasq(
    [`--server=127.0.0.1#${upstream.port}`, "--cache-size=1000"],
    "probe.ext.test.",
  );
  const forwarder = new CachingForwarder({ servers: () => [{ address: "127.0.0.1", port: upstream.port }] });
  const cachingServer = DnsServer.listen({
    hostname: "127.0.0.1",
    port: 0,
    table: new NameTable(),
    forwarder,
  });
  const workerBase = {
    hostname: "127.0.0.1",
    port: 0,
    domain: "weave.local.",
    ttl: 1,
    resolvConf: "/nonexistent/resolv.conf",
  };
  const worker = await DnsWorker.start({ ...workerBase, upstreams: [], entries: table.entries() });
  const forwardingWorker = await DnsWorker.start({
    ...workerBase,
    upstreams: [{ address: "127.0.0.1", port: upstream.port }],
    entries: [],
  });
  try {
    console.log(`machine: ${await machine()}`);
    await compare(
      "local",
      dnsmasq.port,
      { worker: worker.port, "main thread": server.port },
      queries,
      seconds,
    );
    await dnsperf(forwarding.port, forwarded, 1); // warms the caches
    await dnsperf(cachingServer.port, forwarded, 1);
    await dnsperf(forwardingWorker.port, forwarded, 1);
    await compare(
      "forwarded, warm cache",
      forwarding.port,
      { worker: forwardingWorker.port, "main thread": cachingServer.port },
      forwarded,
      seconds,
    );
  } finally {
    await worker.stop();
    await forwardingWorker.stop();
    await server.close();
    await cachingServer.close();
    await Promise.all([dnsmasq, upstream, forwarding].map((d) => d.stop()));
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
