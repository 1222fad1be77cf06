/**
 * The mesh transport against hostile peers on loopback: unauthenticated connections together hold at most the
 * pre-authentication budget, those beyond it are closed at once, and oversized pre-authentication frames get
 * their connection closed.
 */
import assert from "node:assert/strict";
import { PRE_AUTH_CONNECTION_BYTES, PROTOCOL_MAGIC } from "../../src/mesh/constants.ts";
import { setLogLevel } from "../../src/log.ts";
import type { RouterConfig } from "../../src/router/config.ts";
import { testConfig } from "./config_fixture.ts";
import { MeshTransport } from "../../src/router/mesh_transport.ts";
import { until } from "../../testing/poll.ts";

setLogLevel("error");

function config(): RouterConfig {
  return testConfig({ nickname: "victim", port: 0, host: "127.0.0.1", dnsDomain: "meshnet.local." });
}

/** Header and "unencrypted" flag: the start of a handshake, after which a hostile peer stalls or misbehaves. */
const PREFIX = Uint8Array.of(...new TextEncoder().encode(PROTOCOL_MAGIC), 1, 1, 0);

/** Resolves true once the server closed `conn` (read ends or fails), false if still open after `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buf = new Uint8Array(64);
  const deadline = Date.now() + ms;
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      conn.read(buf).catch(() => null),
      new Promise<"open">((
        res,
      ) => (timer = setTimeout(() => res("open"), Math.max(1, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    if (r === null) return true;
    if (r === "open") return false;
  }
}

Deno.test("MeshTransport holds at most the pre-auth budget for stalled handshakes and closes the rest at once", async () => {
  const slots = 8;
  const mesh = new MeshTransport(config(), { name: "aa:00:00:00:00:01", nickname: "victim", uid: 1n }, {
    preAuthBudgetBytes: slots * PRE_AUTH_CONNECTION_BYTES,
  });
  mesh.start();
  const conns: Deno.Conn[] = [];
  try {
    let peak = 0;
    for (let i = 0; i < 3 * slots; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: mesh.port });
      conns.push(c);
      await c.write(PREFIX); // then stall: never the features
      peak = Math.max(peak, mesh.preAuthBytes);
    }
    await until(
      "all connections accepted",
      5_000,
      () => Promise.resolve(mesh.handshaking === slots ? true : undefined),
    );
    peak = Math.max(peak, mesh.preAuthBytes);
    assert.ok(
      peak <= slots * PRE_AUTH_CONNECTION_BYTES,
      `held ${peak} bytes, budget ${slots * PRE_AUTH_CONNECTION_BYTES}`,
    );
    const closed = await Promise.all(conns.map((c) => closedWithin(c, 300)));
    assert.equal(closed.filter((x) => !x).length, slots, "exactly the budget's connections stay open");
    assert.deepEqual(closed.slice(0, slots), new Array(slots).fill(false), "the first ones keep their slot");
  } finally {
    for (const c of conns) c.close();
    await until("handshakes ended", 5_000, () => Promise.resolve(mesh.handshaking === 0 ? true : undefined));
    mesh.stop();
  }
  assert.equal(mesh.preAuthBytes, 0, "every reservation is released");
});

Deno.test("MeshTransport closes a connection that announces a 10 MiB frame before authentication", async () => {
  const mesh = new MeshTransport(config(), { name: "aa:00:00:00:00:01", nickname: "victim", uid: 1n });
  mesh.start();
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: mesh.port });
      conns.push(c);
      const announce = new Uint8Array(4);
      new DataView(announce.buffer).setUint32(0, 10 * 1024 * 1024);
      await c.write(Uint8Array.of(...PREFIX, ...announce, ...new Uint8Array(1000)));
    }
    const closed = await Promise.all(conns.map((c) => closedWithin(c, 2_000)));
    assert.ok(closed.every((x) => x), "every offender is closed");
    await until("handshakes ended", 5_000, () => Promise.resolve(mesh.handshaking === 0 ? true : undefined));
    assert.equal(mesh.preAuthBytes, 0);
  } finally {
    for (const c of conns) c.close();
    mesh.stop();
  }
});

Deno.test("MeshTransport: two peers dialling each other at once wire only the lower name's connection, many times over", async () => {
  const up: string[] = [];
  for (let trial = 0; trial < 5; trial++) {
    const names = ["aa:00:00:00:00:01", "aa:00:00:00:00:02"];
    const meshes = names.map((name, i) => {
      const m = new MeshTransport(
        testConfig({ nickname: `p${i}`, port: 0, host: "127.0.0.1", dnsDomain: "meshnet.local." }),
        { name, nickname: `p${i}`, uid: BigInt(10 * trial + i + 1) },
      );
      m.onConnection((e) => up.push(`${trial} ${name} ${e.type} ${e.type === "up" ? e.outbound : ""}`));
      m.start();
      return m;
    });
    try {
      meshes[0].connect([`127.0.0.1:${meshes[1].port}`], false);
      meshes[1].connect([`127.0.0.1:${meshes[0].port}`], false);
      await until(
        "one connection each",
        5_000,
        () => Promise.resolve(meshes.every((m) => m.connections().length === 1) ? true : undefined),
      );
      // Past the grace: the other direction's connection has been dropped without being wired.
      await new Promise((r) => setTimeout(r, 1_500));
      assert.deepEqual(meshes.map((m) => m.connections().map((c) => c.outbound)), [[true], [false]]);
    } finally {
      for (const m of meshes) m.stop();
    }
  }
  assert.deepEqual(
    up.filter((l) => !l.endsWith("down ")).sort(),
    Array.from({ length: 5 }, (_, t) => [`${t} aa:00:00:00:00:01 up true`, `${t} aa:00:00:00:00:02 up false`])
      .flat(),
    "each end wired exactly one connection per trial, the one the lower name dialled",
  );
});

Deno.test("MeshTransport: a connection only the higher name dials is wired at both ends, the lower deciding at once", async () => {
  const names = ["aa:00:00:00:00:01", "aa:00:00:00:00:02"];
  const meshes = names.map((name, i) =>
    new MeshTransport(
      testConfig({ nickname: `p${i}`, port: 0, host: "127.0.0.1", dnsDomain: "meshnet.local." }),
      { name, nickname: `p${i}`, uid: BigInt(i + 1) },
    )
  );
  for (const m of meshes) m.start();
  try {
    meshes[1].connect([`127.0.0.1:${meshes[0].port}`], false);
    await until(
      "the higher name's connection wired at both ends",
      5_000,
      () => Promise.resolve(meshes.every((m) => m.connections().length === 1) ? true : undefined),
    );
    assert.deepEqual(meshes.map((m) => m.connections().map((c) => c.outbound)), [[false], [true]]);
    assert.equal(meshes[1].targets()[0].state, "connected");
  } finally {
    for (const m of meshes) m.stop();
  }
});
