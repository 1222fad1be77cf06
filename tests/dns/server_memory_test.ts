/** The DNS server's and forwarder's logic on the in-memory sockets: no network, no permissions. */
import assert from "node:assert/strict";
import { DnsServer } from "../../src/dns/server.ts";
import { NameTable } from "../../src/dns/name_table.ts";
import { Forwarder, type Upstream } from "../../src/dns/upstream.ts";
import { readFrame, writeFrame } from "../../src/dns/framing.ts";
import { decodeMessage, rcodeOf } from "../../src/dns/message.ts";
import { Rcode } from "../../src/dns/constants.ts";
import { MemorySockets } from "../../src/dns/testing/memory_sockets.ts";
import { setLogLevel } from "../../src/log.ts";
import { query } from "./fixtures.ts";

setLogLevel("error");

const PEER = "ce:31:e0:06:45:1e";

/** A server on `net` at `hostname` whose table holds one name, `x.` + `domain`, for `address`. */
function serve(
  net: MemorySockets,
  hostname: string,
  domain: string,
  address: string,
  forwarder?: Forwarder,
): DnsServer {
  const table = new NameTable();
  table.add(`x.${domain}`, address, "c1", PEER);
  return DnsServer.listen({ hostname, port: 0, table, domain, forwarder, sockets: net });
}

/** The IPv4 addresses a reply answers with, sorted. */
function addresses(reply: Uint8Array): string[] {
  return decodeMessage(reply).answers.map((a) => [...(a.data as Uint8Array)].join(".")).sort();
}

function rcode(reply: Uint8Array): number {
  return rcodeOf(decodeMessage(reply).flags);
}

/** One UDP exchange from a fresh client socket on `net`. */
async function udpAsk(net: MemorySockets, port: number, q: Uint8Array): Promise<Uint8Array> {
  const client = net.listenDatagram("127.0.0.9", 0);
  try {
    await client.send(q, { transport: "udp", hostname: "127.0.0.1", port });
    return (await client.receive())[0];
  } finally {
    client.close();
  }
}

Deno.test("DnsServer on in-memory sockets answers from the table over UDP and TCP, NXDOMAIN otherwise", async () => {
  const net = new MemorySockets();
  const server = serve(net, "127.0.0.1", "weave.local.", "10.32.0.1");
  try {
    assert.deepEqual(addresses(await udpAsk(net, server.port, query("x.weave.local."))), ["10.32.0.1"]);
    assert.equal(rcode(await udpAsk(net, server.port, query("y.weave.local."))), Rcode.nxDomain);
    const conn = await net.connect("127.0.0.1", server.port);
    await writeFrame(conn, query("X.Weave.Local."));
    assert.deepEqual(addresses((await readFrame(conn))!), ["10.32.0.1"]);
    conn.close();
  } finally {
    await server.close();
  }
});

Deno.test("DnsServer on in-memory sockets forwards other names upstream, SERVFAIL when none answers", async () => {
  const net = new MemorySockets();
  const upstream = serve(net, "127.0.0.2", "example.test.", "192.0.2.7");
  let servers: Upstream[] = [{ address: "127.0.0.2", port: upstream.port }];
  const forwarder = new Forwarder({ servers: () => servers, timeoutMs: 200, sockets: net });
  const server = serve(net, "127.0.0.1", "weave.local.", "10.32.0.1", forwarder);
  try {
    const reply = await udpAsk(net, server.port, query("x.example.test."));
    assert.equal(decodeMessage(reply).id, 0xbeef, "the client's id comes back");
    assert.deepEqual(addresses(reply), ["192.0.2.7"]);
    servers = [{ address: "127.0.0.3", port: 53 }];
    assert.equal(rcode(await udpAsk(net, server.port, query("x.example.test."))), Rcode.servFail);
  } finally {
    await server.close();
    await upstream.close();
  }
});
