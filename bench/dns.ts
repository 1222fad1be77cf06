/**
 * DNS benchmark: queries per second of meshnet's DNS server against dnsmasq in the same run, two cases.
 *
 * - local: both serve the same 4 A names on 127.0.0.1 (random ports).
 * - forwarded, warm cache: an upstream dnsmasq answers 4 names under ext.test (TTL 3600); a second dnsmasq
 *   and meshnet both forward to it with their caches warmed by one pass, so both answer from cache.
 * dnsperf runs `-l SECONDS` (default 5) against dnsmasq, meshnet (in this process, UDP), meshnet, dnsmasq
 * for each case. Prints the machine, the load average before each case, every rate and the ratio of the
 * sums (goal ≥ 1.0×).
 * Installs dnsperf and dnsmasq with apt-get when missing.
 *
 * Run: bash scripts/deno.sh run --unstable-net --allow-all bench/dns.ts [SECONDS]
 *
 * @module
 */

import { DnsServer } from "../src/dns/server.ts";
import { NameTable } from "../src/dns/name_table.ts";
import { setLogLevel } from "../src/log.ts";
import { startDnsmasq } from "../tests/dns/dnsmasq.ts";
import { CachingForwarder } from "../src/dns/caching_forwarder.ts";

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
 * Runs dnsperf against dnsmasq, meshnet, meshnet, dnsmasq (so a load drift hits both alike) and prints each
 * rate, the ratio of the sums and the load average before the case.
 */
async function compare(
  label: string,
  dnsmasqPort: number,
  meshnetPort: number,
  queries: string,
  seconds: number,
): Promise<void> {
  console.log(`${label}: load average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const sums = { dnsmasq: 0, meshnet: 0 };
  for (
    const [who, port] of [["dnsmasq", dnsmasqPort], ["meshnet", meshnetPort], ["meshnet", meshnetPort], [
      "dnsmasq",
      dnsmasqPort,
    ]] as const
  ) {
    const r = await dnsperf(port, queries, seconds);
    sums[who] += r.qps;
    console.log(`${label}: ${who} ${r.qps.toFixed(0)} qps (lost ${r.lost})`);
  }
  console.log(`${label}: ratio ${(sums.meshnet / sums.dnsmasq).toFixed(2)}x dnsmasq (goal 1.00x)`);
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
  try {
    console.log(`machine: ${await machine()}`);
    await compare("local", dnsmasq.port, server.port, queries, seconds);
    await dnsperf(forwarding.port, forwarded, 1); // warms both caches
    await dnsperf(cachingServer.port, forwarded, 1);
    await compare("forwarded, warm cache", forwarding.port, cachingServer.port, forwarded, seconds);
  } finally {
    await server.close();
    await cachingServer.close();
    await Promise.all([dnsmasq, upstream, forwarding].map((d) => d.stop()));
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
