import assert from "node:assert/strict";
import { buildConfig, checkNotSelf, formatPeerAddress, parsePeerAddress } from "../../src/router/config.ts";
import { UsageError } from "../../base/errors.ts";

const noEnv = () => undefined;

Deno.test("parsePeerAddress() takes host, host:port and [v6]:port", () => {
  assert.deepEqual(parsePeerAddress("10.0.0.1"), { host: "10.0.0.1", port: 6783 });
  assert.deepEqual(parsePeerAddress("h2:7000"), { host: "h2", port: 7000 });
  assert.deepEqual(parsePeerAddress("[fd00::1]:7000"), { host: "fd00::1", port: 7000 });
  assert.deepEqual(parsePeerAddress("fd00::1"), { host: "fd00::1", port: 6783 });
  assert.equal(formatPeerAddress({ host: "fd00::1", port: 1 }), "[fd00::1]:1");
  for (
    const bad of [":1", "h:0", "h:70000", "h:x", "[zz::1]:1", "bad host!!", "a b:1", "-h", "h..x", "h/x"]
  ) {
    assert.throws(() => parsePeerAddress(bad), UsageError, bad);
  }
  assert.throws(
    () => parsePeerAddress("bad host!!"),
    /'bad host!!' is neither an IP address nor a host name/,
  );
  assert.deepEqual(parsePeerAddress("node-1.example.com:7000"), { host: "node-1.example.com", port: 7000 });
});

Deno.test("checkNotSelf() refuses our own listening address, loopback and own interfaces on our port", () => {
  const any = { host: "0.0.0.0", port: 6783 };
  const own = ["10.1.2.3", "fe80::1"];
  for (const self of ["127.0.0.1", "127.1.2.3", "::1", "0.0.0.0", "10.1.2.3"]) {
    assert.throws(
      () => checkNotSelf({ host: self, port: 6783 }, any, own),
      /that is this router itself/,
      self,
    );
  }
  checkNotSelf({ host: "127.0.0.1", port: 6784 }, any, own); // another router on this host
  checkNotSelf({ host: "10.1.2.4", port: 6783 }, any, own);
  checkNotSelf({ host: "my-host", port: 6783 }, any, own); // names are left to the handshake
  assert.throws(() => checkNotSelf({ host: "10.9.9.9", port: 7000 }, { host: "10.9.9.9", port: 7000 }, []));
  checkNotSelf({ host: "127.0.0.1", port: 7000 }, { host: "10.9.9.9", port: 7000 }, []);
  assert.deepEqual(buildConfig({}, ["127.0.0.1", "10.9.9.9"], () => undefined).peers, [
    { host: "10.9.9.9", port: 6783 },
  ], "launch skips our own address, as a DaemonSet's list of every node holds it");
  assert.throws(() => buildConfig({}, ["bad host!!"], () => undefined), UsageError);
});

Deno.test("buildConfig() applies defaults and the environment", () => {
  const c = buildConfig(
    {},
    ["h2", "h3:7000"],
    (k) => ({ MESHNET_PASSWORD: "s3cret" } as Record<string, string>)[k],
  );
  assert.equal(c.password, "s3cret");
  assert.equal(c.port, 6783);
  assert.equal(c.connLimit, 200);
  assert.equal(c.discovery, true);
  assert.equal(c.dataDir, "/var/lib/meshnet");
  assert.deepEqual(c.peers, [{ host: "h2", port: 6783 }, { host: "h3", port: 7000 }]);
  assert.equal(c.fastdp, true);
  assert.equal(c.mtuFromUnderlay, true);
  const d = buildConfig({ fastdp: false, mtu: "1400" }, [], () => undefined);
  assert.deepEqual([d.fastdp, d.mtuFromUnderlay, d.mtu], [false, false, 1400]);
});

Deno.test("buildConfig() refuses bad values with UsageError naming them", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ connLimit: "-1" }, /--conn-limit '-1'/],
    [{ port: "0" }, /--port '0'/],
    [{ name: "nope" }, /Invalid peer name 'nope'/],
    [{ host: "1.2.3" }, /Invalid --host/],
    [{ password: "" }, /Empty password/],
  ];
  for (const [flags, re] of cases) {
    assert.throws(
      () => buildConfig(flags, [], noEnv),
      (e: Error) => e instanceof UsageError && re.test(e.message),
    );
  }
});

Deno.test("buildConfig() --metrics-addr: IP[:port] (6782 by default), nothing when not given", () => {
  assert.equal(buildConfig({}, [], noEnv).metricsAddr, undefined);
  assert.deepEqual(buildConfig({ metricsAddr: "10.0.0.5" }, [], noEnv).metricsAddr, {
    host: "10.0.0.5",
    port: 6782,
  });
  assert.deepEqual(buildConfig({ metricsAddr: "[fd00::5]:9100" }, [], noEnv).metricsAddr, {
    host: "fd00::5",
    port: 9100,
  });
  for (const bad of ["node1:6782", "10.0.0.5:0", ":6782"]) {
    assert.throws(() => buildConfig({ metricsAddr: bad }, [], noEnv), UsageError, `--metrics-addr '${bad}'`);
  }
});
