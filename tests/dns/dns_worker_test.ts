/**
 * The DNS Worker on loopback (unprivileged): names pushed after start answer through it, forwarded names
 * come from its cache, TCP clients' forwards go through it, its stats have deadlines when it stalls or
 * crashes (tests/dns/dns_worker_double.ts), and stop frees the port.
 */
import assert from "node:assert/strict";
import { DnsWorker, type DnsWorkerOptions } from "../../src/dns/dns_worker.ts";
import { DnsServer } from "../../src/dns/server.ts";
import { NameTable } from "../../src/dns/name_table.ts";
import { decodeMessage, rcodeOf } from "../../src/dns/message.ts";
import { Rcode, RRType } from "../../src/dns/constants.ts";
import { setLogLevel } from "../../src/log.ts";
import { until } from "../../testing/poll.ts";
import { ioTest, query, udpAsk } from "./fixtures.ts";

setLogLevel("error");

const PEER = "ce:31:e0:06:45:1e";
const LOOPBACK = "127.0.0.1";

/** The IPv4 addresses a reply answers with, sorted. */
function addresses(reply: Uint8Array | undefined): string[] {
  if (!reply) return [];
  return decodeMessage(reply).answers.filter((a) => a.type === RRType.A)
    .map((a) => [...(a.data as Uint8Array)].join(".")).sort();
}

/** Runs `body` with a DNS Worker on loopback serving `table`, stopped afterwards. */
async function withWorker(
  table: NameTable,
  body: (w: DnsWorker) => Promise<void>,
  extra: Partial<DnsWorkerOptions> = {},
): Promise<void> {
  const w = await DnsWorker.start({
    hostname: LOOPBACK,
    port: 0,
    domain: "weave.local.",
    ttl: 1,
    resolvConf: "/nonexistent/resolv.conf",
    upstreams: [],
    entries: table.entries(),
    ...extra,
  });
  try {
    await body(w);
  } finally {
    await w.stop();
  }
}

ioTest("DnsWorker answers names over UDP, also names pushed after it started", async () => {
  const table = new NameTable();
  table.add("x.weave.local.", "10.32.0.1", "c1", PEER);
  await withWorker(table, async (w) => {
    assert.deepEqual(addresses(await udpAsk(w.port, query("x.weave.local."))), ["10.32.0.1"]);
    const nx = await udpAsk(w.port, query("later.weave.local."));
    assert.equal(rcodeOf(decodeMessage(nx!).flags), Rcode.nxDomain);
    table.add("later.weave.local.", "10.32.0.9", "c2", PEER);
    table.remove({ origin: PEER, container: "c1" }, Date.now());
    w.setNames(table.entries());
    await until(
      "the pushed name answers",
      5000,
      async () => addresses(await udpAsk(w.port, query("later.weave.local."))).join() === "10.32.0.9",
    );
    const gone = await udpAsk(w.port, query("x.weave.local."));
    assert.equal(rcodeOf(decodeMessage(gone!).flags), Rcode.nxDomain, "the removed name is gone");
    const stats = await w.stats();
    assert.equal(stats.staleMs, undefined);
    assert.ok(stats.counters.udpQueries >= 4, `udp queries ${stats.counters.udpQueries}`);
    assert.ok(stats.counters.replies[Rcode.nxDomain] >= 2);
  });
});

ioTest(
  "DnsWorker forwards upstream, answers repeats from its cache, and forwards TCP clients' queries",
  async () => {
    const upstreamTable = new NameTable();
    upstreamTable.add("www.up.test.", "192.0.2.7", "c1", PEER);
    const upstream = DnsServer.listen({
      hostname: LOOPBACK,
      port: 0,
      table: upstreamTable,
      domain: "up.test.",
    });
    try {
      await withWorker(new NameTable(), async (w) => {
        assert.deepEqual(addresses(await udpAsk(w.port, query("www.up.test."), 3000)), ["192.0.2.7"]);
        const asked = upstream.metrics.udpQueries;
        for (let i = 0; i < 3; i++) {
          assert.deepEqual(addresses(await udpAsk(w.port, query("www.up.test."))), ["192.0.2.7"]);
        }
        assert.equal(upstream.metrics.udpQueries, asked, "repeats come from the Worker's cache");
        const tcp = await w.forward(query("www.up.test."), "tcp");
        assert.deepEqual(addresses(tcp), ["192.0.2.7"]);
        const s = (await w.stats()).counters;
        assert.equal(s.forwarded, 2, "one UDP miss, one TCP miss (the cache keys on the transport)");
        assert.equal(s.cacheHits, 3);
        assert.ok((await w.stats()).cache.entries >= 1);
      }, { upstreams: [{ address: LOOPBACK, port: upstream.port }], upstreamTimeoutMs: 1000 });
    } finally {
      await upstream.close();
    }
  },
);

ioTest("DnsWorker stats have a deadline: a stalled Worker gives the last known, marked stale", async () => {
  const module = new URL("./dns_worker_double.ts?mode=stall", import.meta.url);
  await withWorker(new NameTable(), async (w) => {
    const started = performance.now();
    const stats = await w.stats(200);
    const took = performance.now() - started;
    assert.ok(took < 1500, `stats took ${took} ms`);
    assert.ok(stats.staleMs !== undefined, "marked stale");
    assert.equal(stats.counters.udpQueries, 0);
  }, { module });
});

ioTest(
  "DnsWorker that crashes: done rejects, stats give the last known, forward gives SERVFAIL",
  async () => {
    const module = new URL("./dns_worker_double.ts?mode=crash", import.meta.url);
    const errors: Error[] = [];
    await withWorker(new NameTable(), async (w) => {
      const stats = await w.stats(5000);
      assert.ok(stats.staleMs !== undefined);
      await assert.rejects(w.done, /crashed/);
      assert.ok(w.stopped);
      assert.ok((await w.stats()).staleMs !== undefined, "after the end: the last known");
      const reply = await w.forward(query("www.up.test."), "tcp");
      assert.equal(rcodeOf(decodeMessage(reply).flags), Rcode.servFail);
      assert.throws(() => w.setNames([]), /has stopped/);
      assert.match(errors.map((e) => e.message).join(), /crashed/);
    }, { module, onError: (e) => errors.push(e) });
  },
);

ioTest(
  "DnsWorker.stop() closes its socket: the port can be bound again, and a second stop is a no-op",
  async () => {
    let port = 0;
    await withWorker(new NameTable(), async (w) => {
      port = w.port;
      await w.stop();
      assert.ok(w.stopped);
      await w.done;
    });
    const again = Deno.listenDatagram({ transport: "udp", hostname: LOOPBACK, port });
    again.close();
  },
);

ioTest("DnsWorker.start() rejects with the Worker's reason when the port is taken", async () => {
  const taken = Deno.listenDatagram({ transport: "udp", hostname: LOOPBACK, port: 0 });
  try {
    await assert.rejects(
      DnsWorker.start({
        hostname: LOOPBACK,
        port: (taken.addr as Deno.NetAddr).port,
        domain: "weave.local.",
        ttl: 1,
        resolvConf: "/nonexistent/resolv.conf",
        entries: [],
      }),
      /Cannot start the DNS server: .*/,
    );
  } finally {
    taken.close();
  }
});
