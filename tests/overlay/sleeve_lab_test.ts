/**
 * End-to-end tests of the sleeve data plane with real meshnet daemons on lab hosts: containers on different
 * hosts talk through the sleeve, relayed by a middle host in a line.
 *
 *   line:  h1 ── h2 ── h3      (h1 and h3 cannot reach each other on the underlay)
 *   full:  h1, h2, h3 all reach each other (broadcast must still arrive once)
 */
import assert from "node:assert/strict";
import { SeededRandom } from "../../testing/seeded_random.ts";
import { aes256gcm } from "../../ffi/sodium.ts";
import { type Lab, meshnet, startMeshnet, withLab } from "../../src/lab/mod.ts";
import {
  broadcastOnce,
  containsBytes,
  converge,
  multicastOnce,
  mustExec,
  overlayAddress,
  poll,
  randomFile,
  replayUdp,
  report,
  sendUdp,
  tcpdump,
  transfer,
  udpPayloads,
} from "./lab_traffic.ts";
import { FRAME_HOP_LIMIT, RecordKind, SLEEVE_VERSION } from "../../src/overlay/sleeve/constants.ts";

const MB = 1 << 20;
/**
 * `--no-fastdp`: these tests are about the sleeve, which would otherwise carry only what kernel VXLAN cannot.
 * The containers get fixed addresses 10.32.H.C/12 (startMeshnet); an IPAM range apart from them keeps these
 * data-plane tests independent of IPAM consensus, which would otherwise have to claim each address first.
 */
const LAUNCH = ["--no-fastdp", "--ipalloc-range", "10.48.0.0/12"];
const SLEEVE_PORT = 6783;

/** The overlay address (no prefix length) of container `c` of host `h`, as startMeshnet attaches it. */
const addr = overlayAddress;

/** Converges the mesh and checks containers h1c1 and hNc1 ping each other both ways. */
async function pingEnds(lab: Lab): Promise<void> {
  const n = lab.hosts.length;
  await converge(lab, [[`h1c1`, addr(n)], [`h${n}c1`, addr(1)]]);
  for (const [from, to] of [[`h1c1`, addr(n)], [`h${n}c1`, addr(1)]]) {
    const out = await mustExec(lab, from, ["ping", "-c3", "-i0.2", "-W2", to]);
    assert.match(out, / 0% packet loss/, `${from} → ${to}`);
  }
}

/** Sends 50 MB over TCP from h1c1 to hNc1 and checks the receiver's SHA-256. */
async function transfer50(lab: Lab): Promise<void> {
  const file = await randomFile(50 * MB);
  try {
    const n = lab.hosts.length;
    const got = await transfer(lab, "h1c1", `h${n}c1`, addr(n), file.path);
    assert.deepEqual(got, { bytes: 50 * MB, sha256: file.sha256 });
  } finally {
    await Deno.remove(file.path);
  }
}

/**
 * Captures the underlay (the LAN namespace) while h1c1 sends `payload` to h3c1 over UDP.
 *
 * @returns how many sleeve datagrams were captured and whether the payload appears in the capture
 */
async function underlaySees(lab: Lab, payload: string): Promise<{ datagrams: number; found: boolean }> {
  const pcap = await Deno.makeTempFile({ prefix: "mnt-sleeve-", suffix: ".pcap" });
  try {
    const cap = await tcpdump(lab, "lan", ["-i", "any", "-w", pcap, `udp port ${SLEEVE_PORT}`]);
    await sendUdp(lab, "h1c1", addr(3), 9, payload, 20);
    await mustExec(lab, "h1c1", ["ping", "-c3", "-i0.1", "-W2", addr(3)]);
    await cap.stop();
    const bytes = await Deno.readFile(pcap);
    return {
      datagrams: udpPayloads(bytes).length,
      found: containsBytes(bytes, new TextEncoder().encode(payload)),
    };
  } finally {
    await Deno.remove(pcap);
  }
}

const PAYLOAD = "meshnet-sleeve-known-payload-0f1e2d3c";

Deno.test("sleeve: in a line h1–h2–h3, containers ping, transfer, broadcast, multicast and move across two hops", async (t) => {
  await withLab({ hosts: 3, containers: 2, topology: "line" }, async (lab) => {
    await startMeshnet(lab, LAUNCH);
    await t.step("ping both ways across two hops", () => pingEnds(lab));
    await t.step("50 MB over TCP arrives with the same SHA-256", () => transfer50(lab));
    await t.step(
      "a broadcast ARP reaches every container exactly once",
      () => broadcastOnce(lab, "10.32.99.1"),
    );
    await t.step("multicast reaches every member exactly once", () => multicastOnce(lab));
    await t.step("without a password the payload is visible on the underlay", async () => {
      const seen = await underlaySees(lab, PAYLOAD);
      assert.ok(seen.datagrams >= 20, `captured ${seen.datagrams} sleeve datagrams`);
      assert.ok(
        seen.found,
        "the capture must contain the plain payload, or the encrypted check proves nothing",
      );
    });
    await t.step(
      "an address moved to a container on another host is reached there within seconds",
      async () => {
        await mustExec(lab, "h2c1", ["ping", "-c1", "-W2", addr(3)]);
        for (const [host, c] of [[3, "h3c1"], [1, "h1c2"]] as const) {
          assert.equal((await meshnet(lab, host, ["detach", lab.ns(c)])).code, 0);
        }
        const r = await meshnet(lab, 1, ["attach", `${addr(3)}/12`, lab.ns("h1c2")]);
        assert.equal(r.code, 0, r.stderr);
        await Promise.all(["h2c1", "h3c2"].map((from) =>
          poll(
            async () => (await lab.exec(from, ["ping", "-c1", "-W1", addr(3)])).code === 0 || undefined,
            15_000,
            () => `${from} cannot reach ${addr(3)} on h1c2`,
          )
        ));
        const mac = JSON.parse(await mustExec(lab, "h1c2", ["ip", "-j", "link", "show", "ethwe"]))[0].address;
        const neigh = JSON.parse(await mustExec(lab, "h2c1", ["ip", "-j", "neigh", "show", addr(3)]));
        assert.equal(neigh[0]?.lladdr, mac, "h2c1 reaches the moved address at h1c2's interface");
      },
    );
  });
});

Deno.test("sleeve: in a full mesh of 3, broadcast and multicast arrive exactly once (no loops)", async (t) => {
  await withLab({ hosts: 3, containers: 1, topology: "full" }, async (lab) => {
    await startMeshnet(lab, LAUNCH);
    await converge(lab, [["h1c1", addr(2)], ["h1c1", addr(3)], ["h2c1", addr(3)]]);
    await t.step("broadcast", () => broadcastOnce(lab, "10.32.99.2"));
    await t.step("multicast", () => multicastOnce(lab));
  });
});

/** Floats in [0, 1) from a seeded generator, so a failing case replays. */
function prng(seed: number): () => number {
  const r = new SeededRandom(seed);
  return () => r.next();
}

/** The 6 wire bytes of peer name `name` (`aa:bb:…`). */
function nameBytes(name: string): number[] {
  return name.split(":").map((x) => parseInt(x, 16));
}

/** Garbage for h2's sleeve port: random bytes, mutated and verbatim captured datagrams, forged headers. */
function flood(captured: Uint8Array[], sender: string, seed: number): Uint8Array[] {
  const rand = prng(seed), int = (n: number) => Math.floor(rand() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const out: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) out.push(bytes(1 + int(1400)));
  for (let i = 0; i < 300; i++) {
    const d = captured[int(captured.length)].slice();
    for (let k = 1 + int(3); k > 0; k--) d[int(d.length)] ^= 1 + int(255);
    out.push(d);
  }
  for (let i = 0; i < 3; i++) out.push(...captured);
  const broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const record = [RecordKind.frame, ...nameBytes(sender), ...broadcast, 0, 65, FRAME_HOP_LIMIT, 0, 0, 0, 1];
  for (let i = 0; i < 50; i++) {
    // plain on a keyed link; a sender that is no peer
    out.push(Uint8Array.from([SLEEVE_VERSION, 0, ...nameBytes(sender), ...record, ...bytes(60)]));
    out.push(Uint8Array.from([SLEEVE_VERSION, 1, ...bytes(6), ...bytes(100)]));
  }
  return out;
}

Deno.test("sleeve: encrypted, traffic passes, nothing leaks, and garbage or replays are dropped and counted", async (t) => {
  await withLab({ hosts: 3, containers: 1, topology: "line" }, async (lab) => {
    await startMeshnet(lab, [...LAUNCH, "--password", "s3cret"]);
    await t.step("ping both ways across two hops", () => pingEnds(lab));
    await t.step("status says the connections are encrypted", async () => {
      const conns = (await meshnet(lab, "h2", ["status", "connections"])).stdout;
      assert.equal(conns.split("\n").filter((l) => / established +encrypted /.test(l)).length, 2, conns);
    });
    await t.step("both links chose AES-256-GCM where the CPU has it, else XSalsa20-Poly1305", async () => {
      const want = aes256gcm() ? "aes256gcm" : "xsalsa20poly1305";
      const sleeve = (await report(lab, "h2")).sleeve!;
      assert.deepEqual(sleeve.links.map((l) => [l.sealed, l.cipher]), [[true, want], [true, want]]);
      // libgcrypt seals GCM where it loads (scripts/install.sh installs it), before OpenSSL's libcrypto.
      assert.equal(sleeve.gcm, aes256gcm() ? "libgcrypt" : undefined);
    });
    await t.step("50 MB over TCP arrives with the same SHA-256", () => transfer50(lab));
    await t.step("the payload never appears on the underlay", async () => {
      const seen = await underlaySees(lab, PAYLOAD);
      assert.ok(seen.datagrams >= 20, `captured ${seen.datagrams} sleeve datagrams`);
      assert.ok(!seen.found, "the sealed datagrams must not contain the payload");
    });
    await t.step(
      "a flood of garbage and replays is dropped and counted; ping and daemon unaffected",
      async () => {
        const pcap = await Deno.makeTempFile({ prefix: "mnt-sleeve-", suffix: ".pcap" });
        let captured: Uint8Array[];
        try {
          const h1 = lab.host(1).address;
          const cap = await tcpdump(lab, "h2", [
            "-i",
            "eth0",
            "-w",
            pcap,
            `udp dst port 6783 and src host ${h1}`,
          ]);
          await mustExec(lab, "h1c1", ["ping", "-c10", "-i0.02", "-W2", addr(3)]);
          await cap.stop();
          captured = udpPayloads(await Deno.readFile(pcap)).map((u) => u.payload).filter((p) => p[1] === 1);
        } finally {
          await Deno.remove(pcap);
        }
        assert.ok(captured.length >= 10, `captured ${captured.length} sealed datagrams`);
        const before = await report(lab, "h2");
        const garbage = flood(captured, before.router.peers.find((p) => p.nickname === "h1")!.name, 0x5eed);
        const ping = lab.exec("h1c1", ["ping", "-c40", "-i0.05", "-W2", addr(3)]);
        for (let i = 0; i < 3; i++) await replayUdp(lab, "h3", lab.host(2).address, SLEEVE_PORT, garbage);
        const p = await ping;
        assert.match(p.stdout, / 0% packet loss/, p.stdout);
        const after = await report(lab, "h2");
        assert.equal(after.pid, before.pid, "the daemon did not restart");
        const drops = (r: typeof after, k: "decode" | "replay" | "auth" | "unknownPeer") =>
          r.sleeve!.drops[k];
        for (const k of ["decode", "replay", "auth", "unknownPeer"] as const) {
          assert.ok(
            drops(after, k) > drops(before, k),
            `${k} drops rose: ${drops(before, k)} → ${drops(after, k)}`,
          );
        }
        assert.ok(after.sleeve!.drops.replay - before.sleeve!.drops.replay >= 3 * captured.length);
        await converge(lab, [["h1c1", addr(3)], ["h3c1", addr(1)]], 5_000);
      },
    );
  });
});
