import assert from "node:assert/strict";
import { parseNetConf } from "../../src/cni/config.ts";
import { CniError } from "../../src/cni/error.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";

const FULL = {
  cniVersion: "1.1.0",
  name: "meshnet",
  type: "meshnet-cni",
  subnet: "10.32.0.0/12",
  dns: {
    nameservers: ["10.32.0.1", "fd00::1"],
    domain: "weave.local",
    search: ["weave.local"],
    options: ["ndots:2"],
  },
  prevResult: {
    cniVersion: "1.1.0",
    interfaces: [{ name: "eth0", mac: "02:00:00:00:00:01", sandbox: "/run/netns/x" }],
    ips: [{ address: "10.32.0.5/12", interface: 0, gateway: "10.32.0.1" }],
    routes: [{ dst: "0.0.0.0/0", gw: "10.32.0.1" }],
    dns: { nameservers: ["10.32.0.1"] },
  },
  "cni.dev/valid-attachments": [{ containerID: "abc", ifname: "eth0" }],
  runtimeConfig: { aliases: ["web"] },
  somethingTheRuntimeAdds: [1, 2, 3],
};

Deno.test("parseNetConf() reads every field meshnet uses and leaves unknown ones alone", () => {
  const c = parseNetConf(JSON.stringify(FULL));
  assert.equal(c.cniVersion, "1.1.0");
  assert.equal(c.name, "meshnet");
  assert.equal(c.subnet, "10.32.0.0/12");
  assert.deepEqual(c.dns, FULL.dns);
  assert.deepEqual(c.prevResult?.ips, FULL.prevResult.ips);
  assert.deepEqual(c.prevResult?.routes, FULL.prevResult.routes);
  assert.deepEqual(c.validAttachments, [{ containerID: "abc", ifname: "eth0" }]);
});

Deno.test("parseNetConf() errors name the field and carry the spec's code", () => {
  const cases: [unknown, number, RegExp][] = [
    [[], 6, /not a JSON object/],
    [{ ...FULL, cniVersion: undefined }, 7, /Missing 'cniVersion'/],
    [{ ...FULL, cniVersion: "1.1" }, 1, /Invalid cniVersion '1\.1'/],
    [{ ...FULL, cniVersion: "9.0.0" }, 1, /Incompatible CNI version '9\.0\.0'/],
    [{ ...FULL, name: "bad name" }, 7, /Invalid network name 'bad name'/],
    [{ ...FULL, name: 5 }, 7, /Invalid 'name': expected a string/],
    [{ ...FULL, dns: { nameservers: ["x"] } }, 7, /'x' is not an IP address/],
    [{ ...FULL, dns: [] }, 7, /Invalid 'dns': expected an object/],
    [{ ...FULL, prevResult: { ips: [{ address: "10.32.0.5" }] } }, 7, /Invalid prevResult: ips\[0\]/],
    [{ ...FULL, prevResult: { ips: [{ address: "10.32.0.5/12", interface: -1 }] } }, 7, /interface must be/],
    [{ ...FULL, prevResult: { interfaces: [{}] } }, 7, /interfaces\[0\] needs a name/],
    [{ ...FULL, "cni.dev/valid-attachments": [{ ifname: "eth0" }] }, 7, /needs 'containerID' and 'ifname'/],
  ];
  for (const [input, code, re] of cases) {
    assert.throws(() => parseNetConf(JSON.stringify(input)), (e: unknown) => {
      assert.ok(e instanceof CniError, String(e));
      assert.equal(e.code, code, e.message);
      assert.match(e.message, re);
      return true;
    });
  }
});

Deno.test("parseNetConf() fuzz: mutated configs give a config or a CniError, never a crash", () => {
  const rnd = new SeededRandom(0x6e1);
  const valid = new TextEncoder().encode(JSON.stringify(FULL));
  let errors = 0;
  for (let i = 0; i < 3000; i++) {
    const text = new TextDecoder().decode(rnd.mutate(valid));
    try {
      const c = parseNetConf(text);
      assert.equal(typeof c.name, "string");
      assert.equal(c.type, "meshnet-cni");
    } catch (e) {
      assert.ok(e instanceof CniError, `seed case ${i}: ${e}`);
      assert.ok([1, 2, 6, 7].includes(e.code), `code ${e.code}: ${e.message}`);
      errors++;
    }
  }
  assert.ok(errors > 100, "the mutations reach the error paths");
  assert.deepEqual(parseNetConf(JSON.stringify(FULL)).validAttachments, FULL["cni.dev/valid-attachments"]);
});
