/**
 * The single file on a machine that has nothing else: a copy of it runs in a private mount namespace where
 * the checkout, both node_modules and the Deno and npm caches are hidden under empty tmpfs mounts (the
 * network namespaces in /run/netns stay shared, so the lab is visible and removed from outside). Through the
 * file alone it brings up a two-host lab whose containers ping each other, and as `meshnet-cni` it adds a
 * namespace that then reaches the other host's container, and deletes it again. Before that, the first runs:
 * many at once unpack the runtime exactly once, and a damaged copy is refused.
 */
import assert from "node:assert/strict";
import { removeLab, uniquePrefix } from "../../src/lab/mod.ts";
import { runCommand, type RunResult } from "../../src/lab/runner.ts";
import { CHECKOUT, type DistFile, withDistFile } from "./dist_file.ts";

const HOME = Deno.env.get("HOME") ?? "/root";

/** What a machine without meshnet's sources or toolchain lacks: the checkout, node_modules and the caches. */
function hiddenPaths(): string[] {
  const candidates = [
    CHECKOUT,
    `${CHECKOUT}/node_modules`,
    `${CHECKOUT}/tools/deno/node_modules`,
    Deno.env.get("DENO_DIR") ?? `${HOME}/.cache/deno`,
    `${HOME}/.npm`,
  ];
  const real = candidates.flatMap((p) => {
    try {
      return [Deno.realPathSync(p)];
    } catch {
      return [];
    }
  });
  // Deepest first: a path under an already hidden one would be gone.
  return [...new Set(real)].sort((a, b) => b.length - a.length);
}

/** Runs `cmd` in a new mount namespace with {@link hiddenPaths} under empty tmpfs mounts and a bare env. */
function hidden(dist: DistFile, cmd: string[], stdin?: string): Promise<RunResult> {
  const mounts = hiddenPaths().map((p) => `mount -t tmpfs -o size=1m meshnet-hidden '${p}'`).join(" && ");
  const env = [`PATH=${dist.dir}/bin:/usr/sbin:/usr/bin:/sbin:/bin`, `HOME=${HOME}`];
  return runCommand([
    "env",
    "-i",
    ...env,
    `MESHNET_RUNTIME_DIR=${dist.runtimeDir}`,
    "unshare",
    "-m",
    "--propagation",
    "unchanged",
    "--",
    "sh",
    "-c",
    `${mounts} && cd / && exec "$@"`,
    "sh",
    ...cmd,
  ], stdin);
}

/** Retries `cmd` (hidden) until it exits 0, for up to `tries` seconds. */
async function eventually(dist: DistFile, cmd: string[], tries = 30): Promise<RunResult> {
  let r = await hidden(dist, cmd);
  for (let i = 1; i < tries && r.code !== 0; i++) {
    await new Promise((res) => setTimeout(res, 1000));
    r = await hidden(dist, cmd);
  }
  return r;
}

Deno.test("the file: concurrent first runs unpack once; a damaged copy is refused", async () => {
  await withDistFile(async (dist) => {
    const env = { MESHNET_RUNTIME_DIR: dist.runtimeDir };
    const runs = await Promise.all(
      Array.from(
        { length: 6 },
        () => new Deno.Command(dist.file, { args: ["version"], env, stderr: "piped" }).output(),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const entries = [...Deno.readDirSync(dist.runtimeDir)].map((e) => e.name);
    assert.equal(entries.length, 1, `one runtime directory and no temporary leftovers: ${entries}`);
    assert.match(entries[0], /^\d+\.\d+\.\d+-[0-9a-f]{64}$/);

    const bytes = await Deno.readFile(dist.file);
    const damaged = `${dist.dir}/damaged`;
    await Deno.writeFile(damaged, bytes.subarray(0, bytes.length - 1000), { mode: 0o755 });
    const r = await runCommand(["env", `MESHNET_RUNTIME_DIR=${dist.dir}/runtime2`, damaged, "version"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^meshnet: cannot unpack the runtime .*: the payload's SHA-256 is [0-9a-f]{64}, not /,
    );
    assert.deepEqual([...Deno.readDirSync(`${dist.dir}/runtime2`)], [], "nothing left behind");
  });
});

Deno.test("the file alone (checkout, node_modules, Deno and npm caches hidden): a two-host lab and meshnet-cni", async () => {
  await withDistFile(async (dist) => {
    const p = await uniquePrefix();
    try {
      const probe = await hidden(dist, [
        "sh",
        "-c",
        `ls -A ${hiddenPaths().join(" ")} | grep -v :; ! command -v deno`,
      ]);
      assert.equal(probe.code, 0, `the mounts failed or there is a deno: ${probe.stdout}${probe.stderr}`);
      assert.equal(probe.stdout.trim(), "", `the hidden paths are empty: ${probe.stdout}`);

      const version = await hidden(dist, ["meshnet", "version"]);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout, /^meshnet \S+ \(deno \S+; self-extracting, commit /);

      const up = await hidden(dist, [
        "meshnet",
        "lab",
        "up",
        "--prefix",
        p,
        "--hosts",
        "2",
        "--containers",
        "1",
      ]);
      assert.equal(up.code, 0, up.stderr);
      /** The file's own `meshnet lab exec` of `cmd` in container h1c1. */
      const inH1c1 = (
        ...cmd: string[]
      ) => ["meshnet", "lab", "exec", "--prefix", p, `${p}h1c1`, "--", ...cmd];
      const ping = await eventually(dist, inH1c1("ping", "-c1", "-W1", "10.32.2.1"));
      assert.equal(ping.code, 0, `h1c1 cannot ping h2c1: ${ping.stdout}${ping.stderr}`);
      // The DNS Worker is a separate module in the file: its answer shows the file carries it.
      const dig = "dig +short +tries=1 +time=1 weave.local SOA | grep -q weave.local";
      const soa = await eventually(dist, inH1c1("sh", "-c", dig), 10);
      assert.equal(soa.code, 0, `h1c1 gets no SOA of weave.local from its DNS: ${soa.stdout}${soa.stderr}`);

      const ns = `${p}cni`;
      assert.equal((await runCommand(["ip", "netns", "add", ns])).code, 0);
      const vars = (command: string) => [
        `CNI_COMMAND=${command}`,
        "CNI_CONTAINERID=dist1",
        `CNI_NETNS=/run/netns/${ns}`,
        "CNI_IFNAME=eth0",
        "CNI_PATH=/opt/cni/bin",
      ];
      const conf = JSON.stringify({ cniVersion: "1.0.0", name: "mn", type: "meshnet-cni" });
      const plugin = (command: string) =>
        hidden(dist, ["ip", "netns", "exec", `${p}h1`, "env", ...vars(command), "meshnet-cni"], conf);
      const add = await plugin("ADD");
      assert.equal(add.code, 0, `ADD: ${add.stdout}${add.stderr}`);
      const result = JSON.parse(add.stdout);
      assert.equal(result.interfaces[0].name, "eth0");
      assert.match(result.ips[0].address, /^10\.\d+\.\d+\.\d+\/12$/);
      const fromCni = await eventually(
        dist,
        ["ip", "netns", "exec", ns, "ping", "-c1", "-W1", "10.32.2.1"],
        10,
      );
      assert.equal(fromCni.code, 0, `the CNI-added namespace cannot ping h2c1: ${fromCni.stdout}`);
      const del = await plugin("DEL");
      assert.equal(del.code, 0, `DEL: ${del.stdout}${del.stderr}`);
      const link = await runCommand(["ip", "-n", ns, "link", "show", "eth0"]);
      assert.notEqual(link.code, 0, "DEL removed eth0");

      const down = await hidden(dist, ["meshnet", "lab", "down", "--prefix", p]);
      assert.equal(down.code, 0, down.stderr);
    } finally {
      await removeLab(p);
      await runCommand(["ip", "netns", "del", `${p}cni`]); // ours, not the lab's: lab down leaves it
    }
  });
});
