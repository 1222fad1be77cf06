/**
 * The CNI plugin as a runtime runs it: `meshnet-cni` in a lab host's namespace with the CNI_* variables and
 * the config on stdin, against a real router, for every spec version meshnet's conflist offers.
 */
import assert from "node:assert/strict";
import { launchMeshnet, meshnet, withLab } from "../../src/lab/mod.ts";
import type { Lab } from "../../src/lab/mod.ts";
import { runCommand } from "../../src/lab/runner.ts";
import { GATEWAY_ADDRESS } from "../../src/netdev/constants.ts";

const VERSIONS = ["0.4.0", "1.0.0", "1.1.0"];
const PLUGIN = new URL("../../meshnet-cni", import.meta.url).pathname;

interface CniRun {
  code: number;
  out: Record<string, unknown>;
  stdout: string;
}

/** Runs the plugin on `host` as a runtime would: variables in the environment, the config on stdin. */
async function cni(lab: Lab, host: string, vars: Record<string, string>, conf: Record<string, unknown>) {
  const env = Object.entries({ CNI_PATH: "/opt/cni/bin", ...vars }).map(([k, v]) => `${k}=${v}`);
  const r = await runCommand(
    ["ip", "netns", "exec", lab.ns(host), "env", ...env, PLUGIN],
    JSON.stringify({ name: "mn", type: "meshnet-cni", ...conf }),
  );
  assert.equal(r.stderr, "", "logs nothing on success paths");
  const stdout = r.stdout.trim();
  return { code: r.code, stdout, out: stdout ? JSON.parse(stdout) : {} } as CniRun;
}

function addVars(lab: Lab, container: string, id: string, command = "ADD"): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: `/run/netns/${lab.ns(container)}`,
    CNI_IFNAME: "eth0",
  };
}

async function eth0(lab: Lab, container: string): Promise<string[]> {
  const r = await lab.exec(container, ["ip", "-j", "addr", "show", "eth0"]);
  if (r.code !== 0) return [];
  return JSON.parse(r.stdout)[0].addr_info.filter((a: { scope: string }) => a.scope === "global")
    .map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`);
}

Deno.test("meshnet-cni through the CNI environment: every verb, every version, against a real router", async () => {
  await withLab({ hosts: 1, containers: 3 }, async (lab) => {
    await launchMeshnet(lab, 1, ["--no-fastdp"], []);
    const containers = lab.containersOf(1).map((c) => c.slice(lab.prefix.length));
    for (const [i, v] of VERSIONS.entries()) {
      const c = containers[i];
      const version = await cni(lab, "h1", { CNI_COMMAND: "VERSION" }, { cniVersion: v });
      assert.deepEqual(version.out, {
        cniVersion: v,
        supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
      });

      const add = await cni(lab, "h1", addVars(lab, c, `id${i}`), { cniVersion: v });
      assert.equal(add.code, 0, `[${v}] ADD: ${add.stdout}`);
      const ips = add.out.ips as { address: string; version?: string }[];
      assert.equal(ips.length, 1);
      assert.equal(ips[0].version, v === "0.4.0" ? "4" : undefined, `[${v}] ips[].version`);
      assert.deepEqual(
        await eth0(lab, c),
        [ips[0].address],
        `[${v}] the address is on eth0 in the container`,
      );
      assert.equal((add.out.interfaces as { sandbox: string }[])[0].sandbox, `/run/netns/${lab.ns(c)}`);
      assert.deepEqual(add.out.routes, [{ dst: "0.0.0.0/0", gw: GATEWAY_ADDRESS }], `[${v}] routes`);
      assert.equal(
        (add.out.ips as { gateway?: string }[])[0].gateway,
        GATEWAY_ADDRESS,
        `[${v}] ips[].gateway`,
      );
      const route = await lab.exec(c, ["ip", "-4", "route", "show", "default"]);
      assert.match(route.stdout, new RegExp(`^default via ${GATEWAY_ADDRESS} dev eth0`), `[${v}] in the pod`);

      const check = await cni(lab, "h1", addVars(lab, c, `id${i}`, "CHECK"), {
        cniVersion: v,
        prevResult: add.out,
      });
      assert.equal(check.code, 0, `[${v}] CHECK: ${check.stdout}`);
      const twice = await cni(lab, "h1", addVars(lab, c, `id${i}`), { cniVersion: v });
      assert.equal(twice.code, 1);
      assert.equal(twice.out.code, 100, `[${v}] ADD of an existing interface is an error`);

      const status = await cni(lab, "h1", { CNI_COMMAND: "STATUS" }, { cniVersion: v });
      assert.equal(status.code, v === "1.1.0" ? 0 : 1, `[${v}] STATUS: ${status.stdout}`);

      for (const round of [1, 2]) {
        const del = await cni(lab, "h1", addVars(lab, c, `id${i}`, "DEL"), { cniVersion: v });
        assert.equal(del.code, 0, `[${v}] DEL #${round}: ${del.stdout}`);
      }
      assert.deepEqual(await eth0(lab, c), [], `[${v}] DEL removed eth0`);
    }

    // GC (1.1.0): attachments not in the valid list go, the valid one stays.
    const [a, b] = containers;
    for (const [c, id] of [[a, "gc-a"], [b, "gc-b"]]) {
      assert.equal((await cni(lab, "h1", addVars(lab, c, id), { cniVersion: "1.1.0" })).code, 0);
    }
    const gc = await cni(lab, "h1", { CNI_COMMAND: "GC" }, {
      cniVersion: "1.1.0",
      "cni.dev/valid-attachments": [{ containerID: "gc-a", ifname: "eth0" }],
    });
    assert.equal(gc.code, 0, gc.stdout);
    assert.equal((await eth0(lab, a)).length, 1, "the valid attachment stays");
    assert.deepEqual(await eth0(lab, b), [], "the stale one is removed");
  });
});

/** The ids the router has a record of, and whether IPAM still holds addresses for `id`. */
async function held(lab: Lab, id: string): Promise<{ recorded: boolean; addresses: boolean }> {
  const get = async (path: string) => {
    const r = await lab.exec("h1", ["curl", "-sS", "-w", "\n%{http_code}", `http://127.0.0.1:6784${path}`]);
    const cut = r.stdout.lastIndexOf("\n");
    return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
  };
  const recorded = (JSON.parse((await get("/ps/recorded")).body) as { id: string }[]).some((a) =>
    a.id === id
  );
  return { recorded, addresses: (await get(`/ip/${encodeURIComponent(id)}`)).status === 200 };
}

Deno.test("meshnet-cni: DEL frees a container whose interface or namespace is gone; a second container id on the same interface is refused; GC leaves valid interfaces alone", async () => {
  await withLab({ hosts: 1, containers: 2 }, async (lab) => {
    await launchMeshnet(lab, 1, ["--no-fastdp"], []);
    const [a, b] = lab.containersOf(1).map((c) => c.slice(lab.prefix.length));
    const v = { cniVersion: "1.1.0" };
    const id = (c: string) => `cni:mn:${c}:eth0`;
    const add = async (c: string, container: string) => {
      const r = await cni(lab, "h1", addVars(lab, container, c), v);
      assert.equal(r.code, 0, `ADD ${c}: ${r.stdout}`);
      return (r.out.ips as { address: string }[]).map((ip) => ip.address);
    };

    // DEL after the interface went away (the runtime tore the namespace's links down first).
    await add("gone-if", a);
    assert.equal((await lab.exec(a, ["ip", "link", "del", "eth0"])).code, 0);
    const del = await cni(lab, "h1", addVars(lab, a, "gone-if", "DEL"), v);
    assert.equal(del.code, 0, `DEL of an interface already gone: ${del.stdout}`);
    assert.deepEqual(await held(lab, id("gone-if")), { recorded: false, addresses: false }, "all freed");

    // DEL after the namespace went away.
    const extra = `${lab.prefix}x`;
    assert.equal((await runCommand(["ip", "netns", "add", extra])).code, 0);
    const vars = { ...addVars(lab, a, "gone-ns"), CNI_NETNS: `/run/netns/${extra}` };
    assert.equal((await cni(lab, "h1", vars, v)).code, 0);
    assert.equal((await runCommand(["ip", "netns", "del", extra])).code, 0);
    const delNs = await cni(lab, "h1", { ...vars, CNI_COMMAND: "DEL" }, v);
    assert.equal(delNs.code, 0, `DEL of a namespace already gone: ${delNs.stdout}`);
    assert.deepEqual(await held(lab, id("gone-ns")), { recorded: false, addresses: false }, "all freed");

    // A second container id on the same netns and ifname changes nothing.
    const first = await add("first", b);
    const second = await cni(lab, "h1", addVars(lab, b, "second"), v);
    assert.equal(second.code, 1, `a second ADD on the same interface: ${second.stdout}`);
    assert.equal(second.out.code, 100);
    assert.match(String(second.out.msg), /'eth0' interface belongs to another attachment/);
    assert.deepEqual(await eth0(lab, b), first, "the first container's interface is unchanged");
    assert.deepEqual(await held(lab, id("second")), { recorded: false, addresses: false }, "nothing held");

    // GC of a stale attachment whose namespace now holds a valid one's interface leaves that one alone.
    await add("stale", a);
    assert.equal((await lab.exec(a, ["ip", "link", "del", "eth0"])).code, 0);
    const valid = await add("valid", a);
    const gc = await cni(lab, "h1", { CNI_COMMAND: "GC" }, {
      ...v,
      "cni.dev/valid-attachments": ["first", "valid"].map((c) => ({ containerID: c, ifname: "eth0" })),
    });
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual(await eth0(lab, a), valid, "GC kept the valid attachment's interface");
    assert.deepEqual(
      await held(lab, id("stale")),
      { recorded: false, addresses: false },
      "the stale one freed",
    );
    assert.deepEqual(await held(lab, id("valid")), { recorded: true, addresses: true });
  });
});

Deno.test("CNI-made containers on two hosts ping and resolve each other by name, for every version", async () => {
  await withLab({ hosts: 2, containers: 3 }, async (lab) => {
    for (const h of [1, 2]) await launchMeshnet(lab, h, ["--no-fastdp"]);
    for (const [i, v] of VERSIONS.entries()) {
      const addr: string[] = [];
      const dns: { nameservers: string[]; search: string[] }[] = [];
      for (const h of ["h1", "h2"]) {
        const vars = {
          ...addVars(lab, `${h}c${i + 1}`, `pod-${h}-${i}`),
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAME=pod-${h}-${i}`,
        };
        const add = await cni(lab, h, vars, { cniVersion: v });
        assert.equal(add.code, 0, `[${v}] ADD on ${h}: ${add.stdout}`);
        addr.push((add.out.ips as { address: string }[])[0].address.split("/")[0]);
        dns.push(add.out.dns as { nameservers: string[]; search: string[] });
      }
      assert.notEqual(addr[0], addr[1], "IPAM across hosts gives distinct addresses");
      const ping = await lab.exec(`h1c${i + 1}`, ["ping", "-c1", "-W5", addr[1]]);
      assert.equal(
        ping.code,
        0,
        `[${v}] h1c${i + 1} → h2c${i + 1} (${addr[1]}): ${ping.stdout}${ping.stderr}`,
      );
      const flags = await meshnet(lab, 1, ["dns-args"]);
      assert.equal(
        flags.stdout.trim(),
        `--dns=${dns[0].nameservers[0]} --dns-search=weave.local`,
        flags.stderr,
      );
      // Each container resolves the other by name through the DNS server its ADD result names.
      for (const [from, to] of [[0, 1], [1, 0]]) {
        assert.deepEqual(dns[from].search, ["weave.local"], `[${v}] search domain`);
        const name = `pod-h${to + 1}-${i}.weave.local`;
        const dig = ["dig", "+short", "+time=1", "+tries=1", `@${dns[from].nameservers[0]}`, name];
        let answer = "";
        for (let t = 0; t < 30 && answer !== addr[to]; t++) {
          if (t) await new Promise((r) => setTimeout(r, 100));
          answer = (await lab.exec(`h${from + 1}c${i + 1}`, dig)).stdout.trim();
        }
        assert.equal(answer, addr[to], `[${v}] h${from + 1}c${i + 1} resolves ${name}`);
      }
    }
  });
});
