/**
 * Benchmark: meshnet's distributed IPAM through the router's API, in a lab of 3 fresh hosts.
 *
 * Flow per round (a fresh lab each):
 *   1. **prime**: launch meshnet on the 3 hosts at once; measure the time from launch to the first allocation
 *      on h1 (`POST /ip/first`, which waits for the ring), beside the baseline time from launch to h1 having
 *      both mesh connections established (what the IPAM cannot beat: it needs the peers to agree);
 *   2. **allocate**: N `POST /ip/<id>` on h1 from a Python http.client load generator run inside h1's namespace
 *      (the API listens on that namespace's loopback), one at a time and with several threads, beside the
 *      same client doing N `GET /status` (a trivial endpoint) and host-local, the CNI reference IPAM
 *      (`/usr/lib/cni/host-local`, one process per allocation as a CNI runtime calls it) when installed.
 *
 * The routers run on the sleeve (`--no-fastdp`): the IPAM does not use the data plane.
 *
 * Run: deno task bench:ipam
 *
 * @module
 */
import { type Lab, launchMeshnet, withLab } from "../src/lab/mod.ts";

const ROUNDS = 2;
const HOSTS = 3;
/** Allocations per measurement. */
const N = 200;
/** Threads of the concurrent load generator. */
const THREADS = 16;
const API = "http://127.0.0.1:6784";
const HOST_LOCAL = "/usr/lib/cni/host-local";

/** The load generator: argv = method, path with `{i}`, count, threads; prints JSON. */
const LOAD = `
import http.client, json, sys, threading, time
method, path, n, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lock = threading.Lock()
todo = iter(range(n))
lat, errors = [], []
def work():
    c = http.client.HTTPConnection("127.0.0.1", 6784, timeout=120)
    while True:
        with lock:
            i = next(todo, None)
        if i is None:
            return
        t = time.perf_counter()
        c.request(method, path.replace("{i}", str(i)))
        r = c.getresponse()
        body = r.read()
        d = time.perf_counter() - t
        with lock:
            lat.append(d)
            if r.status >= 300:
                errors.append(body.decode()[:200])
t0 = time.perf_counter()
ts = [threading.Thread(target=work) for _ in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
total = time.perf_counter() - t0
lat.sort()
print(json.dumps({"seconds": total, "errors": errors[:1], "failed": len(errors),
  "p50": lat[len(lat) // 2], "p99": lat[min(len(lat) - 1, len(lat) * 99 // 100)]}))
`;

/** host-local: argv = count; allocates that many container ids from one range, one process each. */
const HOST_LOCAL_LOAD = `
import json, os, subprocess, sys, tempfile, time
n = int(sys.argv[1])
d = tempfile.mkdtemp(prefix="mnt-bench-hostlocal-")
conf = json.dumps({"cniVersion": "1.0.0", "name": "bench", "type": "bridge",
  "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.32.0.0/12"}]], "dataDir": d}})
env = dict(os.environ, CNI_COMMAND="ADD", CNI_NETNS="/proc/self/ns/net", CNI_IFNAME="eth0", CNI_PATH="/usr/lib/cni")
t0 = time.perf_counter()
failed = 0
for i in range(n):
    r = subprocess.run(["${HOST_LOCAL}"], input=conf.encode(), capture_output=True,
      env=dict(env, CNI_CONTAINERID="c%d" % i))
    failed += r.returncode != 0
total = time.perf_counter() - t0
subprocess.run(["rm", "-rf", d])
print(json.dumps({"seconds": total, "failed": failed}))
`;

interface Load {
  seconds: number;
  failed: number;
  errors?: string[];
  p50?: number;
  p99?: number;
}

async function python(lab: Lab, script: string, args: string[]): Promise<Load> {
  const r = await lab.exec("h1", ["python3", "-c", script, ...args]);
  if (r.code !== 0) throw new Error(`Load generator failed: ${r.stderr.trim()}`);
  const out: Load = JSON.parse(r.stdout);
  if (out.failed > 0) throw new Error(`${out.failed} requests failed, e.g. ${out.errors?.[0] ?? "?"}`);
  return out;
}

/** Polls `probe` every 20 ms until true; returns the ms since `t0`. */
async function when(t0: number, probe: () => Promise<boolean>, what: string): Promise<number> {
  while (!(await probe())) {
    if (performance.now() - t0 > 120_000) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - t0;
}

async function curl(lab: Lab, args: string[]): Promise<{ code: number; out: string }> {
  const r = await lab.exec("h1", ["curl", "-sf", ...args]);
  return { code: r.code, out: r.stdout };
}

/** Launches 3 hosts at once; ms from launch to h1's connections, its ring ready and its first allocation. */
async function prime(lab: Lab): Promise<{ connected: number; ready: number; allocated: number }> {
  const t0 = performance.now();
  const launched = Promise.all(lab.hosts.map((h) => launchMeshnet(lab, h.number, ["--no-fastdp"])));
  const report = async () => {
    const r = await curl(lab, [`${API}/report`]);
    return r.code === 0 ? JSON.parse(r.out) : undefined;
  };
  const connected = when(t0, async () => {
    const conns: { state: string }[] = (await report())?.router.connections ?? [];
    return conns.filter((c) => c.state === "established").length === HOSTS - 1;
  }, "h1's connections");
  const ready = when(t0, async () => (await report())?.ipam.rings[0].state === "ready", "h1's ring");
  const allocated = (async () => {
    await when(t0, async () => (await curl(lab, [`${API}/status`])).code === 0, "h1's API");
    const r = await curl(lab, ["-X", "POST", `${API}/ip/first`]);
    if (r.code !== 0) throw new Error("The first allocation failed");
    return performance.now() - t0;
  })();
  await launched;
  return { connected: await connected, ready: await ready, allocated: await allocated };
}

const rate = (l: Load) => Math.round(N / l.seconds);
const ms = (s?: number) => ((s ?? 0) * 1000).toFixed(1);

// Deno wants --allow-all to read /proc directly, so the CPU model comes from grep.
const cpuinfo = await new Deno.Command("grep", { args: ["-m1", "model name", "/proc/cpuinfo"] }).output();
const cpu = new TextDecoder().decode(cpuinfo.stdout).split(":")[1]?.trim() ?? "unknown CPU";
console.log(
  `Machine: ${cpu}, ${navigator.hardwareConcurrency} cores, ${Deno.osRelease()}, Deno ${Deno.version.deno}, ` +
    `load average ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")}`,
);
const hostLocal = await Deno.stat(HOST_LOCAL).then(() => true, () => false);
console.log(
  "| round | launch → connected (ms) | launch → ring ready (ms) | launch → first allocation (ms) | POST /ip 1 thread (alloc/s, p50 ms) | " +
    `POST /ip ${THREADS} threads (alloc/s, p99 ms) | GET /status 1 thread (req/s) | host-local (alloc/s) |`,
);
console.log("|---|---|---|---|---|---|---|---|");
for (let round = 1; round <= ROUNDS; round++) {
  await withLab({ hosts: HOSTS }, async (lab) => {
    const p = await prime(lab);
    const one = await python(lab, LOAD, ["POST", "/ip/one-{i}", String(N), "1"]);
    const many = await python(lab, LOAD, ["POST", "/ip/many-{i}", String(N), String(THREADS)]);
    const status = await python(lab, LOAD, ["GET", "/status", String(N), "1"]);
    const local = hostLocal ? `${rate(await python(lab, HOST_LOCAL_LOAD, [String(N)]))}` : "not installed";
    console.log(
      `| ${round} | ${p.connected.toFixed(0)} | ${p.ready.toFixed(0)} | ${p.allocated.toFixed(0)} | ${
        rate(one)
      }, ${ms(one.p50)} | ` +
        `${rate(many)}, ${ms(many.p99)} | ${rate(status)} | ${local} |`,
    );
  });
}
