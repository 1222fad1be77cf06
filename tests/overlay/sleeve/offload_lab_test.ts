/**
 * User-space GSO and GRO against the real kernel: two namespaces, each with a TAP with offloads, joined by a
 * relay in this process that reads each frame, cuts it with {@link Segmenter} to a path smaller than the
 * TAP's MTU, merges the pieces back with {@link Coalescer} and writes the result (with its virtio-net header)
 * to the other TAP — the sleeve's send and receive path without the UDP in between. A TCP transfer through
 * it must arrive intact, the kernel must accept every super-frame written, and no piece may exceed the path.
 */
import assert from "node:assert/strict";
import { openTap, type TapDevice } from "../../../ffi/tap.ts";
import { Coalescer } from "../../../src/overlay/sleeve/coalesce.ts";
import { Segmenter } from "../../../src/overlay/sleeve/segment.ts";
import { removeOrphanedNamespaces } from "../../orphaned_namespaces.ts";

const NS_A = `mnt-offl-${Deno.pid}-a`, NS_B = `mnt-offl-${Deno.pid}-b`;
const BYTES = 8 << 20;

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

interface RelayStats {
  /** What stopped the relay, if it failed. */
  error?: unknown;
  superFramesRead: number;
  pieces: number;
  tooBig: number;
  superFramesWritten: number;
}

/**
 * Moves frames from `from` to `to` through segmentation to `maxFrame` and coalescing, until `stop.done`; a
 * failure is kept in `stats.error` and stops both relays.
 */
async function relay(
  from: TapDevice,
  to: TapDevice,
  maxFrame: number,
  stats: RelayStats,
  stop: { done: boolean },
) {
  const bufs = Array.from({ length: 16 }, () => new Uint8Array(65_600)), sizes: number[] = [];
  const seg = new Segmenter(), co = new Coalescer();
  try {
    while (!stop.done) {
      const n = from.read(bufs, sizes);
      if (n === 0) {
        await from.readable(50);
        continue;
      }
      const pieces: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const body = bufs[i].subarray(0, sizes[i]);
        if (body[1] !== 0) stats.superFramesRead++;
        for (const f of seg.segment(body, maxFrame)) {
          if (f.length > maxFrame && body[1] !== 0) stats.tooBig++;
          pieces.push(f.slice());
        }
      }
      stats.pieces += pieces.length;
      for (const out of co.coalesce(pieces)) {
        if (out[1] !== 0) stats.superFramesWritten++;
        while (to.write([out]) === 0) await new Promise((r) => setTimeout(r, 1));
      }
    }
  } catch (e) {
    stats.error = e;
    stop.done = true;
  }
}

const SERVER = `
import socket, hashlib
s = socket.socket(socket.AF_INET6 if ':' in ADDR else socket.AF_INET)
s.settimeout(60); s.bind((ADDR, 5001)); s.listen(1); print('ready', flush=True)
c, _ = s.accept(); c.settimeout(60); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(1 << 20)
    if not d: break
    h.update(d); n += len(d)
print(n, h.hexdigest(), flush=True)
c.sendall(b'.'); c.close()
`;
const CLIENT = `
import socket, hashlib, os
d = os.urandom(${BYTES})
s = socket.create_connection((ADDR, 5001), timeout=60); s.sendall(d); s.shutdown(socket.SHUT_WR)
s.recv(1); s.close()  # the server's byte: everything arrived
print(len(d), hashlib.sha256(d).hexdigest(), flush=True)
`;

/** Runs python `code` with ADDR set inside namespace `ns`. */
function python(ns: string, code: string, address: string): Deno.ChildProcess {
  return new Deno.Command("ip", {
    args: ["netns", "exec", ns, "python3", "-c", `ADDR = ${JSON.stringify(address)}\n${code}`],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

for (const v6 of [false, true]) {
  Deno.test(`Segmenter + Coalescer carry a TCP transfer between two offloading TAPs intact (IPv${v6 ? 6 : 4})`, async () => {
    await removeOrphanedNamespaces();
    await ip("netns", "add", NS_A);
    await ip("netns", "add", NS_B);
    let a: TapDevice | undefined, b: TapDevice | undefined;
    const stop = { done: false };
    const children: Deno.ChildProcess[] = [];
    try {
      a = openTap("ta", { netns: NS_A, offload: true, mtu: 1500 });
      b = openTap("tb", { netns: NS_B, offload: true, mtu: 1500 });
      const [addrA, addrB, plen] = v6 ? ["fd77::1", "fd77::2", 64] : ["10.77.0.1", "10.77.0.2", 24];
      for (const [ns, dev, addr] of [[NS_A, "ta", addrA], [NS_B, "tb", addrB]]) {
        await ip("-n", ns, "link", "set", "lo", "up");
        await ip("-n", ns, "addr", "add", `${addr}/${plen}`, "dev", dev, ...(v6 ? ["nodad"] : []));
        await ip("-n", ns, "link", "set", dev, "up");
      }
      const ab: RelayStats = { superFramesRead: 0, pieces: 0, tooBig: 0, superFramesWritten: 0 };
      const ba: RelayStats = { ...ab };
      // A → B is cut to a 1000-byte path (smaller than the MSS); B → A (ACKs) to the full MTU.
      const relays = [relay(a, b, 1014, ab, stop), relay(b, a, 1514, ba, stop)];
      const server = python(NS_B, SERVER, addrB);
      children.push(server);
      const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("ready")) {
        const { value, done } = await lines.read();
        if (done) {
          throw new Error(`server exited: ${await new Response(server.stderr).text()}`);
        }
        out += value;
      }
      const client = python(NS_A, CLIENT, addrB);
      children.push(client);
      const done = await client.output(), dec = new TextDecoder();
      const why = () =>
        `relays: ${ab.error ?? "ok"} / ${ba.error ?? "ok"}; client: ${dec.decode(done.stderr)}`;
      assert.ok(done.success, `the client's transfer failed; ${why()}`);
      const sent = dec.decode(done.stdout).trim();
      for (;;) { // the server prints its count and hash, then exits
        const { value, done } = await lines.read();
        if (done) break;
        out += value;
      }
      const received = out.split("\n").filter((l) => l.trim())[1];
      assert.equal(received, sent, `the bytes and their SHA-256 arrived unchanged; ${why()}`);
      assert.match(sent, new RegExp(`^${BYTES} [0-9a-f]{64}$`));
      stop.done = true;
      await Promise.all(relays);
      assert.equal(ab.error ?? ba.error, undefined);
      assert.equal(ab.tooBig, 0, "no piece of a super-frame exceeded the 1014-byte path");
      assert.ok(ab.superFramesRead > 0, "the kernel handed out TCP super-frames (TSO) that were cut");
      assert.ok(ab.superFramesWritten > 0, "coalesced super-frames were written and accepted by the kernel");
    } finally {
      stop.done = true;
      for (const c of children) {
        try {
          c.kill("SIGKILL");
        } catch {
          // Already exited.
        }
        await c.status;
      }
      a?.close();
      b?.close();
      await ip("netns", "del", NS_A).catch(() => {});
      await ip("netns", "del", NS_B).catch(() => {});
    }
  });
}
