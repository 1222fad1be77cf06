import assert from "node:assert/strict";
import { Forwarder, parseResolvConf, ResolvConf } from "../../src/dns/upstream.ts";
import { DnsServer } from "../../src/dns/server.ts";
import { NameTable } from "../../src/dns/name_table.ts";
import { decodeMessage, rcodeOf } from "../../src/dns/message.ts";
import { Flag, Rcode } from "../../src/dns/constants.ts";
import { setLogLevel } from "../../src/log.ts";
import { DIG_QUERY, ioTest, query } from "./fixtures.ts";
import { freePort } from "./dnsmasq.ts";
import { MemorySockets } from "../../src/dns/testing/memory_sockets.ts";

setLogLevel("error");

const LOOPBACK = "127.0.0.1";

Deno.test("parseResolvConf() lists nameservers in order, skipping our own, comments and junk", () => {
  const text = [
    "# generated",
    "search example.com",
    "nameserver 10.0.0.2 ; primary",
    "nameserver 10.32.0.1",
    "nameserver   FD00::0:53",
    "nameserver fe80::1%eth0",
    "nameserver not-an-ip",
    ";nameserver 10.9.9.9",
    "nameserver 10.0.0.2",
    "options ndots:5",
  ].join("\n");
  assert.deepEqual(parseResolvConf(text, ["10.32.0.1"]), ["10.0.0.2", "fd00::53"]);
  assert.deepEqual(parseResolvConf(""), []);
});

ioTest("ResolvConf.servers() re-reads the file when it changes", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, "nameserver 10.0.0.2\nnameserver 10.32.0.1\n");
    const rc = new ResolvConf(path, ["10.32.0.1"]);
    assert.deepEqual(await rc.servers(), [{ address: "10.0.0.2", port: 53 }]);
    await Deno.writeTextFile(path, "nameserver 10.0.0.3\nnameserver 10.0.0.4\n");
    await Deno.utime(path, 1, 2_000_000_000);
    assert.deepEqual((await rc.servers()).map((s) => s.address), ["10.0.0.3", "10.0.0.4"]);
    await Deno.remove(path);
    assert.deepEqual(await rc.servers(), []);
  } finally {
    await Deno.remove(path).catch(() => {});
  }
  assert.throws(() => new ResolvConf("/x", ["bad"]), /Invalid IP address 'bad'/);
});

ioTest("Forwarder.forward() tries upstreams in turn and gives SERVFAIL when all fail", async () => {
  const t = new NameTable();
  t.add("x.weave.local.", "10.32.0.1", "c1", "ce:31:e0:06:45:1e");
  const up = DnsServer.listen({ hostname: LOOPBACK, port: 0, table: t });
  try {
    const dead = { address: LOOPBACK, port: freePort() };
    const live = { address: LOOPBACK, port: up.port };
    const ok = decodeMessage(
      await new Forwarder({ servers: () => [dead, live], timeoutMs: 200 }).forward(DIG_QUERY, "udp"),
    );
    assert.equal(ok.id, 0x1b6f, "the client's id is restored");
    assert.equal(ok.answers.length, 1);
    const started = Date.now();
    const fail = await new Forwarder({ servers: () => [dead, dead], timeoutMs: 150 }).forward(
      DIG_QUERY,
      "udp",
    );
    assert.ok(Date.now() - started < 1000);
    assert.equal(rcodeOf(decodeMessage(fail).flags), Rcode.servFail);
    const none = await new Forwarder({ servers: () => Promise.reject(new Error("boom")) }).forward(
      DIG_QUERY,
      "tcp",
    );
    assert.equal(rcodeOf(decodeMessage(none).flags), Rcode.servFail);
  } finally {
    await up.close();
  }
});

ioTest("Forwarder.forward() retries a truncated reply over TCP for TCP clients", async () => {
  const t = new NameTable();
  for (let i = 0; i < 60; i++) t.add("many.weave.local.", `10.32.1.${i}`, `m${i}`, "ce:31:e0:06:45:1e");
  const up = DnsServer.listen({ hostname: LOOPBACK, port: 0, table: t });
  try {
    const f = new Forwarder({ servers: () => [{ address: LOOPBACK, port: up.port }], timeoutMs: 500 });
    const q = query("many.weave.local.");
    const udp = decodeMessage(await f.forward(q, "udp"));
    assert.ok(udp.flags & Flag.tc);
    const tcp = decodeMessage(await f.forward(q, "tcp"));
    assert.equal(tcp.flags & Flag.tc, 0);
    assert.equal(tcp.answers.length, 60);
    assert.equal(tcp.id, 0xbeef);
  } finally {
    await up.close();
  }
});

Deno.test("Forwarder tries an upstream that just failed last, for a while, then first again (in memory)", async () => {
  const net = new MemorySockets();
  const t = new NameTable();
  t.add("x.weave.local.", "10.32.0.1", "c1", "ce:31:e0:06:45:1e");
  const live = DnsServer.listen({ hostname: "10.0.0.2", port: 53, table: t, sockets: net });
  const silent = net.listenDatagram("10.0.0.1", 53); // bound, never answers: each forward to it times out
  let asked = 0;
  const counting = (async () => {
    try {
      for (;;) await silent.receive(), asked++;
    } catch { /* closed */ }
  })();
  let now = 1_000_000;
  const f = new Forwarder({
    servers: () => [{ address: "10.0.0.1", port: 53 }, { address: "10.0.0.2", port: 53 }],
    timeoutMs: 100,
    deadMs: 5_000,
    now: () => now,
    sockets: net,
  });
  const ask = async () => rcodeOf(decodeMessage(await f.forward(query("x.weave.local."), "udp")).flags);
  try {
    assert.equal(await ask(), Rcode.noError);
    assert.equal(asked, 1, "the first forward waits for the silent upstream");
    const started = performance.now();
    for (let i = 0; i < 5; i++) assert.equal(await ask(), Rcode.noError);
    assert.equal(asked, 1, "while remembered dead it is tried last, so never reached");
    assert.ok(performance.now() - started < 500, "five forwards paid no timeout");
    now += 5_000;
    assert.equal(await ask(), Rcode.noError);
    assert.equal(asked, 2, "forgotten after deadMs: tried first again");
    await live.close();
    assert.equal(await ask(), Rcode.servFail, "all failing: SERVFAIL");
    assert.equal(asked, 3, "a dead upstream is still tried when the others fail");
  } finally {
    silent.close();
    await counting;
    await live.close();
  }
});
