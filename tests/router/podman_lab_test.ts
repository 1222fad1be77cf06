/**
 * meshnet with a real container engine: Podman's Docker-compatible API (`podman system service`) and Podman
 * as a CNI runtime, on two lab hosts each. Podman runs as tests/runtime/podman_fixture.ts sets it up.
 */
import assert from "node:assert/strict";
import { type Lab, launchMeshnet, meshnet, meshnetDataDir, withLab } from "../../src/lab/mod.ts";
import { runCommand } from "../../src/lab/runner.ts";
import { meshnetCommand } from "../../src/self.ts";
import { IMAGE, PodmanHost, podmanMissing } from "../runtime/podman_fixture.ts";
import { until } from "../../testing/poll.ts";

const VERSIONS = ["0.4.0", "1.0.0", "1.1.0"];

async function requirePodman(): Promise<void> {
  const pkg = await podmanMissing();
  if (pkg) throw new Error(`The Podman lab tests need '${pkg}': apt-get install podman runc busybox-static`);
}

/** Podman for each host, destroyed (containers, service, storage) whatever happens. */
async function withPodman(
  lab: Lab,
  make: (host: string, dir: string) => Promise<PodmanHost>,
  fn: (p: PodmanHost[]) => Promise<void>,
): Promise<void> {
  const hosts: PodmanHost[] = [];
  const root = await Deno.makeTempDir({ prefix: `${lab.prefix}podman-` });
  try {
    for (const h of ["h1", "h2"]) hosts.push(await make(h, `${root}/${h}`));
    await fn(hosts);
  } finally {
    for (const p of hosts) await p.destroy();
    await Deno.remove(root, { recursive: true }).catch(() => undefined);
  }
}

/** GET `path` of the router API on `host`. */
async function routerGet(lab: Lab, host: string, path: string): Promise<{ code: number; body: string }> {
  const r = await lab.exec(host, ["curl", "-s", "-w", "\n%{http_code}", `http://127.0.0.1:6784${path}`]);
  const lines = r.stdout.trimEnd().split("\n");
  return { code: Number(lines.pop()), body: lines.join("\n") };
}

/** Runs `cmd` in the network namespace of the container whose main process is `pid`. */
function inContainer(pid: number, cmd: string[]) {
  return runCommand(["nsenter", `--net=/proc/${pid}/ns/net`, ...cmd]);
}

/** The address `name` has in `host`'s DNS ("" when none), asked from inside the container with `pid`. */
async function lookup(lab: Lab, host: string, pid: number, name: string): Promise<string> {
  const server = (await routerGet(lab, host, "/dns-address")).body.trim().replace(/:53$/, "");
  const r = await inContainer(pid, [
    "dig",
    "+short",
    "+time=1",
    "+tries=1",
    `@${server}`,
    `${name}.weave.local`,
  ]);
  return r.stdout.trim();
}

Deno.test("Podman API: containers attached by name on two hosts reach each other; a stopped one leaves DNS within 2 s and gets its address back on restart", async () => {
  await requirePodman();
  await withLab({ hosts: 2 }, async (lab) => {
    await withPodman(lab, (h, dir) => PodmanHost.create(lab, h, dir), async (pods) => {
      const addr: string[] = [];
      const pid: number[] = [];
      for (const [i, p] of pods.entries()) {
        const h = `h${i + 1}`;
        await p.serve();
        // The router finds the engine through DOCKER_HOST, as a user's would.
        const peers = lab.peersOf(i + 1).map((x) => x.address);
        const launch = await runCommand([
          "ip",
          "netns",
          "exec",
          lab.ns(h),
          "env",
          `DOCKER_HOST=unix://${p.socket}`,
          meshnetCommand(),
          "launch",
          "--data-dir",
          meshnetDataDir(lab, h),
          "--nickname",
          h,
          "--no-fastdp",
          ...peers,
        ]);
        assert.equal(launch.code, 0, launch.stderr);
      }
      for (const [i, p] of pods.entries()) {
        const h = `h${i + 1}`;
        const name = `web${i + 1}`;
        const created = await p.api("POST", `/containers/create?name=${name}`, {
          Image: IMAGE,
          Cmd: ["sleep", "300"],
          Hostname: name,
          HostConfig: { NetworkMode: "none" },
        });
        assert.equal(created.status, 201, created.body);
        assert.equal((await p.api("POST", `/containers/${name}/start`)).status, 204);
        const attach = await meshnet(lab, h, ["attach", name]);
        assert.equal(attach.code, 0, attach.stderr);
        addr.push(attach.stdout.trim().split(" ")[0].split("/")[0]);
        pid.push(JSON.parse((await p.api("GET", `/containers/${name}/json`)).body).State.Pid);
      }
      const ping = await inContainer(pid[0], ["ping", "-c1", "-W5", addr[1]]);
      assert.equal(ping.code, 0, `web1 → web2 (${addr[1]}): ${ping.stdout}`);
      assert.equal(
        await until(
          "web1 in h2's DNS",
          5000,
          async () => (await lookup(lab, "h2", pid[1], "web1")) === addr[0] || undefined,
        ),
        true,
      );

      const id = JSON.parse((await pods[0].api("GET", "/containers/web1/json")).body).Id;
      assert.equal((await pods[0].api("POST", "/containers/web1/stop?t=0")).status, 204);
      const stopped = Date.now();
      await until(
        "web1 to leave h2's DNS",
        2000,
        async () => (await lookup(lab, "h2", pid[1], "web1")) === "" || undefined,
      );
      assert.ok(Date.now() - stopped <= 2000, `gone from h2's DNS after ${Date.now() - stopped} ms`);
      assert.doesNotMatch((await meshnet(lab, "h1", ["ps"])).stdout, /web1/, "detached on h1");
      const held = await routerGet(lab, "h1", `/ip/${id}`);
      assert.equal(held.body.split("/")[0], addr[0], "the address is kept for the grace period");

      assert.equal((await pods[0].api("POST", "/containers/web1/start")).status, 204);
      await until(
        "web1 back in h2's DNS",
        5000,
        async () => (await lookup(lab, "h2", pid[1], "web1")) === addr[0] || undefined,
      );
      const newPid = JSON.parse((await pods[0].api("GET", "/containers/web1/json")).body).State.Pid;
      const again = await inContainer(newPid, ["ping", "-c1", "-W5", addr[1]]);
      assert.equal(again.code, 0, "the restarted container is on the overlay again with its old address");

      // `podman restart`: the old namespace's host veth can outlive it; the new namespace is attached anyway.
      assert.equal((await pods[0].api("POST", "/containers/web1/restart?t=0")).status, 204);
      const restartedPid = await until("web1 to run again with a new PID", 10_000, async () => {
        const p = JSON.parse((await pods[0].api("GET", "/containers/web1/json")).body).State.Pid;
        return p && p !== newPid ? p as number : undefined;
      });
      await until(
        "web1 on the overlay after podman restart",
        15_000,
        async () =>
          (await inContainer(restartedPid, ["ping", "-c1", "-W2", addr[1]])).code === 0 || undefined,
      );
      await until(
        "web1 in h2's DNS after podman restart",
        10_000,
        async () => (await lookup(lab, "h2", pid[1], "web1")) === addr[0] || undefined,
      );

      // detach takes a name too; the name leaves DNS with the interface.
      const detach = await meshnet(lab, "h2", ["detach", "web2"]);
      assert.equal(detach.code, 0, detach.stderr);
      assert.equal(detach.stdout.trim().split("/")[0], addr[1]);
      await until(
        "web2 to leave h1's DNS",
        2000,
        async () => (await lookup(lab, "h1", restartedPid, "web2")) === "" || undefined,
      );
    });
  });
});

Deno.test("Podman as a CNI runtime: containers on two hosts get address and DNS from meshnet, for every version", async () => {
  await requirePodman();
  await withLab({ hosts: 2 }, async (lab) => {
    for (const h of [1, 2]) await launchMeshnet(lab, h, ["--no-fastdp"]);
    const pluginDir = await Deno.makeTempDir({ prefix: `${lab.prefix}cni-bin-` });
    try {
      await Deno.symlink(new URL("../../meshnet-cni", import.meta.url).pathname, `${pluginDir}/meshnet-cni`);
      const shipped = JSON.parse(
        await Deno.readTextFile(new URL("../../deploy/cni/meshnet.conflist", import.meta.url)),
      );
      // Every version, then the conflist meshnet ships (cniVersion 1.0.0 for runtimes that predate cniVersions).
      for (const [i, v] of [...VERSIONS, "deploy/cni/meshnet.conflist"].entries()) {
        const net = `mn${i}`;
        // Podman 4.3's libcni knows results up to 1.0.0 and predates cniVersions: it refuses 1.1.0 itself.
        const podmanSpeaks = v !== "1.1.0";
        const conflist = JSON.stringify(
          i < VERSIONS.length
            ? { cniVersion: v, name: net, plugins: [{ type: "meshnet-cni" }] }
            : { ...shipped, name: net },
        );
        await withPodman(
          lab,
          (h, dir) => PodmanHost.create(lab, h, dir, { pluginDirs: [pluginDir], conflist, name: net }),
          async (pods) => {
            for (const [j, p] of pods.entries()) {
              const r = await p.podman([
                "run",
                "-d",
                "--network",
                net,
                "--name",
                `c${j + 1}v${i}`,
                IMAGE,
                "sleep",
                "300",
              ]);
              if (!podmanSpeaks) {
                assert.match(r.stderr, /unsupported CNI result version "1\.1\.0"/, `[${v}] ${r.stderr}`);
                return;
              }
              assert.equal(r.code, 0, `[${v}] podman run on h${j + 1}: ${r.stderr}`);
            }
            // By name, through the resolv.conf Podman wrote from the plugin's result.
            const ping = await pods[0].podman(["exec", `c1v${i}`, "ping", "-c1", "-W5", `c2v${i}`]);
            assert.equal(ping.code, 0, `[${v}] c1 → c2 by name: ${ping.stdout}${ping.stderr}`);
            const resolv = await pods[0].podman(["exec", `c1v${i}`, "cat", "/etc/resolv.conf"]);
            assert.match(resolv.stdout, /search .*weave\.local/, `[${v}] search domain`);
          },
        );
      }
    } finally {
      await Deno.remove(pluginDir, { recursive: true });
    }
  });
});
