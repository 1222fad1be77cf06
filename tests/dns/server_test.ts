import assert from "node:assert/strict";
import { DnsServer } from "../../src/dns/server.ts";
import { NameTable } from "../../src/dns/name_table.ts";
import { Forwarder, type Upstream } from "../../src/dns/upstream.ts";
import { decodeMessage, rcodeOf } from "../../src/dns/message.ts";
import { Rcode } from "../../src/dns/constants.ts";
import { setLogLevel } from "../../src/log.ts";
import { DIG_PTR_QUERY, DIG_QUERY, ioTest, query } from "./fixtures.ts";
import { freePort, startDnsmasq } from "./dnsmasq.ts";
import { prng } from "./prng.ts";

setLogLevel("error");

const PEER = "ce:31:e0:06:45:1e";
const LOOPBACK = "127.0.0.1";

function table(): NameTable {
  const t = new NameTable();
  for (let i = 1; i <= 3; i++) t.add("x.weave.local.", `10.32.0.${i}`, `c${i}`, PEER);
  t.add("x.weave.local.", "fd00::1", "c1", PEER);
  for (let i = 0; i < 100; i++) t.add("many.weave.local.", `10.32.1.${i}`, `m${i}`, PEER);
  return t;
}

async function dig(port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("dig", {
    args: [`@${LOOPBACK}`, "-p", String(port), "+tries=1", "+time=3", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

const short = async (port: number, ...args: string[]) =>
  (await dig(port, "+short", ...args)).trim().split("\n").filter((l) => l !== "").sort();

/** Runs `body` with a server on a random port forwarding to `upstreams`, closed afterwards. */
async function withServer(
  upstreams: Upstream[],
  body: (s: DnsServer) => Promise<void>,
  extra: { tcpIdleTimeoutMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const forwarder = new Forwarder({ servers: () => upstreams, timeoutMs: extra.timeoutMs ?? 2000 });
  const server = DnsServer.listen({
    hostname: LOOPBACK,
    port: 0,
    table: table(),
    forwarder,
    tcpIdleTimeoutMs: extra.tcpIdleTimeoutMs,
  });
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

ioTest("DnsServer answers dig over UDP and TCP, with NXDOMAIN and PTR", async () => {
  await withServer([], async (s) => {
    const want = ["10.32.0.1", "10.32.0.2", "10.32.0.3"];
    assert.deepEqual(await short(s.port, "x.weave.local"), want);
    assert.deepEqual(await short(s.port, "+tcp", "X.Weave.Local"), want);
    assert.deepEqual(await short(s.port, "AAAA", "x.weave.local"), ["fd00::1"]);
    assert.deepEqual(await short(s.port, "-x", "10.32.0.2"), ["x.weave.local."]);
    assert.match(await dig(s.port, "nobody.weave.local"), /status: NXDOMAIN/);
    assert.match(await dig(s.port, "MX", "x.weave.local"), /status: NOERROR.*\n.*ANSWER: 0/);
  });
});

ioTest("DnsServer truncates big UDP answers with TC; dig retries over TCP and gets them all", async () => {
  await withServer([], async (s) => {
    const cut = await dig(s.port, "+noedns", "+ignore", "many.weave.local");
    assert.match(cut, /flags: qr aa tc rd ra;/);
    assert.match(cut, /ANSWER: 29,/); // (512 - 12 - 22) / 16
    assert.equal((await short(s.port, "+noedns", "many.weave.local")).length, 100);
    assert.equal((await short(s.port, "+tcp", "many.weave.local")).length, 100);
  });
});

ioTest("DnsServer forwards other names to dnsmasq upstream, SERVFAIL when upstreams are dead", async () => {
  const upstream = await startDnsmasq(["--address=/ext.test/1.2.3.4"], "ext.test.");
  try {
    const dead = { address: LOOPBACK, port: freePort() };
    await withServer([dead, { address: LOOPBACK, port: upstream.port }], async (s) => {
      assert.deepEqual(await short(s.port, "ext.test"), ["1.2.3.4"]);
      assert.deepEqual(await short(s.port, "+tcp", "a.ext.test"), ["1.2.3.4"]);
      assert.match(await dig(s.port, "other.test"), /status: REFUSED/, "the upstream's answer is passed on");
    }, { timeoutMs: 300 });
    await withServer([dead], async (s) => {
      assert.match(await dig(s.port, "ext.test"), /status: SERVFAIL/);
      assert.match(
        await dig(s.port, "-x", "10.99.0.1"),
        /status: SERVFAIL/,
        "unknown reverse names go upstream",
      );
    }, { timeoutMs: 200 });
  } finally {
    await upstream.stop();
  }
});

ioTest("DnsServer forwards to a second meshnet server as upstream", async () => {
  const other = new NameTable();
  other.add("db.other.test.", "10.40.0.7", "c7", PEER);
  const upstream = DnsServer.listen({ hostname: LOOPBACK, port: 0, table: other, domain: "other.test." });
  try {
    await withServer([{ address: LOOPBACK, port: upstream.port }], async (s) => {
      assert.deepEqual(await short(s.port, "db.other.test"), ["10.40.0.7"]);
      assert.match(await dig(s.port, "+tcp", "nobody.other.test"), /status: NXDOMAIN/);
    });
  } finally {
    await upstream.close();
  }
});

/** Sends one UDP query and waits for the reply (or undefined after `ms`). */
async function udpAsk(port: number, q: Uint8Array, ms = 1000): Promise<Uint8Array | undefined> {
  const c = Deno.listenDatagram({ transport: "udp", hostname: LOOPBACK, port: 0 });
  const timer = setTimeout(() => c.close(), ms);
  try {
    await c.send(q, { transport: "udp", hostname: LOOPBACK, port });
    return (await c.receive())[0];
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    try {
      c.close();
    } catch { /* closed by the timer */ }
  }
}

async function readAll(conn: Deno.TcpConn): Promise<Uint8Array> {
  const chunks: number[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return Uint8Array.from(chunks);
    chunks.push(...buf.subarray(0, n));
  }
}

const frame = (m: Uint8Array) => Uint8Array.of(m.length >> 8, m.length & 0xff, ...m);

ioTest("DnsServer serves pipelined TCP queries and drops short, oversized and silent clients", async () => {
  await withServer([], async (s) => {
    const tcp = () => Deno.connect({ hostname: LOOPBACK, port: s.port });
    // two queries in one write: two replies, then the server waits for more until we close
    const c1 = await tcp();
    await c1.write(Uint8Array.of(...frame(DIG_QUERY), ...frame(DIG_PTR_QUERY)));
    await c1.closeWrite();
    const both = await readAll(c1);
    c1.close();
    const len1 = (both[0] << 8) | both[1];
    assert.equal(decodeMessage(both.subarray(2, 2 + len1)).id, 0x1b6f);
    assert.equal(decodeMessage(both.subarray(4 + len1)).id, 0x79af);
    // a length prefix larger than what follows, then EOF: closed without a reply
    const c2 = await tcp();
    await c2.write(Uint8Array.of(0x10, 0x00, ...DIG_QUERY));
    await c2.closeWrite();
    assert.equal((await readAll(c2)).length, 0);
    c2.close();
    // a client that says nothing, and one that stalls mid-frame: closed by the idle timer
    const started = Date.now();
    const [c3, c4] = [await tcp(), await tcp()];
    await c4.write(Uint8Array.of(0x00, 0x40, 1, 2, 3));
    assert.deepEqual([(await readAll(c3)).length, (await readAll(c4)).length], [0, 0]);
    assert.ok(Date.now() - started < 3000);
    c3.close();
    c4.close();
    // still serving
    assert.deepEqual(await short(s.port, "+tcp", "x.weave.local"), ["10.32.0.1", "10.32.0.2", "10.32.0.3"]);
  }, { tcpIdleTimeoutMs: 300 });
});

ioTest("DnsServer fuzz: random and mutated packets over UDP and TCP never stop it", async () => {
  const r = prng(21);
  const seeds = [DIG_QUERY, DIG_PTR_QUERY];
  const mutate = () => {
    if (r.int(4) === 0) return r.bytes(r.int(80));
    const b = r.pick(seeds).slice();
    for (let k = 1 + r.int(4); k > 0; k--) b[r.int(b.length)] = r.int(256);
    return r.int(4) === 0 ? b.subarray(0, r.int(b.length + 1)) : b;
  };
  await withServer([{ address: LOOPBACK, port: freePort() }], async (s) => {
    const sock = Deno.listenDatagram({ transport: "udp", hostname: LOOPBACK, port: 0 });
    try {
      for (let i = 0; i < 3000; i++) {
        await sock.send(mutate(), { transport: "udp", hostname: LOOPBACK, port: s.port });
      }
    } finally {
      sock.close();
    }
    for (let i = 0; i < 30; i++) {
      const c = await Deno.connect({ hostname: LOOPBACK, port: s.port });
      const junk = Array.from({ length: 1 + r.int(3) }, () => r.int(3) === 0 ? mutate() : frame(mutate()));
      await c.write(Uint8Array.from(junk.flatMap((j) => [...j]))).catch(() => 0);
      await c.closeWrite().catch(() => {});
      await readAll(c);
      c.close();
    }
    const reply = await udpAsk(s.port, query("x.weave.local."));
    assert.ok(reply, "the server still answers after the fuzz");
    assert.equal(rcodeOf(decodeMessage(reply).flags), Rcode.noError);
    assert.equal(decodeMessage(reply).answers.length, 3);
  }, { tcpIdleTimeoutMs: 300, timeoutMs: 100 });
});

ioTest(
  "DnsServer answers bursts from many clients in batches, each reply to its own client and id",
  async () => {
    await withServer([], async (s) => {
      const clients = Array.from(
        { length: 8 },
        () => Deno.listenDatagram({ transport: "udp", hostname: LOOPBACK, port: 0 }),
      );
      const perClient = 40;
      try {
        const received = clients.map(async (c, k) => {
          const ids = new Set<number>();
          const timer = setTimeout(() => c.close(), 5000);
          try {
            while (ids.size < perClient) {
              const m = decodeMessage((await c.receive())[0]);
              assert.equal(m.id >> 8, k, "the reply went to the client that asked");
              assert.equal(m.answers.length, 3);
              ids.add(m.id & 0xff);
            }
          } finally {
            clearTimeout(timer);
          }
          return ids.size;
        });
        for (let i = 0; i < perClient; i++) {
          await Promise.all(clients.map((c, k) => {
            const q = query("x.weave.local.");
            q[0] = k;
            q[1] = i;
            return c.send(q, { transport: "udp", hostname: LOOPBACK, port: s.port });
          }));
        }
        assert.deepEqual(await Promise.all(received), clients.map(() => perClient));
        assert.equal(s.metrics.udpQueries, clients.length * perClient);
        assert.equal(s.metrics.replies[Rcode.noError], clients.length * perClient);
      } finally {
        for (const c of clients) {
          try {
            c.close();
          } catch { /* closed by its timer */ }
        }
      }
    });
  },
);
