/**
 * The image and the Kubernetes manifest for real: scripts/image.sh builds meshnet:VERSION offline into a
 * throwaway Podman store, then the DaemonSet's own init container and router container — command, env and
 * mounts read from deploy/kubernetes/meshnet.yaml, not copied — run with Podman on two lab hosts
 * (`--network ns:` the host's namespace, privileged, the host's PID namespace), with directories standing
 * in for each node's hostPath volumes. The `peers` init container needs a cluster (kubectl); its output,
 * every node's address including the node's own, is written to the emptyDir it would fill. The Secret is
 * absent (it is optional). Then: the plugin and conflist are in the node's directories, the two routers
 * connect, each recognises its own address among the peers, and /metrics alone answers on the node address.
 */
import assert from "node:assert/strict";
import { type Lab, withLab } from "../../src/lab/mod.ts";
import { runCommand } from "../../src/lab/runner.ts";
import { VERSION } from "../../src/version.ts";
import { parseYamlDocuments } from "../deploy/yaml_subset.ts";
import { PodmanHost, podmanMissing } from "../runtime/podman_fixture.ts";
import { until } from "../../testing/poll.ts";
import { CHECKOUT, withDistFile } from "./dist_file.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const MANIFEST = parseYamlDocuments(
  await Deno.readTextFile(`${CHECKOUT}/deploy/kubernetes/meshnet.yaml`),
) as Any[];
const DS = MANIFEST.find((d) => d.kind === "DaemonSet");
const POD = DS.spec.template.spec;
const INIT = POD.initContainers.find((c: Any) => c.name === "install-cni");
const ROUTER = POD.containers.find((c: Any) => c.name === "meshnet");
const CONFIG_MAP = MANIFEST.find((d) => d.kind === "ConfigMap");
/** Host paths taken from the real machine rather than a per-node directory. */
const SHARED_HOST_PATHS: Record<string, string> = {
  "/lib/modules": "/lib/modules",
  "/var/run/netns": "/run/netns",
};

/** One lab host standing in for a node: its directory holds its hostPath volumes and pod volumes. */
function nodeVolumes(lab: Lab, host: string, root: string): Map<string, string> {
  const dirs = new Map<string, string>();
  for (const v of POD.volumes) {
    if (v.hostPath) {
      dirs.set(v.name, SHARED_HOST_PATHS[v.hostPath.path] ?? `${root}/${host}${v.hostPath.path}`);
    } else dirs.set(v.name, `${root}/${host}/pod/${v.name}`);
  }
  for (const dir of dirs.values()) Deno.mkdirSync(dir, { recursive: true });
  for (const v of POD.volumes.filter((v: Any) => v.configMap)) {
    for (const [file, text] of Object.entries(CONFIG_MAP.data)) {
      Deno.writeTextFileSync(`${dirs.get(v.name)}/${file}`, text as string);
    }
  }
  // What the `peers` init container's kubectl writes: every node's InternalIP, this one's too.
  const peers = POD.initContainers.find((c: Any) => c.name === "peers");
  const run = peers.volumeMounts.find((m: Any) => m.mountPath === "/run/meshnet");
  Deno.writeTextFileSync(`${dirs.get(run.name)}/peers`, lab.hosts.map((h) => h.address).join(" "));
  return dirs;
}

/** `podman run` arguments for `container` of the manifest on `host`: network, PID, mounts, env, command. */
function runArgs(
  lab: Lab,
  host: string,
  container: Any,
  volumes: Map<string, string>,
  image: string,
): string[] {
  const args = ["--privileged", "--network", `ns:/run/netns/${lab.ns(host)}`];
  if (POD.hostPID) args.push("--pid", "host");
  for (const m of container.volumeMounts ?? []) {
    const options = [
      m.readOnly ? "ro" : "rw",
      ...(m.mountPropagation === "HostToContainer" ? ["rslave"] : []),
    ];
    args.push("-v", `${volumes.get(m.name)}:${m.mountPath}:${options.join(",")}`);
  }
  for (const e of container.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (e.value !== undefined) args.push("-e", `${e.name}=${e.value}`);
    else if (field === "spec.nodeName") args.push("-e", `${e.name}=${host}`);
    else if (field === "status.hostIP") args.push("-e", `${e.name}=${lab.host(host).address}`);
    else if (e.valueFrom?.secretKeyRef) {
      assert.equal(e.valueFrom.secretKeyRef.optional, true, `${e.name}: no Secret`);
    } else throw new Error(`The test does not know how to fill env ${e.name}: ${JSON.stringify(e)}`);
  }
  return [...args, image, ...(container.command ?? []), ...(container.args ?? [])];
}

Deno.test("image.sh builds the image offline and the manifest's containers bring up two connected routers", async () => {
  const missing = await podmanMissing();
  if (missing) throw new Error(`This test needs '${missing}': apt-get install podman runc busybox-static`);
  assert.equal(INIT.image, `meshnet:${VERSION}`);
  assert.equal(ROUTER.image, INIT.image);
  await withDistFile(async (dist) => {
    await withLab({ hosts: 2 }, async (lab) => {
      const podman = await PodmanHost.create(lab, "h1", `${dist.dir}/podman`);
      try {
        const image = `localhost/${INIT.image}`;
        const built = await runCommand([
          "env",
          `PODMAN=${podman.command.join(" ")}`,
          `IMAGE=${image}`,
          "bash",
          `${CHECKOUT}/scripts/image.sh`,
          dist.file,
        ]);
        assert.equal(built.code, 0, `image.sh: ${built.stderr}`);

        for (const h of ["h1", "h2"]) {
          const volumes = nodeVolumes(lab, h, `${dist.dir}/nodes`);
          const init = await podman.podman(["run", "--rm", ...runArgs(lab, h, INIT, volumes, image)]);
          assert.equal(init.code, 0, `${h} install-cni: ${init.stderr}`);
          const plugin = await Deno.stat(`${volumes.get("cni-bin")}/meshnet-cni`);
          assert.equal(plugin.size, (await Deno.stat(dist.file)).size);
          assert.ok((plugin.mode ?? 0) & 0o100, "the plugin is executable");
          assert.deepEqual([...Deno.readDirSync(volumes.get("cni-bin")!)].map((e) => e.name), [
            "meshnet-cni",
          ]);
          assert.equal(
            await Deno.readTextFile(`${volumes.get("cni-conf")}/10-meshnet.conflist`),
            CONFIG_MAP.data["10-meshnet.conflist"],
          );
          const router = await podman.podman([
            "run",
            "-d",
            "--name",
            `meshnet-${h}`,
            ...runArgs(lab, h, ROUTER, volumes, image),
          ]);
          assert.equal(router.code, 0, `${h} router: ${router.stderr}`);
        }

        for (const [h, other] of [["h1", "h2"], ["h2", "h1"]]) {
          const self = lab.host(h).address, peer = lab.host(other).address;
          const status = () =>
            podman.podman(["exec", `meshnet-${h}`, "/usr/local/bin/meshnet", "status", "connections"]);
          const text = await until(`${h}'s router to connect to ${other}`, 60_000, async () => {
            const r = await status();
            const up = new RegExp(`^-> ${peer}:6783 +established|^<- ${peer}:\\d+ +established`, "m");
            return up.test(r.stdout) ? r.stdout : undefined;
          }).catch(async (err) => {
            const logs = await podman.podman(["logs", `meshnet-${h}`]);
            throw new Error(`${err.message}\n${(await status()).stdout}\n${logs.stdout}${logs.stderr}`);
          });
          assert.doesNotMatch(text, /failed/, "no target is failing, our own address included");
          // launch skips our own address among the manifest's peers (every node's list holds itself).
          assert.doesNotMatch(text, new RegExp(`^-> ${self}:6783 `, "m"), "our own address is no target");

          const metrics = await lab.exec(other, [
            "curl",
            "-s",
            "-w",
            "\\n%{http_code}",
            `http://${self}:6782/metrics`,
          ]);
          assert.match(metrics.stdout, /^weave_connections\{/m);
          assert.match(metrics.stdout, /\n200$/);
          const status404 = await lab.exec(other, [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            `http://${self}:6782/status`,
          ]);
          assert.equal(status404.stdout, "404", "only /metrics is served on the node address");
        }
      } finally {
        await podman.destroy();
      }
    });
  });
});
