/**
 * Benchmark: CNI ADD three ways in the same run on one fresh lab host running meshnet (sleeve), N containers
 * per way:
 *   1. **file**: the single file (self-extracting) as `meshnet-cni`, its fast path (the plugin alone);
 *   2. **checkout**: the checkout's `./meshnet-cni` launcher, which takes the same fast path in main.ts;
 *   3. **full CLI**: `./meshnet --debug cni` from the checkout, which loads the whole command line (commander,
 *      the router's modules) as every plugin run did before the fast path: the baseline of bench/RESULTS.md.
 * The ways take turns container by container, so load from elsewhere hits them alike; each ADD is timed as a
 * runtime sees it (process start-up included) and followed by an untimed DEL. Reports p50 and p99 per way,
 * the ratios to the full CLI, and the load average before and after.
 *
 * Flow: the outer run builds the file (scripts/dist/self_extracting.sh, runtime cache in a temporary
 * directory, unpacked once before timing), the lab and 3N namespaces, launches meshnet, then re-runs this
 * file inside the host's namespace (where the API listens on loopback) to time the ADDs.
 *
 * Run: deno task bench:cni [N] (needs root; N defaults to 100).
 *
 * @module
 */
import { type Lab, launchMeshnet, withLab } from "../src/lab/mod.ts";
import { mustRun as run } from "../src/lab/runner.ts";
import { loadAverage, nsOf, percentile, runInHost } from "./in_host.ts";

const CHECKOUT = new URL("..", import.meta.url).pathname;
const WAYS = ["file", "checkout", "full CLI"] as const;
const CONF = JSON.stringify({ cniVersion: "1.1.0", name: "bench", type: "meshnet-cni" });

/** The inner run, inside the lab host's namespace: the ways take turns, prints JSON. */
async function inside(prefix: string, n: number, filePlugin: string): Promise<void> {
  const plugins: Record<string, string[]> = {
    "file": [filePlugin],
    "checkout": [`${CHECKOUT}meshnet-cni`],
    "full CLI": [`${CHECKOUT}meshnet`, "--debug", "cni"],
  };
  const ms: Record<string, number[]> = Object.fromEntries(WAYS.map((w) => [w, []]));
  const cni = (plugin: string[], i: number, command: string) =>
    run([
      "env",
      `CNI_COMMAND=${command}`,
      `CNI_CONTAINERID=bench${i}`,
      `CNI_NETNS=/run/netns/${nsOf(prefix, i)}`,
      "CNI_IFNAME=eth0",
      "CNI_PATH=/opt/cni/bin",
      `CNI_ARGS=K8S_POD_NAME=c${i}`,
      ...plugin,
    ], CONF);
  for (let i = 0; i < 3 * n; i++) {
    // Rounds of three in a rotating order: 0 1 2, 1 2 0, 2 0 1, …
    const way = WAYS[(i + Math.floor(i / 3)) % 3];
    const t0 = performance.now();
    await cni(plugins[way], i, "ADD");
    ms[way].push(performance.now() - t0);
    await cni(plugins[way], i, "DEL");
  }
  console.log(JSON.stringify(ms));
}

async function outside(lab: Lab, n: number, dir: string): Promise<void> {
  const file = `${dir}/meshnet`;
  await run(["bash", new URL("../scripts/dist/self_extracting.sh", import.meta.url).pathname, file]);
  await Deno.symlink("meshnet", `${dir}/meshnet-cni`);
  Deno.env.set("MESHNET_RUNTIME_DIR", `${dir}/runtime`);
  await run([file, "version"]); // unpacks the runtime once, untimed
  await launchMeshnet(lab, 1, ["--no-fastdp"], []);
  for (let i = 0; i < 3 * n; i++) await run(["ip", "netns", "add", nsOf(lab.prefix, i)]);
  try {
    const before = loadAverage();
    const out = await runInHost(lab, new URL(import.meta.url), [lab.prefix, String(n), `${dir}/meshnet-cni`]);
    const after = loadAverage();
    const r = JSON.parse(out) as Record<string, number[]>;
    const row = (name: string, ms: number[]) =>
      `| ${name} | ${percentile(ms, 50).toFixed(1)} | ${percentile(ms, 99).toFixed(1)} |`;
    console.log(`CNI ADD, ${n} containers per way, taking turns; milliseconds per ADD\n`);
    console.log("| way | p50 | p99 |\n| --- | ---: | ---: |");
    console.log(row("single file (self-extracting) as meshnet-cni", r["file"]));
    console.log(row("checkout ./meshnet-cni (same fast path)", r["checkout"]));
    console.log(row("checkout ./meshnet --debug cni (full CLI, as before)", r["full CLI"]));
    const ratio = (way: string, p: number) =>
      (percentile(r[way], p) / percentile(r["full CLI"], p)).toFixed(2);
    for (const way of ["file", "checkout"]) {
      console.log(`${way} / full CLI: p50 ${ratio(way, 50)}×, p99 ${ratio(way, 99)}×`);
    }
    console.log(`load average: before ${before}, after ${after} (nproc ${navigator.hardwareConcurrency})`);
  } finally {
    for (let i = 0; i < 3 * n; i++) {
      await run(["ip", "netns", "del", nsOf(lab.prefix, i)]).catch(() => undefined);
    }
  }
}

if (Deno.args[0] === "inside") await inside(Deno.args[1], Number(Deno.args[2]), Deno.args[3]);
else {
  const n = Number(Deno.args[0] ?? 100);
  const dir = await Deno.makeTempDir({ prefix: "meshnet-bench-cni-" });
  try {
    await withLab({ hosts: 1 }, (lab) => outside(lab, n, dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
