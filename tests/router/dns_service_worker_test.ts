/**
 * DnsService with its DNS Worker on loopback (unprivileged, port 0): names added after start answer over UDP
 * (the Worker) and TCP (the main thread); a Worker that stalls or crashes does not hold up the /metrics
 * collector or the report, and a crashed one is replaced by the next tick; stop frees the ports.
 */
import assert from "node:assert/strict";
import { dnsMetrics } from "../../src/api/dns_metrics.ts";
import { render } from "../../src/api/metrics.ts";
import { Rcode } from "../../src/dns/constants.ts";
import { readFrame, writeFrame } from "../../src/dns/framing.ts";
import { decodeMessage, rcodeOf } from "../../src/dns/message.ts";
import { setLogLevel } from "../../src/log.ts";
import type { Gossip, Gossiper, PeerName } from "../../src/mesh/gossip.ts";
import { DataDir } from "../../src/router/data_dir.ts";
import { DnsService, type DnsServiceOptions } from "../../src/router/dns_service.ts";
import { until } from "../../testing/poll.ts";
import { ioTest, query, udpAsk } from "../dns/fixtures.ts";

setLogLevel("error");

const PEER = "aa:00:00:00:00:01";
const LOOPBACK = "127.0.0.1";

const mesh = {
  name: PEER,
  newGossip: (_channel: string, _g: Gossiper): Gossip => ({
    gossipUnicast: () => {},
    gossipBroadcast: () => {},
    gossipNeighbourSubset: () => {},
  }),
  onPeerRemoved: (_l: (name: PeerName) => void) => {},
};

/** The options of a DnsService on port 0 keeping its files under `dir`. */
function serviceOptions(dir: string, worker?: DnsServiceOptions["worker"]): DnsServiceOptions {
  return {
    domain: "weave.local",
    ttl: 1,
    port: 0,
    resolvConf: `${dir}/resolv.conf`,
    mesh,
    dir: new DataDir(dir),
    netnsEtcDir: `${dir}/etc-netns`,
    worker,
  };
}

/** Runs `body` with a started DnsService on 127.0.0.1 (port 0), stopped and its data directory removed after. */
async function withService(
  body: (dns: DnsService) => Promise<void>,
  worker?: DnsServiceOptions["worker"],
): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "mnt-dns-worker-" });
  const dns = new DnsService(serviceOptions(dir, worker));
  try {
    dns.start({ address: LOOPBACK, forgetDead: () => {}, list: () => [] });
    dns.serve(); // nothing attached: served only when asked
    await until("the DNS server is up", 30_000, () => Promise.resolve(dns.address));
    await body(dns);
  } finally {
    await dns.stop();
    Deno.removeSync(dir, { recursive: true });
  }
}

/** The addresses of `name` asked over UDP. */
async function udpAddresses(port: number, name: string): Promise<string[]> {
  const reply = await udpAsk(port, query(name));
  if (!reply) return [];
  return decodeMessage(reply).answers.map((a) => [...(a.data as Uint8Array)].join(".")).sort();
}

/** One query over TCP. */
async function tcpAsk(port: number, name: string): Promise<Uint8Array | undefined> {
  const conn = await Deno.connect({ hostname: LOOPBACK, port });
  try {
    await writeFrame(conn, query(name));
    return await readFrame(conn);
  } finally {
    conn.close();
  }
}

/** Resolves like `work`, or rejects when it takes longer than `ms`. */
async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

ioTest("DnsService answers a name added after start through its Worker (UDP) and over TCP", async () => {
  await withService(async (dns) => {
    assert.deepEqual(await udpAddresses(dns.port, "web.weave.local."), []);
    dns.add("c1", ["10.32.0.7"], "web");
    await until(
      "web answers through the Worker",
      5000,
      async () => (await udpAddresses(dns.port, "web.weave.local.")).join() === "10.32.0.7" || undefined,
    );
    const tcp = decodeMessage((await tcpAsk(dns.port, "web.weave.local."))!);
    assert.deepEqual(tcp.answers.map((a) => [...(a.data as Uint8Array)].join(".")), ["10.32.0.7"]);
    dns.remove("c1");
    await until("web is gone from the Worker", 5000, async () => {
      const r = await udpAsk(dns.port, query("web.weave.local."));
      return (r !== undefined && rcodeOf(decodeMessage(r).flags) === Rcode.nxDomain) || undefined;
    });
    const { metrics } = await dns.stats();
    assert.ok(metrics.udpQueries >= 3, `UDP queries ${metrics.udpQueries}`);
    assert.equal(metrics.tcpQueries, 1);
    assert.match(render(dnsMetrics(await dns.stats())), /meshnet_dns_queries_total\{transport="tcp"\} 1/);
  });
});

ioTest("a DNS Worker that stalls holds up neither the metrics nor the report", async () => {
  const module = new URL("../dns/dns_worker_double.ts?mode=stall", import.meta.url);
  await withService(async (dns) => {
    dns.add("c1", ["10.32.0.7"], "web");
    const stats = await within(2000, "stats of a stalled Worker", dns.stats());
    assert.ok(stats.staleMs !== undefined, "its last figures, marked stale");
    assert.match(render(dnsMetrics(stats)), /meshnet_dns_cache_entries 0/);
    assert.equal(dns.report().entries.length, 1, "the report comes from the main thread's table");
  }, { module, replyTimeoutMs: 200 });
});

ioTest("a DNS Worker that crashes is replaced by the next tick; metrics answer throughout", async () => {
  const module = new URL("../dns/dns_worker_double.ts?mode=crash", import.meta.url);
  await withService(async (dns) => {
    dns.add("c1", ["10.32.0.7"], "web");
    await until(
      "web answers",
      5000,
      async () => (await udpAddresses(dns.port, "web.weave.local.")).length === 1 || undefined,
    );
    const port = dns.port;
    const before = (await within(2000, "stats of a crashing Worker", dns.stats())).metrics.udpQueries;
    await until("a new Worker (on a new port: launched with port 0) serves again", 10_000, async () => {
      const now = dns.port;
      if (now === 0 || now === port) return undefined;
      return (await udpAddresses(now, "web.weave.local.")).join() === "10.32.0.7" || undefined;
    });
    const after = await within(2000, "stats of the crashed Worker", dns.stats());
    assert.ok(after.metrics.udpQueries >= before, "counters never go back");
  }, { module, replyTimeoutMs: 300 });
});

ioTest("DnsService.stop() leaves nothing behind: its UDP and TCP port can be bound again", async () => {
  let port = 0;
  await withService((dns) => {
    port = dns.port;
    return Promise.resolve();
  });
  const udp = Deno.listenDatagram({ transport: "udp", hostname: LOOPBACK, port });
  const tcp = Deno.listen({ hostname: LOOPBACK, port });
  udp.close();
  tcp.close();
});

ioTest(
  "DnsService runs no server (and no Worker) until somebody is to be served: a container attached or serve()",
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "mnt-dns-worker-" });
    const idle = new DnsService(serviceOptions(dir));
    const attached = new DnsService(serviceOptions(`${dir}/2`));
    try {
      idle.start({ address: LOOPBACK, forgetDead: () => {}, list: () => [] });
      // A container attached from before a restart: served from the start.
      const container = { id: "c1", label: "c1", netnsPath: "/proc/1/ns/net", addresses: ["10.32.0.2/12"] };
      attached.start({ address: LOOPBACK, forgetDead: () => {}, list: () => [container as never] });
      await until("the attached host's server is up", 30_000, () => Promise.resolve(attached.address));
      await new Promise((r) => setTimeout(r, 1_500)); // three watch periods
      assert.equal(idle.address, undefined, "nothing attached, nothing exposed: no server");
      idle.serve();
      await until("the server is up once asked", 30_000, () => Promise.resolve(idle.address));
    } finally {
      await idle.stop();
      await attached.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
);
