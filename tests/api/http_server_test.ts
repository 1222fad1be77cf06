import assert from "node:assert/strict";
import { HttpServer } from "../../src/api/http_server.ts";
import { readForm, text } from "../../src/api/http.ts";

const enc = new TextEncoder();

function server(): HttpServer {
  return HttpServer.listen({
    hostname: "127.0.0.1",
    port: 0,
    headerTimeoutMs: 300,
    bodyTimeoutMs: 300,
    maxBodyBytes: 1000,
    handler: async (req) => {
      if (req.method === "POST") return text(200, (await readForm(req)).getAll("peer").join(","));
      return text(200, new URL(req.url).pathname);
    },
  });
}

/** Sends `bytes` on a raw connection, then reads until the server closes it: the reply and how long it took. */
async function raw(s: HttpServer, bytes: string, limitMs = 3000): Promise<{ reply: string; ms: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.addr.port });
  const t0 = performance.now();
  try {
    await conn.write(enc.encode(bytes));
    let reply = "";
    const buf = new Uint8Array(4096);
    const deadline = Date.now() + limitMs;
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        conn.read(buf).catch(() => null),
        new Promise<"open">((r) => (timer = setTimeout(() => r("open"), Math.max(1, deadline - Date.now())))),
      ]);
      clearTimeout(timer);
      if (n === "open") return { reply: reply + "[still open]", ms: performance.now() - t0 };
      if (n === null) return { reply, ms: performance.now() - t0 };
      reply += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

Deno.test("HttpServer answers fetch requests, GET and form POST", async () => {
  const s = server();
  try {
    const get = await fetch(`http://127.0.0.1:${s.addr.port}/status?x=1`);
    assert.equal(get.status, 200);
    assert.equal(await get.text(), "/status\n");
    const post = await fetch(`http://127.0.0.1:${s.addr.port}/connect`, {
      method: "POST",
      body: new URLSearchParams([["peer", "a"], ["peer", "b:1"]]),
    });
    assert.equal(await post.text(), "a,b:1\n");
  } finally {
    await s.shutdown();
  }
});

Deno.test("HttpServer closes a client that stalls in its headers or its body after the deadline, with 408", async () => {
  const s = server();
  try {
    const [head, body] = await Promise.all([
      raw(s, "GET /status HTTP/1.1\r\nHost: x\r\n"),
      raw(s, "POST /connect HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npeer=a"),
    ]);
    for (const r of [head, body]) {
      assert.match(r.reply, /^HTTP\/1\.1 408 Request Timeout\r\n/);
      assert.ok(!r.reply.endsWith("[still open]"), "the connection is closed");
      assert.ok(r.ms >= 250 && r.ms < 2500, `closed after ${Math.round(r.ms)} ms`);
    }
    assert.match(head.reply, /Request headers not received within 0.3 s/);
    assert.match(body.reply, /Request body not received within 0.3 s \(100 bytes announced\)/);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.connections, 0);
  } finally {
    await s.shutdown();
  }
});

Deno.test("HttpServer refuses oversized, chunked and malformed requests with a reason", async () => {
  const s = server();
  try {
    const cases: [string, RegExp][] = [
      ["POST /connect HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", /^HTTP\/1\.1 413 .*over 1000 bytes/s],
      ["POST /connect HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", /^HTTP\/1\.1 411 .*Content-Length/s],
      ["GET /x HTTP/1.1\r\n" + "X-A: b\r\n".repeat(3000) + "\r\n", /^HTTP\/1\.1 431 /],
      ["HELLO\r\n\r\n", /^HTTP\/1\.1 400 .*Malformed request line 'HELLO'/s],
      ["GET / HTTP/1.1\r\nno colon\r\n\r\n", /^HTTP\/1\.1 400 .*Malformed header line/s],
      ["POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", /^HTTP\/1\.1 400 .*Invalid Content-Length '-1'/s],
    ];
    for (const [req, expected] of cases) {
      const { reply } = await raw(s, req);
      assert.match(reply, expected, JSON.stringify(req.slice(0, 60)));
    }
  } finally {
    await s.shutdown();
  }
});

Deno.test("HttpServer closes connections beyond its limit and frees every stalled one by the deadline", async () => {
  const s = HttpServer.listen({
    hostname: "127.0.0.1",
    port: 0,
    headerTimeoutMs: 300,
    maxConnections: 20,
    handler: () => text(200, "ok"),
  });
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 50; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: s.addr.port });
      await c.write(enc.encode("GET / HTTP/1.1\r\n"));
      conns.push(c);
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(s.connections <= 20, `${s.connections} connections held`);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(s.connections, 0, "every stalled connection was closed");
  } finally {
    for (const c of conns) c.close();
    await s.shutdown();
  }
});
