/**
 * The real sleeve Worker under a storm: a process in the same network namespace sends it valid flood
 * datagrams from a configured peer as fast as it can (each one a broadcast frame for the TAP, with a fresh
 * flood sequence), while the main thread keeps updating routes and asking for stats. Every stats call must
 * answer fresh (not the stale fallback) and the Worker must stop on request. Assertions are on completion,
 * with generous deadlines, never on timing.
 *
 * ```
 *  mntNNNN-storm (lo up)
 *    python3 ── UDP 127.0.0.1 ──▶ SleeveWorker (TAP mnt-storm-tap up) ──▶ frames into the TAP
 * ```
 */
import assert from "node:assert/strict";
import { FRAME_HOP_LIMIT, RecordKind, SLEEVE_VERSION } from "../../../src/overlay/sleeve/constants.ts";
import { parseMac48, writeMac48 } from "../../../src/overlay/sleeve/mac48.ts";
import { SleeveWorker } from "../../../src/overlay/sleeve/sleeve_worker.ts";

const US = "02:98:00:00:00:01", PEER = "02:98:00:00:00:02";
const TAP = "mnt-storm-tap";
const STORM_SECONDS = 60; // an upper bound: the storm is killed as soon as the checks are done

const permitted =
  ["run", "ffi", "env"].every((name) =>
    Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state === "granted"
  ) && Deno.uid?.() === 0;

/** Sends the datagram in argv[3] (hex) to argv[1]:argv[2] in a loop, a fresh 32-bit sequence at argv[4]. */
const STORM = `
import socket, struct, sys, time
addr, port, hexdata, at, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
d = bytearray(bytes.fromhex(hexdata))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + seconds
i = 0
while time.time() < end:
    for _ in range(1000):
        struct.pack_into(">I", d, at, i & 0xffffffff)
        i += 1
        try:
            s.sendto(d, (addr, port))
        except OSError:
            pass
`;

async function sh(args: string[]): Promise<string> {
  const out = await new Deno.Command(args[0], { args: args.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}${text}`);
  }
  return text;
}

/** A plain datagram from PEER carrying one broadcast frame; returns it and the offset of its flood sequence. */
function floodDatagram(): { bytes: Uint8Array; sequenceAt: number } {
  const frame = new Uint8Array(60);
  frame.fill(0xff, 0, 6);
  frame.set([0x02, 0x98, 0, 0, 0x0a, 0x02, 0x88, 0xb5], 6);
  const body = 5 + frame.length;
  const d = new Uint8Array(8 + 15 + body);
  d[0] = SLEEVE_VERSION;
  writeMac48(d, 2, parseMac48(PEER, "peer"));
  d[8] = RecordKind.frame;
  writeMac48(d, 9, parseMac48(PEER, "peer"));
  d.fill(0xff, 15, 21);
  d[21] = body >> 8;
  d[22] = body & 0xff;
  d[23] = FRAME_HOP_LIMIT;
  d.set(frame, 28);
  return { bytes: d, sequenceAt: 24 };
}

Deno.test({
  name: "SleeveWorker answers stats and takes route updates while a flood storm hits its socket",
  ignore: !permitted,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const ns = `mnt${crypto.getRandomValues(new Uint32Array(1))[0].toString(16)}-storm`;
    let storm: Deno.ChildProcess | undefined;
    let worker: SleeveWorker | undefined;
    try {
      await sh(["ip", "netns", "add", ns]);
      await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
      worker = await SleeveWorker.start({ us: US, tapName: TAP, netns: ns, host: "127.0.0.1", port: 0 });
      await sh(["ip", "-n", ns, "link", "set", worker.tapName, "up"]);
      worker.setPeer(PEER, { endpoint: { address: "127.0.0.1", port: 9 } });
      const { bytes, sequenceAt } = floodDatagram();
      const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
      storm = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          ns,
          "python3",
          "-c",
          STORM,
          "127.0.0.1",
          String(worker.port),
          hex,
          String(sequenceAt),
          String(STORM_SECONDS),
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const fresh = async () => {
        const s = await worker!.stats(10_000);
        assert.equal(s.staleMs, undefined, "the Worker answered, not the stale fallback");
        return s;
      };
      // Wait for the storm to be in full swing.
      let before = await fresh();
      for (let i = 0; i < 100 && before.datagramsReceived < 20_000; i++) {
        await new Promise((r) => setTimeout(r, 100));
        before = await fresh();
      }
      assert.ok(
        before.datagramsReceived >= 20_000,
        `the storm arrives: ${before.datagramsReceived} datagrams`,
      );
      const t0 = performance.now();
      for (let i = 0; i < 20; i++) {
        // Messages are handled in order: a fresh answer after setRoutes means the update was taken too.
        worker.setRoutes({
          unicast: new Map([[PEER, PEER]]),
          broadcast: new Map([[US, i % 2 ? [PEER] : []], [PEER, []]]),
        });
        await fresh();
      }
      const after = await fresh();
      const seconds = (performance.now() - t0) / 1000;
      const rate = (after.datagramsReceived - before.datagramsReceived) / seconds;
      assert.ok(after.datagramsReceived > before.datagramsReceived, "the storm went on during the calls");
      assert.ok(after.framesToDevice > before.framesToDevice, "its frames reach the TAP");
      console.log(
        `storm: ${Math.round(rate)} datagrams/s into the Worker; 21 route updates + stats in ${
          seconds.toFixed(2)
        } s`,
      );
    } finally {
      if (storm) {
        try {
          storm.kill("SIGKILL");
        } catch { /* already ended */ }
        await storm.status;
        await storm.stderr.cancel().catch(() => {});
      }
      await worker?.stop(10_000);
      await sh(["ip", "netns", "del", ns]).catch(() => {});
    }
  },
});
