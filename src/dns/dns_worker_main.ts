/**
 * The DNS Worker: it owns the server's UDP socket (batched, FFI) and answers there without the main thread:
 * names from the table the main thread pushes on every change, forwarded names from its cache, the rest by
 * forwarding upstream itself (the resolv.conf is the one file it may read). The main thread keeps TCP and
 * sends TCP clients' forwarded queries here, so there is one cache and one view of which upstreams are dead.
 *
 * Flow and concurrency: one {@link UdpService} loop on the Worker's event loop; control messages
 * (worker_protocol.ts: names, forward, stats, stop) are handled between its wakeups, and BatchUdp yields
 * after each batch, so stats are answered under load. Started by {@link DnsWorker}; needs FFI permission
 * (the socket), net (forwarding sockets, --unstable-net) and read of the resolv.conf.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { serveLink } from "../worker/link_endpoint.ts";
import { setLogLevel } from "../log.ts";
import { NameTable } from "./name_table.ts";
import type { NameLookup } from "./answer.ts";
import { cachedCounted, CachingForwarder, forwardCounted } from "./caching_forwarder.ts";
import { DnsMetrics } from "./metrics.ts";
import { answerBase } from "./server.ts";
import { BatchUdp } from "./udp_batch.ts";
import { UdpService } from "./udp_service.ts";
import { ResolvConf } from "./upstream.ts";
import type { DnsWorkerStartOptions, DnsWorkerStats, FromDnsWorker, ToDnsWorker } from "./worker_protocol.ts";

/** The names served, replaced whole by each `names` message. */
class PushedNames implements NameLookup {
  table = new NameTable();
  addressesOf(name: string): readonly Uint8Array[] {
    return this.table.addressesOf(name);
  }
  namesOf(address: Uint8Array): readonly string[] {
    return this.table.namesOf(address);
  }
}

interface Running {
  socket: BatchUdp;
  names: PushedNames;
  forwarder: CachingForwarder;
  metrics: DnsMetrics;
}

let running: Running | undefined;

function post(message: FromDnsWorker): void {
  self.postMessage(message);
}

function stats(r: Running): DnsWorkerStats {
  const cache = r.forwarder.cache;
  return { counters: r.metrics.counters(), cache: { entries: cache.size, bytes: cache.bytes } };
}

function start(o: DnsWorkerStartOptions): void {
  if (o.logLevel) setLogLevel(o.logLevel);
  const names = new PushedNames();
  names.table = new NameTable(o.entries);
  const resolv = new ResolvConf(o.resolvConf, [o.hostname]);
  const fixed = o.upstreams;
  const forwarder = new CachingForwarder({
    servers: () => fixed ?? resolv.servers(),
    timeoutMs: o.upstreamTimeoutMs,
  });
  const socket = BatchUdp.open(o.hostname, o.port);
  const metrics = new DnsMetrics();
  const r = running = { socket, names, forwarder, metrics };
  const service = new UdpService(socket, {
    table: names,
    answer: { ...answerBase(o), transport: "udp" },
    forwarder,
    metrics,
  });
  post({ op: "started", address: socket.local.address, port: socket.local.port, stats: stats(r) });
  service.done.then(
    () => post({ op: "stopped" }),
    (e) => {
      post({ op: "error", message: (e as Error).message, fatal: true });
      post({ op: "stopped" });
    },
  );
}

/** A TCP client's forwarded query: from the cache, else upstream; counted here. */
async function forward(r: Running, id: number, query: Uint8Array, transport: "udp" | "tcp"): Promise<void> {
  const reply = cachedCounted(r.forwarder, query, transport, r.metrics) ??
    await forwardCounted(r.forwarder, query, transport, r.metrics);
  post({ op: "reply", id, value: reply });
}

function handle(msg: ToDnsWorker): void {
  if (msg.op === "start") return start(msg.options);
  if (msg.op === "stop") {
    if (running) return running.socket.close(); // the serve loop ends, then "stopped"
    return post({ op: "stopped" });
  }
  const r = running;
  if (!r) throw new Error(`Cannot ${msg.op}: the DNS Worker is not started; send start first`);
  switch (msg.op) {
    case "names":
      r.names.table = new NameTable(msg.entries);
      return;
    case "forward":
      forward(r, msg.id, msg.query, msg.transport).catch((e) =>
        post({ op: "error", message: `Forward failed: ${(e as Error).message}`, fatal: false })
      );
      return;
    case "stats":
      return post({ op: "reply", id: msg.id, value: stats(r) });
  }
}

serveLink<ToDnsWorker>(handle);
