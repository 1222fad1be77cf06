import assert from "node:assert/strict";
import { attachmentId, runPlugin } from "../../src/cni/plugin.ts";
import { FakeRouter } from "./fake_router.ts";

/** Spec versions every plugin test runs under, as the reference's AllSpecVersions. */
const VERSIONS = ["0.4.0", "1.0.0", "1.1.0"];

function env(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

function conf(cniVersion: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ cniVersion, name: "mn", type: "meshnet-cni", ...extra });
}

const ADD_ENV = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c0ffee",
  CNI_NETNS: "/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
};

for (const v of VERSIONS) {
  Deno.test(`[${v}] runPlugin() ADD, CHECK, DEL twice: result shape and idempotent DEL`, async () => {
    const r = new FakeRouter();
    r.netns.add("/run/netns/x");
    const add = await runPlugin(env(ADD_ENV), conf(v, { dns: { nameservers: ["10.32.0.9"] } }), r.request);
    assert.equal(add.code, 0, add.stdout);
    const result = JSON.parse(add.stdout);
    assert.equal(result.cniVersion, v);
    assert.deepEqual(result.interfaces, [{
      name: "eth0",
      mac: "02:00:00:00:00:01",
      sandbox: "/run/netns/x",
    }]);
    const ip = v === "0.4.0"
      ? { version: "4", address: "10.32.0.1/12", interface: 0 }
      : { address: "10.32.0.1/12", interface: 0 };
    assert.deepEqual(result.ips, [ip]);
    assert.deepEqual(result.dns, { nameservers: ["10.32.0.9"] });
    assert.ok(r.attached.has(attachmentId("mn", "c0ffee", "eth0")));

    const again = await runPlugin(env(ADD_ENV), conf(v), r.request);
    assert.equal(again.code, 1, "a second ADD of the same interface is an error");
    assert.equal(JSON.parse(again.stdout).code, 100);

    const check = await runPlugin(
      env({ ...ADD_ENV, CNI_COMMAND: "CHECK" }),
      conf(v, { prevResult: result }),
      r.request,
    );
    assert.deepEqual(check, { stdout: "", code: 0 });

    const del = { ...ADD_ENV, CNI_COMMAND: "DEL" };
    assert.deepEqual(await runPlugin(env(del), conf(v), r.request), { stdout: "", code: 0 });
    assert.deepEqual(
      await runPlugin(env(del), conf(v), r.request),
      { stdout: "", code: 0 },
      "DEL is idempotent",
    );
    assert.deepEqual(
      await runPlugin(env({ ...del, CNI_NETNS: "" }), conf(v), r.request),
      { stdout: "", code: 0 },
      "DEL without a namespace",
    );
    const stale = await runPlugin(
      env({ ...ADD_ENV, CNI_COMMAND: "CHECK" }),
      conf(v, { prevResult: result }),
      r.request,
    );
    assert.equal(JSON.parse(stale.stdout).code, 101, "CHECK after DEL fails");
  });

  Deno.test(`[${v}] runPlugin() STATUS and GC exist from 1.1.0 on; GC keeps only valid attachments`, async () => {
    const r = new FakeRouter();
    r.netns.add("/run/netns/x");
    for (const id of ["a1", "a2", "a3"]) {
      assert.equal((await runPlugin(env({ ...ADD_ENV, CNI_CONTAINERID: id }), conf(v), r.request)).code, 0);
    }
    r.attached.set("other", { ...r.attached.get(attachmentId("mn", "a1", "eth0"))!, id: "other" });
    const gcConf = conf(v, { "cni.dev/valid-attachments": [{ containerID: "a2", ifname: "eth0" }] });
    const gc = await runPlugin(env({ CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" }), gcConf, r.request);
    const status = await runPlugin(env({ CNI_COMMAND: "STATUS" }), conf(v), r.request);
    if (v === "1.1.0") {
      assert.deepEqual(gc, { stdout: "", code: 0 });
      assert.deepEqual([...r.attached.keys()].sort(), [attachmentId("mn", "a2", "eth0"), "other"]);
      assert.deepEqual(status, { stdout: "", code: 0 });
      r.down = true;
      const down = await runPlugin(env({ CNI_COMMAND: "STATUS" }), conf(v), r.request);
      assert.equal(down.code, 1);
      assert.equal(JSON.parse(down.stdout).code, 50);
    } else {
      for (const out of [gc, status]) {
        assert.equal(out.code, 1);
        assert.equal(JSON.parse(out.stdout).code, 1);
        assert.match(JSON.parse(out.stdout).msg, /does not allow (GC|STATUS); it needs 1\.1\.0/);
      }
      assert.equal(r.attached.size, 4, "an unsupported GC removed nothing");
    }
  });

  Deno.test(`[${v}] runPlugin() VERSION answers the runtime's version and every supported one`, async () => {
    const out = await runPlugin(
      env({ CNI_COMMAND: "VERSION" }),
      JSON.stringify({ cniVersion: v }),
      new FakeRouter().request,
    );
    assert.equal(out.code, 0);
    assert.deepEqual(JSON.parse(out.stdout), {
      cniVersion: v,
      supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
  });

  Deno.test(`[${v}] runPlugin() errors: spec codes in JSON, exit 1, nothing attached`, async () => {
    const r = new FakeRouter();
    r.netns.add("/run/netns/x");
    const cases: [Record<string, string>, string, number, RegExp][] = [
      [{ ...ADD_ENV, CNI_COMMAND: "FROB" }, conf(v), 4, /Unknown CNI_COMMAND 'FROB'/],
      [{ ...ADD_ENV, CNI_NETNS: "" }, conf(v), 4, /Missing environment variables CNI_NETNS/],
      [{ ...ADD_ENV, CNI_CONTAINERID: "-bad id" }, conf(v), 4, /Invalid CNI_CONTAINERID '-bad id'/],
      [{ ...ADD_ENV, CNI_IFNAME: "a-very-long-ifname" }, conf(v), 4, /longer than 15 bytes/],
      [{ ...ADD_ENV, CNI_ARGS: "novalue" }, conf(v), 4, /Invalid CNI_ARGS pair 'novalue'/],
      [ADD_ENV, "{", 6, /Cannot decode the network config/],
      [ADD_ENV, conf("0.2.0"), 1, /Incompatible CNI version '0\.2\.0'/],
      [ADD_ENV, conf(v, { type: "bridge" }), 7, /Invalid type 'bridge'/],
      [ADD_ENV, conf(v, { ipam: { type: "host-local" } }), 2, /remove 'ipam'/],
      [ADD_ENV, conf(v, { subnet: "10.32/12" }), 7, /Invalid 'subnet'/],
      [{ ...ADD_ENV, CNI_NETNS: "/run/netns/none" }, conf(v), 100, /no such netns/],
      [{ ...ADD_ENV, CNI_COMMAND: "CHECK" }, conf(v), 7, /CHECK needs the prevResult/],
    ];
    for (const [vars, stdin, code, re] of cases) {
      const out = await runPlugin(env(vars), stdin, r.request);
      assert.equal(out.code, 1, stdin);
      const e = JSON.parse(out.stdout);
      assert.equal(e.code, code, e.msg);
      assert.match(e.msg, re);
      assert.equal(typeof e.cniVersion, "string");
    }
    assert.equal(r.attached.size, 0);
    r.down = true;
    const down = JSON.parse((await runPlugin(env(ADD_ENV), conf(v), r.request)).stdout);
    assert.equal(down.code, 11, "router not running: try again later");
    assert.match(down.msg, /meshnet is not running here/);
  });
}

for (const v of VERSIONS) {
  Deno.test(`[${v}] runPlugin() ADD reports the default route attach made, and the gateway of the IP`, async () => {
    const r = new FakeRouter();
    r.netns.add("/run/netns/x");
    r.gateway = "169.254.32.1";
    const result = JSON.parse((await runPlugin(env(ADD_ENV), conf(v), r.request)).stdout);
    assert.deepEqual(result.routes, [{ dst: "0.0.0.0/0", gw: "169.254.32.1" }]);
    const ip = { address: "10.32.0.1/12", gateway: "169.254.32.1", interface: 0 };
    assert.deepEqual(result.ips, [v === "0.4.0" ? { version: "4", ...ip } : ip]);
  });

  Deno.test(`[${v}] runPlugin() ADD of a dual-stack pod reports both default routes, each IP with its gateway`, async () => {
    const r = new FakeRouter();
    r.netns.add("/run/netns/x");
    r.gateway = "169.254.32.1";
    r.gateway6 = "fe80::a9fe:2001";
    const result = JSON.parse((await runPlugin(env(ADD_ENV), conf(v), r.request)).stdout);
    assert.deepEqual(result.routes, [
      { dst: "0.0.0.0/0", gw: "169.254.32.1" },
      { dst: "::/0", gw: "fe80::a9fe:2001" },
    ]);
    const ips = [
      { address: "10.32.0.1/12", gateway: "169.254.32.1", interface: 0 },
      { address: "fd00::1/64", gateway: "fe80::a9fe:2001", interface: 0 },
    ];
    assert.deepEqual(
      result.ips,
      v === "0.4.0" ? ips.map((ip, i) => ({ version: i ? "6" : "4", ...ip })) : ips,
    );
  });
}

Deno.test("runPlugin() chained ADD appends to prevResult and points its IP at its own interface", async () => {
  const r = new FakeRouter();
  r.netns.add("/run/netns/x");
  const prevResult = {
    cniVersion: "1.1.0",
    interfaces: [{ name: "eth0", sandbox: "/run/netns/x" }],
    ips: [{ address: "192.0.2.5/24", interface: 0 }],
    routes: [{ dst: "0.0.0.0/0", gw: "192.0.2.1" }],
  };
  const out = await runPlugin(
    env({ ...ADD_ENV, CNI_IFNAME: "ethwe" }),
    conf("1.1.0", { prevResult }),
    r.request,
  );
  const result = JSON.parse(out.stdout);
  assert.deepEqual(result.interfaces.map((i: { name: string }) => i.name), ["eth0", "ethwe"]);
  assert.deepEqual(result.ips, [{ address: "192.0.2.5/24", interface: 0 }, {
    address: "10.32.0.1/12",
    interface: 1,
  }]);
  assert.deepEqual(result.routes, prevResult.routes);
});
