/** The `status` summary's additions: failed targets explained under the connection count, and the DNS block. */
import assert from "node:assert/strict";
import { connectionsText, ipamText, statusText } from "../../src/api/status_text.ts";
import { statusJson } from "../../src/cli/status_json.ts";
import { uiText } from "../../src/cli/ui.ts";
import type { Report } from "../../src/client/wire.ts";
import { A, report } from "./report_fixture.ts";

Deno.test("status: a discovered address that cannot be reached is explained; an explicit one shows its retry", () => {
  const r = report([], {
    targets: [
      { address: "10.9.9.9:6783", explicit: false, state: "failed", lastError: "No route to host" },
      { address: "198.18.0.2:6783", explicit: true, state: "failed", lastError: "refused", nextTry: "T" },
    ],
  });
  const text = statusText(r);
  assert.match(
    text,
    /Connections: 2 \(2 failed\)\n {22}failed 10\.9\.9\.9:6783: No route to host; this address was learned by discovery/,
  );
  assert.match(text, /--no-discovery/);
  assert.match(text, /\n {22}failed 198\.18\.0\.2:6783: refused; retrying at T\n/);
});

Deno.test("status: a target dialled again after a failure keeps its last error in both views", () => {
  const r = report([], {
    targets: [
      { address: "198.18.0.2:6783", explicit: true, state: "connecting", lastError: "wrong password" },
      { address: "198.18.0.3:6783", explicit: true, state: "connecting" },
    ],
  });
  const text = statusText(r);
  assert.match(
    text,
    /Connections: 2 \(2 connecting\)\n {22}failed 198\.18\.0\.2:6783: wrong password; dialling again now\n/,
  );
  assert.doesNotMatch(text, /failed 198\.18\.0\.3/);
  const conns = connectionsText(r);
  assert.match(conns, /^-> 198\.18\.0\.2:6783 +connecting +wrong password, dialling again now$/m);
  assert.match(conns, /^-> 198\.18\.0\.3:6783 +connecting$/m);
});

Deno.test("status: encryption names the libraries that seal the sleeve, and what to install for the slow one", () => {
  const r = report([]);
  assert.match(statusText(r), /Encryption: disabled\n/);
  r.router.encryption = true;
  assert.match(statusText(r), /Encryption: enabled\n/, "no sleeve report: no libraries named");
  r.sleeve = { crypto: "libsodium", gcm: "libgcrypt" } as Report["sleeve"];
  assert.match(
    statusText(r),
    /Encryption: enabled \(sleeve: AES-256-GCM by libgcrypt or XSalsa20-Poly1305 by libsodium, per link\)\n/,
  );
  r.sleeve = { crypto: "tweetnacl" } as Report["sleeve"];
  assert.match(
    statusText(r),
    /Encryption: enabled \(sleeve: XSalsa20-Poly1305 by tweetnacl, per link; tweetnacl is about 13× slower than libsodium: install libsodium23\)\n/,
  );
});

Deno.test("status: the DNS block as the reference shows it; none with --no-dns", () => {
  const r = report([]);
  assert.doesNotMatch(statusText(r), /Service: dns/);
  r.dns = {
    domain: "weave.local.",
    ttl: 1,
    port: 53,
    upstream: ["10.0.0.2", "10.0.0.3"],
    entries: [{
      name: "a.weave.local.",
      address: "10.32.0.1",
      container: "c",
      origin: A,
      version: 1,
      tombstone: 0,
    }],
  };
  assert.match(
    statusText(r),
    /\n +Service: dns\n +Domain: weave\.local\.\n +Upstream: 10\.0\.0\.2, 10\.0\.0\.3\n +TTL: 1\n +Entries: 1\n/,
  );
});

Deno.test("status --json: the summary is the report; each view the slice behind its text", () => {
  const r = report([], {
    targets: [
      { address: "198.18.0.2:6783", explicit: true, state: "connected" },
      { address: "10.9.9.9:6783", explicit: false, state: "failed", lastError: "x" },
    ],
  });
  assert.equal(statusJson(r, undefined), r);
  assert.deepEqual(statusJson(r, "targets"), ["198.18.0.2:6783"]);
  assert.deepEqual((statusJson(r, "connections") as { targets: unknown[] }).targets, [r.router.targets[1]]);
  assert.equal(statusJson(r, "ipam"), r.ipam);
  assert.equal(statusJson(r, "dns"), null);
});

Deno.test("status ipam: says whether the reserve is acknowledged, i.e. whether allocation survives a cut", () => {
  const r = report([]);
  const [g] = r.ipam.rings;
  g.reserve = "1";
  assert.match(
    ipamText(r),
    /\n {2}reserve: 1 IPs, acknowledged \(allocation goes on when cut off from a majority\)\n/,
  );
  g.reserveReady = false;
  assert.match(ipamText(r), /\n {2}reserve: not yet acknowledged by a majority/);
  g.owned = "0";
  assert.doesNotMatch(ipamText(r), /reserve/, "a peer owning nothing has no reserve to speak of");
});

Deno.test("ui: the URL and an SSH tunnel to it", () => {
  const t = uiText("http://127.0.0.1:6784", "h1 (aa:…)", "box1");
  assert.match(t, /^The dashboard of h1 \(aa:…\) is at http:\/\/127\.0\.0\.1:6784\/\n/);
  assert.match(t, /ssh -N -L 6784:127\.0\.0\.1:6784 root@box1/);
});

Deno.test("status: the routing block adds the IPv6 gateway and sysctls once IPv6 is in use, and their problem", () => {
  const r = report([], {});
  r.routing = {
    gateway: "169.254.32.1",
    bridge: "weave",
    masquerade: true,
    table: "inet meshnet",
    sysctls: [
      { key: "ipv4/ip_forward", value: "1", before: "0" },
      { key: "bridge/bridge-nf-call-iptables", value: "1" },
    ],
    problems: [],
  };
  assert.doesNotMatch(statusText(r), /Gateway6|Forwarding6/);
  r.routing = {
    ...r.routing,
    gateway6: "fe80::a9fe:2001",
    sysctls: [
      ...r.routing.sysctls,
      { key: "ipv6/conf/all/forwarding", value: "0" },
      { key: "bridge/bridge-nf-call-ip6tables", value: "1", before: "0" },
    ],
    problems: ["IPv6 forwarding left off, so IPv6 containers reach only the overlay: …"],
  };
  const text = statusText(r);
  assert.match(text, /\n +Gateway6: fe80::a9fe:2001 on weave: IPv6 containers' default route\n/);
  assert.match(text, /\n +Forwarding6: off\n/);
  assert.match(
    text,
    /\n +BridgeNetfilter6: on: bridged IPv6 passes netfilter \(Services\) \(meshnet set it; reset puts back 0\)\n/,
  );
  assert.match(text, /\n +Problem: IPv6 forwarding left off/);
});
