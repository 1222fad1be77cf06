/**
 * Benchmark: attaching containers, three ways in the same run on one fresh lab host, 200 containers each:
 *   1. **attach**: `POST /attach` to the router (veth pair, IPAM address, sysctls, MAC, DNS name), the call
 *      `meshnet attach` and the engine watcher make;
 *   2. **CNI ADD**: the `meshnet-cni` process run as a CNI runtime runs it (env + stdin), so its start-up
 *      is included, as every runtime pays it;
 *   3. **ip**: the same veth setup by hand with `ip` commands (add the pair into the namespace, plug it into
 *      the bridge and up, address, link up), one process per command, as a shell script would.
 * Each phase times every container on its own and reports p50 and p99 in milliseconds; between phases the
 * interfaces are removed again (untimed). The router runs on the sleeve (`--no-fastdp`).
 *
 * Flow: the outer run (root namespace) builds the lab and 200 namespaces, launches meshnet, then re-runs this
 * file inside the host's namespace (where the API listens on loopback) to time the phases.
 *
 * Run: deno task bench:attach (needs root).
 *
 * @module
 */
import { type Lab, launchMeshnet, withLab } from "../src/lab/mod.ts";
import { mustRun as run } from "../src/lab/runner.ts";
import { nsOf, percentile, runInHost } from "./in_host.ts";

const N = 200;
const API = "http://127.0.0.1:6784";
const PLUGIN = new URL("../meshnet-cni", import.meta.url).pathname;
const CONF = JSON.stringify({ cniVersion: "1.1.0", name: "bench", type: "meshnet-cni" });

async function post(path: string, form: [string, string][]): Promise<void> {
  const res = await fetch(`${API}${path}`, { method: "POST", body: new URLSearchParams(form) });
  const body = await res.text();
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${body}`);
}

/** Times `fn(i)` for every container; returns the durations in milliseconds. */
async function timeEach(fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await fn(i);
    ms.push(performance.now() - t0);
  }
  return ms;
}

/** The inner run, inside the lab host's namespace: times the three phases and prints JSON. */
async function inside(prefix: string): Promise<void> {
  const netns = (i: number) => `/run/netns/${nsOf(prefix, i)}`;
  const attach = await timeEach((i) => post("/attach", [["container", nsOf(prefix, i)], ["name", `b${i}`]]));
  for (let i = 0; i < N; i++) await post("/detach", [["container", nsOf(prefix, i)]]);

  const cniEnv = (i: number, command: string) => [
    "env",
    `CNI_COMMAND=${command}`,
    `CNI_CONTAINERID=bench${i}`,
    `CNI_NETNS=${netns(i)}`,
    "CNI_IFNAME=eth0",
    "CNI_PATH=/opt/cni/bin",
    `CNI_ARGS=K8S_POD_NAME=c${i}`,
    PLUGIN,
  ];
  const cni = await timeEach((i) => run(cniEnv(i, "ADD"), CONF));
  for (let i = 0; i < N; i++) await run(cniEnv(i, "DEL"), CONF);

  const ip = await timeEach(async (i) => {
    const ns = nsOf(prefix, i);
    await run(["ip", "link", "add", `mnbv${i}`, "type", "veth", "peer", "name", "eth1", "netns", ns]);
    await run(["ip", "link", "set", `mnbv${i}`, "master", "weave", "up"]);
    await run(["ip", "-n", ns, "addr", "add", `10.99.${i >> 8}.${(i & 255) + 1}/16`, "dev", "eth1"]);
    await run(["ip", "-n", ns, "link", "set", "eth1", "up"]);
  });
  for (let i = 0; i < N; i++) await run(["ip", "link", "del", `mnbv${i}`]);
  console.log(JSON.stringify({ attach, cni, ip }));
}

async function outside(lab: Lab): Promise<void> {
  await launchMeshnet(lab, 1, ["--no-fastdp"], []);
  for (let i = 0; i < N; i++) await run(["ip", "netns", "add", nsOf(lab.prefix, i)]);
  try {
    const out = await runInHost(lab, new URL(import.meta.url), [lab.prefix]);
    const r = JSON.parse(out) as Record<string, number[]>;
    const rows = [
      ["attach (API: veth + address + DNS)", r.attach],
      ["CNI ADD (meshnet-cni process)", r.cni],
      [
        "ip commands (4 processes)",
        r.ip,
      ],
    ] as const;
    console.log(`${N} containers each, milliseconds per container\n`);
    console.log("| way | p50 | p99 |\n| --- | ---: | ---: |");
    for (const [name, ms] of rows) {
      console.log(`| ${name} | ${percentile(ms, 50).toFixed(1)} | ${percentile(ms, 99).toFixed(1)} |`);
    }
  } finally {
    for (let i = 0; i < N; i++) await run(["ip", "netns", "del", nsOf(lab.prefix, i)]).catch(() => undefined);
  }
}

if (Deno.args[0] === "inside") await inside(Deno.args[1]);
else await withLab({ hosts: 1 }, outside);
