/**
 * DNS benchmark: queries per second of meshnet's DNS server against dnsmasq in the same run.
 *
 * Both serve the same 4 A names on 127.0.0.1 (random ports); dnsperf runs `-l SECONDS` (default 5) against
 * dnsmasq, then against meshnet (in this process, UDP). Prints the machine, both rates and the ratio
 * (first bar ≥ 0.3×, goal ≥ 1.0×). Installs dnsperf and dnsmasq with apt-get when missing.
 *
 * Run: bash scripts/deno.sh run --unstable-net --allow-all bench/dns.ts [SECONDS]
 *
 * @module
 */

import { DnsServer } from "../src/dns/server.ts";
import { NameTable } from "../src/dns/name_table.ts";
import { setLogLevel } from "../src/log.ts";
import { startDnsmasq } from "../tests/dns/dnsmasq.ts";

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

async function main(): Promise<void> {
  const seconds = Number(Deno.args[0] ?? 5);
  setLogLevel("error");
  await ensureInstalled();
  const dir = await Deno.makeTempDir({ prefix: "meshnet-bench-dns-" });
  const hosts = `${dir}/hosts`, queries = `${dir}/queries`;
  await Deno.writeTextFile(hosts, NAMES.map(([n, a]) => `${a} ${n}\n`).join(""));
  await Deno.writeTextFile(queries, NAMES.map(([n]) => `${n} A\n`).join(""));
  const table = new NameTable();
  NAMES.forEach(([n, a], i) => table.add(n, a, `c${i}`, PEER));
  const dnsmasq = await startDnsmasq([`--addn-hosts=${hosts}`, "--cache-size=1000"], "x.weave.local.");
  const server = DnsServer.listen({ hostname: "127.0.0.1", port: 0, table });
  try {
    console.log(`machine: ${await machine()}`);
    const base = await dnsperf(dnsmasq.port, queries, seconds);
    console.log(`dnsmasq: ${base.qps.toFixed(0)} qps (lost ${base.lost})`);
    const ours = await dnsperf(server.port, queries, seconds);
    console.log(`meshnet: ${ours.qps.toFixed(0)} qps (lost ${ours.lost})`);
    console.log(`ratio: ${(ours.qps / base.qps).toFixed(2)}x dnsmasq (first bar 0.30x, goal 1.00x)`);
  } finally {
    await server.close();
    await dnsmasq.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
