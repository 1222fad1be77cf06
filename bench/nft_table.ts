/**
 * Benchmark: looking up meshnet's nftables table, as the routing check does every 10 s, two ways in the same
 * run and the same fresh namespace:
 *   1. **nft**: `nft list table inet meshnet` in the namespace, one process per lookup (the baseline);
 *   2. **nfnetlink**: {@link nftTableExists} on a NETLINK_NETFILTER socket opened and closed per lookup, as
 *      `tableExists()` does.
 * For each, ROUNDS rounds of LOOKUPS lookups, alternating; prints the median wall time and CPU time per lookup
 * (this process's own CPU plus its waited-for children's, from /proc/self/stat) with the ratio, and the load
 * average before and after.
 *
 * Run: deno task bench:nft (needs root; --allow-all, since Deno lets only that read /proc/self/stat).
 *
 * @module
 */
import { NETLINK_NETFILTER } from "../ffi/netlink/constants.ts";
import { nftTableExists } from "../ffi/netlink/nft_table.ts";
import { NetlinkSocket } from "../ffi/netlink/socket.ts";
import { mustRun as run } from "../src/lab/runner.ts";

const LOOKUPS = 100;
const ROUNDS = 3;
const NS = `mnt-nftb-${Deno.pid}`;
/** Clock ticks per second of /proc/self/stat's CPU fields (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds of this process and its waited-for children (utime, stime, cutime, cstime). */
function cpuSeconds(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields.slice(11, 15).reduce((s, f) => s + Number(f), 0) / TICKS_PER_SECOND;
}

/** Runs `lookup` LOOKUPS times; returns [wall ms, CPU ms] per lookup. */
async function time(lookup: () => Promise<boolean> | boolean): Promise<[number, number]> {
  const [t0, c0] = [performance.now(), cpuSeconds()];
  for (let i = 0; i < LOOKUPS; i++) {
    if (!(await lookup())) throw new Error("the table was not found");
  }
  return [(performance.now() - t0) / LOOKUPS, (cpuSeconds() - c0) * 1000 / LOOKUPS];
}

async function viaNft(): Promise<boolean> {
  const r = await new Deno.Command("ip", {
    args: ["netns", "exec", NS, "nft", "list", "table", "inet", "meshnet"],
    stdout: "null",
    stderr: "null",
  }).output();
  return r.success;
}

function viaNetlink(): boolean {
  const nl = NetlinkSocket.open({ netns: NS, protocol: NETLINK_NETFILTER });
  try {
    return nftTableExists(nl, "inet", "meshnet");
  } finally {
    nl.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");

await run(["ip", "netns", "add", NS]);
try {
  await run(["ip", "netns", "exec", NS, "nft", "add", "table", "inet", "meshnet"]);
  const load0 = load();
  const nft: [number, number][] = [], netlink: [number, number][] = [];
  for (let r = 0; r < ROUNDS; r++) {
    nft.push(await time(viaNft));
    netlink.push(await time(viaNetlink));
  }
  const show = (name: string, xs: [number, number][]) =>
    `${name.padEnd(10)} wall ${median(xs.map((x) => x[0])).toFixed(3)} ms  CPU ${
      median(xs.map((x) => x[1])).toFixed(3)
    } ms per lookup`;
  console.log(`load average before: ${load0}; after: ${load()}`);
  console.log(show("nft", nft));
  console.log(show("nfnetlink", netlink));
  const ratio = (i: 0 | 1) => median(netlink.map((x) => x[i])) / median(nft.map((x) => x[i]));
  console.log(`nfnetlink / nft: wall ${ratio(0).toFixed(4)}×, CPU ${ratio(1).toFixed(4)}×`);
} finally {
  await run(["ip", "netns", "del", NS]);
}
