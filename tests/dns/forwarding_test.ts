import assert from "node:assert/strict";
import { DnsServer } from "../../src/dns/server.ts";
import { NameTable } from "../../src/dns/name_table.ts";
import { CachingForwarder } from "../../src/dns/caching_forwarder.ts";
import type { Upstream } from "../../src/dns/upstream.ts";
import { decodeMessage, rcodeOf } from "../../src/dns/message.ts";
import { Rcode, UPSTREAM_CHECK_MS } from "../../src/dns/constants.ts";
import { setLogLevel } from "../../src/log.ts";
import { until } from "../../testing/poll.ts";
import { ioTest, query } from "./fixtures.ts";
import { startDnsmasq } from "./dnsmasq.ts";

setLogLevel("error");

const PEER = "ce:31:e0:06:45:1e";
const LOOPBACK = "127.0.0.1";

async function dig(port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("dig", {
    args: [`@${LOOPBACK}`, "-p", String(port), "+tries=1", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

/** A server on a random port whose forwarder caches and asks `upstreams` (the default timeout unless given). */
function serve(upstreams: () => Upstream[], timeoutMs?: number): DnsServer {
  const t = new NameTable();
  t.add("x.weave.local.", "10.32.0.1", "c1", PEER);
  return DnsServer.listen({
    hostname: LOOPBACK,
    port: 0,
    table: t,
    forwarder: new CachingForwarder({ servers: upstreams, timeoutMs }),
  });
}

ioTest(
  "the cache answers a repeated forwarded name without asking dnsmasq again, until its TTL ends",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "meshnet-dns-cache-" });
    await Deno.chmod(dir, 0o777); // dnsmasq writes its log after dropping to user nobody
    const logFile = `${dir}/queries.log`;
    const upstream = await startDnsmasq(
      ["--address=/ext.test/1.2.3.4", "--local-ttl=5", "--log-queries", `--log-facility=${logFile}`],
      "probe.ext.test.",
    );
    const server = serve(() => [{ address: LOOPBACK, port: upstream.port }]);
    const asked = async () =>
      (await Deno.readTextFile(logFile)).split("\n").filter((l) => /query\[A\] www\.ext\.test /i.test(l))
        .length;
    try {
      const first = await dig(server.port, "www.ext.test");
      const answeredAt = Date.now();
      assert.match(first, /www\.ext\.test\.\s+5\s+IN\s+A\s+1\.2\.3\.4/);
      for (let i = 0; i < 3; i++) {
        assert.match(await dig(server.port, "+tcp", "WWW.ext.test"), /status: NOERROR/);
        assert.match(await dig(server.port, "WWW.ext.test"), /IN\s+A\s+1\.2\.3\.4/);
      }
      await until("dnsmasq's log of both queries", 2000, async () => (await asked()) >= 2 || undefined);
      assert.equal(await asked(), 2, "one UDP and one TCP query upstream; the repeats came from the cache");
      assert.ok(
        Date.now() - answeredAt < 4000,
        "the repeats ran within the TTL (else the machine is too loaded)",
      );
      assert.equal(server.metrics.cacheHits, 5, "3 UDP and 2 TCP repeats");
      assert.equal(server.metrics.forwarded, 2);
      await new Promise((r) => setTimeout(r, answeredAt + 5100 - Date.now()));
      assert.match(await dig(server.port, "www.ext.test"), /IN\s+A\s+1\.2\.3\.4/);
      await until(
        "dnsmasq's log of the query after expiry",
        2000,
        async () => (await asked()) === 3 || undefined,
      );
    } finally {
      await server.close();
      await upstream.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

ioTest("a dead first upstream falls through to the second within 2 s", async () => {
  const upstream = await startDnsmasq(["--address=/ext.test/1.2.3.4"], "ext.test.");
  const silent = Deno.listenDatagram({ transport: "udp", hostname: LOOPBACK, port: 0 });
  const dead = { address: LOOPBACK, port: (silent.addr as Deno.NetAddr).port };
  const server = serve(() => [dead, { address: LOOPBACK, port: upstream.port }]);
  try {
    const start = performance.now();
    const out = await dig(server.port, "+time=5", "www.ext.test");
    const ms = performance.now() - start;
    assert.match(out, /IN\s+A\s+1\.2\.3\.4/);
    assert.ok(ms < 2000, `answered after ${ms.toFixed(0)} ms`);
  } finally {
    await server.close();
    silent.close();
    await upstream.stop();
  }
});

ioTest("NXDOMAIN and NOERROR-empty carry the domain's SOA; weave.local SOA and NS answer", async () => {
  const server = serve(() => []);
  try {
    const nx = await dig(server.port, "nobody.weave.local");
    assert.match(nx, /status: NXDOMAIN/);
    assert.match(nx, /AUTHORITY: 1,/);
    assert.match(
      nx,
      /weave\.local\.\s+1\s+IN\s+SOA\s+ns\.weave\.local\. hostmaster\.weave\.local\. 1 3600 600 86400 1/,
    );
    assert.match(await dig(server.port, "MX", "x.weave.local"), /ANSWER: 0, AUTHORITY: 1,/);
    assert.match(await dig(server.port, "+short", "SOA", "weave.local"), /^ns\.weave\.local\. hostmaster/);
    assert.equal((await dig(server.port, "+short", "NS", "weave.local")).trim(), "ns.weave.local.");
    assert.equal((await dig(server.port, "+short", "ns.weave.local")).trim(), LOOPBACK);
    assert.equal(server.metrics.replies[Rcode.nxDomain], 1);
    assert.equal(server.metrics.replies[Rcode.noError], 4);
  } finally {
    await server.close();
  }
});

ioTest("CachingForwarder flushes the cache when the upstream list changes", async () => {
  const tables = ["10.40.0.1", "10.40.0.2"].map((a) => {
    const t = new NameTable();
    t.add("db.other.test.", a, "c1", PEER);
    return t;
  });
  const ups = tables.map((table) =>
    DnsServer.listen({ hostname: LOOPBACK, port: 0, table, domain: "other.test.", ttl: 60 })
  );
  let current = 0, now = 0;
  const fwd = new CachingForwarder({
    servers: () => [{ address: LOOPBACK, port: ups[current].port }],
    now: () => now,
  });
  const addressOf = (reply: Uint8Array) => (decodeMessage(reply).answers[0].data as Uint8Array).join(".");
  try {
    const q = query("db.other.test.");
    assert.equal(addressOf(await fwd.forward(q, "udp")), "10.40.0.1");
    assert.equal(addressOf(fwd.cached(q, "udp")!), "10.40.0.1");
    current = 1;
    now += UPSTREAM_CHECK_MS;
    fwd.cached(q, "udp"); // starts the background check
    await until("the flush", 1000, () => Promise.resolve(fwd.cache.size === 0 || undefined));
    const reply = await fwd.forward(q, "udp");
    assert.equal(rcodeOf(decodeMessage(reply).flags), Rcode.noError);
    assert.equal(addressOf(reply), "10.40.0.2");
  } finally {
    await Promise.all(ups.map((u) => u.close()));
  }
});
