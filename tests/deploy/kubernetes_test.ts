/**
 * deploy/kubernetes/meshnet.yaml, checked field by field for what a node network needs (docs/kubernetes.md).
 */
import assert from "node:assert/strict";
import { parseYamlDocuments, type Yaml } from "./yaml_subset.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const TEXT = Deno.readTextFileSync(new URL("../../deploy/kubernetes/meshnet.yaml", import.meta.url));
const DOCS = parseYamlDocuments(TEXT) as Any[];

function kind(k: string): Any {
  const found = DOCS.filter((d) => d.kind === k);
  assert.equal(found.length, 1, `one ${k}`);
  return found[0];
}

const DS = kind("DaemonSet");
const POD = DS.spec.template.spec;
const MAIN = POD.containers.find((c: Any) => c.name === "meshnet");

/** The host path behind a container's mount at `mountPath`. */
function hostPathAt(container: Any, mountPath: string): string | undefined {
  const mount = container.volumeMounts?.find((m: Any) => m.mountPath === mountPath);
  return POD.volumes.find((v: Any) => v.name === mount?.name)?.hostPath?.path;
}

Deno.test("meshnet.yaml: a DaemonSet on the host network, privileged, scheduled on every node", () => {
  assert.equal(DS.apiVersion, "apps/v1");
  assert.deepEqual(DS.spec.selector.matchLabels, DS.spec.template.metadata.labels);
  assert.equal(DS.spec.updateStrategy.type, "RollingUpdate");
  assert.equal(POD.hostNetwork, true);
  assert.equal(POD.hostPID, true, "CNI_NETNS may be a /proc/PID path");
  assert.equal(POD.priorityClassName, "system-node-critical");
  assert.equal(MAIN.securityContext.privileged, true);
  assert.ok(
    POD.tolerations.some((t: Any) =>
      t.operator === "Exists" && t.key === undefined && t.effect === undefined
    ),
    "a toleration with operator Exists and no key or effect tolerates every taint",
  );
});

Deno.test("meshnet.yaml: the init container installs the CNI plugin and the conflist on the host", async () => {
  const init = POD.initContainers.find((c: Any) => c.name === "install-cni");
  assert.equal(init.securityContext.privileged, true);
  assert.equal(hostPathAt(init, "/host/opt/cni/bin"), "/opt/cni/bin");
  assert.equal(hostPathAt(init, "/host/etc/cni/net.d"), "/etc/cni/net.d");
  const script = init.command.join(" ");
  // Both land under a temporary name and are renamed into place: a kubelet never reads half a file.
  assert.match(script, /cp \/usr\/local\/bin\/meshnet (\S+)\nmv -f \1 \/host\/opt\/cni\/bin\/meshnet-cni\n/);
  assert.match(script, /cp \S+ (\S+)\nmv -f \1 \/host\/etc\/cni\/net\.d\/10-meshnet\.conflist\n/);
  const conflist = kind("ConfigMap").data["10-meshnet.conflist"];
  const shipped = await Deno.readTextFile(new URL("../../deploy/cni/meshnet.conflist", import.meta.url));
  assert.deepEqual(JSON.parse(conflist), JSON.parse(shipped), "the ConfigMap carries deploy/cni's conflist");
  const source = POD.volumes.find((v: Any) => v.configMap?.name === "meshnet-cni");
  assert.ok(init.volumeMounts.some((m: Any) => m.name === source.name && m.mountPath === "/etc/meshnet-cni"));
});

Deno.test("meshnet.yaml: readiness on the API, data dir on the host, password from a Secret, requests", () => {
  assert.deepEqual(MAIN.readinessProbe.httpGet, { host: "127.0.0.1", path: "/status", port: 6784 });
  const env = Object.fromEntries(MAIN.env.map((e: Any) => [e.name, e.value ?? e.valueFrom]));
  assert.equal(hostPathAt(MAIN, env.MESHNET_DATA_DIR), "/var/lib/meshnet");
  assert.deepEqual(
    env.MESHNET_PASSWORD,
    { secretKeyRef: { name: "meshnet-passwd", key: "password", optional: true } },
    "without the Secret the pod still starts, unencrypted (docs/kubernetes.md)",
  );
  assert.match(MAIN.command.join(" "), /meshnet launch --foreground/);
  for (const c of [...POD.initContainers, ...POD.containers]) {
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory, `${c.name} requests cpu and memory`);
  }
});

Deno.test("meshnet.yaml: peers come from the node list, with RBAC to read it", () => {
  const peers = POD.initContainers.find((c: Any) => c.name === "peers");
  assert.match(peers.command.join(" "), /kubectl get nodes .*InternalIP.* > \/run\/meshnet\/peers/);
  assert.match(MAIN.command.join(" "), /\$\(cat \/run\/meshnet\/peers\)/);
  assert.equal(POD.serviceAccountName, kind("ServiceAccount").metadata.name);
  const rule = kind("ClusterRole").rules.find((r: Any) => r.resources.includes("nodes"));
  assert.ok(rule.verbs.includes("list"));
  const binding = kind("ClusterRoleBinding");
  assert.equal(binding.roleRef.name, kind("ClusterRole").metadata.name);
  assert.equal(binding.subjects[0].name, POD.serviceAccountName);
});

Deno.test("parseYamlDocuments() reads the manifest as PyYAML does, when python3 has it", async () => {
  let py: Deno.ChildProcess;
  try {
    py = new Deno.Command("python3", {
      args: ["-c", "import sys,json,yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))"],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch {
    return; // no python3, or no permission to run it (the unit task): the field checks above still ran
  }
  const w = py.stdin.getWriter();
  await w.write(new TextEncoder().encode(TEXT));
  await w.close();
  const out = await py.output();
  if (!out.success) return; // no python3 or no PyYAML: the field checks above still ran
  assert.deepEqual(DOCS, JSON.parse(new TextDecoder().decode(out.stdout)));
});

Deno.test("parseYamlDocuments() refuses what is outside its subset, naming the line", () => {
  const cases: [string, RegExp][] = [
    ["a: &x 1", /Line 1: '&x 1' is outside/],
    ["a:\n\tb: 1", /Line 2: tabs/],
    ["a: 1\n  b: 2", /Line 2: unexpected indentation/],
    ["just text", /Line 1: expected 'key: value'/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseYamlDocuments(text), re);
  const ok: Yaml[] = parseYamlDocuments("a:\n  - x\n  - 'y'\nb: |\n  l1\n  l2\nc: {}\nd: [\"\", 2]");
  assert.deepEqual(ok, [{ a: ["x", "y"], b: "l1\nl2\n", c: {}, d: ["", 2] }]);
});

Deno.test("meshnet.yaml: /lib/modules read-only, /metrics on the node address, a maintained kubectl image", () => {
  const modules = MAIN.volumeMounts.find((m: Any) => m.mountPath === "/lib/modules");
  assert.equal(modules.readOnly, true);
  assert.equal(hostPathAt(MAIN, "/lib/modules"), "/lib/modules");
  const env = Object.fromEntries(MAIN.env.map((e: Any) => [e.name, e.value ?? e.valueFrom]));
  assert.deepEqual(env.NODE_IP, { fieldRef: { fieldPath: "status.hostIP" } });
  assert.match(MAIN.command.join(" "), /--metrics-addr "\$NODE_IP:6782"/);
  assert.deepEqual(MAIN.ports, [{ name: "metrics", containerPort: 6782 }]);
  assert.equal(DS.spec.template.metadata.annotations["prometheus.io/port"], "6782");
  const peers = POD.initContainers.find((c: Any) => c.name === "peers");
  assert.match(peers.image, /^registry\.k8s\.io\/kubectl:v\d+\.\d+\.\d+$/);
});
