/**
 * Caller mistakes sent to the real routes get a 4xx with the reason, never a 500 or an empty 200. The router
 * is the real attachments, mesh transport, expose/hide and routes; what a mistake must never reach (netlink,
 * IPAM) fails the test if called.
 */
import assert from "node:assert/strict";
import { HttpApi } from "../../src/api/http.ts";
import { registerRoutes } from "../../src/api/routes.ts";
import { setLogLevel } from "../../src/log.ts";
import { Attachments } from "../../src/router/attachments.ts";
import { testConfig } from "../router/config_fixture.ts";
import { DataDir } from "../../src/router/data_dir.ts";
import { expose, hide } from "../../src/router/expose.ts";
import type { IpamService } from "../../src/router/ipam_service.ts";
import { MeshTransport } from "../../src/router/mesh_transport.ts";
import type { Router } from "../../src/router/router.ts";
import type { NetlinkSocket } from "../../ffi/netlink/socket.ts";

setLogLevel("error");

/** An object every property access of which fails the test: what a refused request must never reach. */
function untouchable<T>(what: string): T {
  return new Proxy({}, {
    get: (_t, p) => {
      throw new Error(`${what}.${String(p)} was used by a request that should have been refused`);
    },
  }) as T;
}

const config = testConfig();

Deno.test("API answers caller mistakes with a 4xx and the reason", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "meshnet-badreq-" });
  try {
    const nl = untouchable<NetlinkSocket>("netlink");
    const ipam = untouchable<IpamService>("ipam");
    const router = {
      dns: undefined,
      ipam,
      mesh: new MeshTransport(config, { name: "aa:00:00:00:00:01", nickname: "h1", uid: 1n }),
      attachments: new Attachments(new DataDir(tmp), nl, ipam, {
        bridge: "meshnet",
        mtu: 1376,
        peerName: "aa",
      }),
      expose: (cidrs: string[]) => expose(nl, ipam, "meshnet", cidrs),
      hide: (cidrs: string[]) => hide(nl, ipam, "meshnet", cidrs),
    } as unknown as Router;
    const api = new HttpApi();
    registerRoutes(api, router, () => {});
    const form = (pairs: [string, string][]) => new URLSearchParams(pairs).toString();
    const cases: [string, string, string | undefined, number, RegExp][] = [
      ["POST", "/attach", form([["container", "no-such-netns-x1"]]), 404, /no such netns 'no-such-netns-x1'/],
      ["POST", "/attach", form([["container", "c1"], ["cidr", "10.32.0.300/12"]]), 400, /Invalid CIDR/],
      ["POST", "/attach", form([["container", "c1"], ["cidr", "net:banana"]]), 400, /Cannot attach c1/],
      ["POST", "/attach", form([]), 400, /Missing form field 'container'/],
      ["POST", "/attach", form([["container", "c1"], ["name", "a b"]]), 400, /DNS is off/],
      ["POST", "/detach", form([["container", "no-such-netns-x1"]]), 404, /no such netns/],
      ["POST", "/expose", form([["cidr", "10.32.0.1"]]), 400, /Cannot expose 10.32.0.1: .*prefix length/],
      ["POST", "/expose", form([["cidr", "banana/12"]]), 400, /Cannot expose banana\/12/],
      ["POST", "/hide", form([["cidr", "10.0.0.0/99"]]), 400, /Cannot hide 10.0.0.0\/99/],
      ["POST", "/connect", form([["peer", "bad host!!"]]), 400, /neither an IP address nor a host name/],
      ["POST", "/connect", form([["peer", "127.0.0.1"]]), 400, /this router itself/],
      ["POST", "/forget", form([["peer", "h:0"]]), 400, /port '0' must be 1 to 65535/],
      ["PUT", "/ip/x/10.32.0.300/12", undefined, 400, /Invalid CIDR/],
      ["POST", "/ip/x/banana/12", undefined, 400, /Invalid CIDR/],
      ["DELETE", "/ip/x/banana", undefined, 400, /Invalid IP address 'banana'/],
      ["PUT", "/name/c1/10.32.0.5", form([["fqdn", "web"]]), 404, /DNS is off/],
      ["GET", "/status/nope", undefined, 404, /Unknown status view 'nope'/],
    ];
    for (const [method, path, body, status, reason] of cases) {
      const res = await api.handle(
        new Request(`http://127.0.0.1:6784${path}`, {
          method,
          body,
          headers: body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" },
        }),
      );
      const text = await res.text();
      assert.equal(res.status, status, `${method} ${path} ${body ?? ""}: ${res.status} ${text}`);
      assert.match(text, reason, `${method} ${path}`);
    }
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});
