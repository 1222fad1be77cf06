/**
 * Benchmark: rtnetlink through FFI against `ip -batch`, in the same run and the same fresh namespace.
 *
 * Flow: make namespace mnt-nlb-PID; then, for each of ROUNDS rounds, alternate the two contenders. Each
 * contender creates PAIRS veth pairs (up), adds one IPv4 address and one route per pair, then deletes
 * every pair (which takes its address and route with it). Timed: the create phase (3 ops per pair) and the
 * delete phase (1 op per pair); for ip that includes starting the process, as a caller that shells out
 * would pay. Prints ops/s medians per phase and in total, with the FFI/ip ratio; all single-threaded.
 *
 * Run: deno task bench:netlink (needs root).
 *
 * @module
 */
import { NetlinkSocket } from "../ffi/netlink/socket.ts";
import { linkAdd, linkDel, linkList } from "../ffi/netlink/link.ts";
import { addrAdd } from "../ffi/netlink/addr.ts";
import { routeAdd } from "../ffi/netlink/route.ts";

const PAIRS = 200;
const ROUNDS = 3;
const CREATE_OPS_PER_PAIR = 3;
const NS = `mnt-nlb-${Deno.pid}`;

async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

const addr = (i: number) => `10.200.${i}.1/24`;
const route = (i: number) => `10.201.${i}.0/24`;

/** Creates and deletes the pairs through FFI netlink; returns [create ms, delete ms]. */
function viaFfi(nl: NetlinkSocket): [number, number] {
  const t0 = performance.now();
  const indexes: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const l = linkAdd(nl, { kind: "veth", name: `nb${i}`, up: true, peer: { name: `nbp${i}` } });
    addrAdd(nl, l.index, addr(i));
    routeAdd(nl, { dst: route(i), dev: l.index });
    indexes.push(l.index);
  }
  const t1 = performance.now();
  if (linkList(nl).length !== 1 + 2 * PAIRS) throw new Error("FFI round did not create every pair");
  const t2 = performance.now();
  for (const index of indexes) linkDel(nl, index);
  return [t1 - t0, performance.now() - t2];
}

/** Creates and deletes the same pairs with `ip -n NS -batch`; returns [create ms, delete ms]. */
async function viaIp(nl: NetlinkSocket, dir: string): Promise<[number, number]> {
  const t0 = performance.now();
  await run("ip", "-n", NS, "-batch", `${dir}/create`);
  const t1 = performance.now();
  if (linkList(nl).length !== 1 + 2 * PAIRS) throw new Error("ip round did not create every pair");
  const t2 = performance.now();
  await run("ip", "-n", NS, "-batch", `${dir}/delete`);
  return [t1 - t0, performance.now() - t2];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "mnt-nlb-" });
  const create: string[] = [], del: string[] = [];
  for (let i = 0; i < PAIRS; i++) {
    create.push(`link add nb${i} up type veth peer name nbp${i}`, `addr add ${addr(i)} dev nb${i}`);
    create.push(`route add ${route(i)} dev nb${i}`);
    del.push(`link del nb${i}`);
  }
  Deno.writeTextFileSync(`${dir}/create`, create.join("\n") + "\n");
  Deno.writeTextFileSync(`${dir}/delete`, del.join("\n") + "\n");
  await run("ip", "netns", "add", NS);
  try {
    const nl = NetlinkSocket.open({ netns: NS });
    try {
      const ffi: [number, number][] = [], ip: [number, number][] = [];
      for (let r = 0; r < ROUNDS; r++) {
        ffi.push(viaFfi(nl));
        ip.push(await viaIp(nl, dir));
        console.log(
          `round ${r + 1}: ffi create ${ffi[r][0].toFixed(1)} ms + delete ${ffi[r][1].toFixed(1)} ms; ` +
            `ip -batch create ${ip[r][0].toFixed(1)} ms + delete ${ip[r][1].toFixed(1)} ms`,
        );
      }
      console.log(
        `machine: nproc ${navigator.hardwareConcurrency}, kernel ${Deno.osRelease()}, deno ${Deno.version.deno}`,
      );
      console.log(`workload: ${PAIRS} veth pairs, each up with 1 address and 1 route, then deleted`);
      const rate = (ops: number, ms: number[]) => ops / (median(ms) / 1000);
      const phases: [string, number, (t: [number, number]) => number][] = [
        ["create (veth+addr+route)", PAIRS * CREATE_OPS_PER_PAIR, (t) => t[0]],
        ["delete (link del)", PAIRS, (t) => t[1]],
        ["total", PAIRS * (CREATE_OPS_PER_PAIR + 1), (t) => t[0] + t[1]],
      ];
      for (const [name, ops, pick] of phases) {
        const f = rate(ops, ffi.map(pick)), i = rate(ops, ip.map(pick));
        console.log(
          `${name}: ffi netlink ${f.toFixed(0)} ops/s, ip -batch ${i.toFixed(0)} ops/s, ratio ffi/ip ${
            (f / i).toFixed(2)
          } (${ops} ops, median of ${ROUNDS})`,
        );
      }
    } finally {
      nl.close();
    }
  } finally {
    await run("ip", "netns", "del", NS);
    Deno.removeSync(dir, { recursive: true });
  }
}

await main();
