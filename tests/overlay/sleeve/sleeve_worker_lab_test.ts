/**
 * The real data plane: two network namespaces joined by a veth, each running a SleeveWorker whose TAP holds an
 * overlay address; ping and a 20 MB TCP transfer (SHA-256 checked) cross the tunnel, plain and sealed.
 *
 * ```
 *  mnt-slv-a-PID                                   mnt-slv-b-PID
 *  mnt-slv-tap 10.99.0.1/24                        mnt-slv-tap 10.99.0.2/24
 *     │ SleeveWorker (UDP 6783)                       │ SleeveWorker (UDP 6783)
 *  mnt-slv-va 198.18.99.1/24 ────── veth ────── mnt-slv-vb 198.18.99.2/24
 * ```
 *
 * Set SLEEVE_IPERF_SECONDS=5 to also print iperf3 throughput through the tunnel.
 */
import assert from "node:assert/strict";
import { SleeveWorker } from "../../../src/overlay/sleeve/sleeve_worker.ts";
import type { SleeveEvent } from "../../../src/overlay/sleeve/sleeve.ts";
import { removeOrphanedNamespaces } from "../../orphaned_namespaces.ts";

const A = `mnt-slv-a-${Deno.pid}`, B = `mnt-slv-b-${Deno.pid}`;
const PEER_A = "02:99:00:00:00:01", PEER_B = "02:99:00:00:00:02";
const TAP = "mnt-slv-tap";

async function sh(args: string[], stdin?: Uint8Array): Promise<string> {
  const cmd = new Deno.Command(args[0], {
    args: args.slice(1),
    stdout: "piped",
    stderr: "piped",
    stdin: stdin ? "piped" : "null",
  });
  const child = cmd.spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}${text}`);
  }
  return text;
}

async function withNamespaces(fn: () => Promise<void>): Promise<void> {
  try {
    await removeOrphanedNamespaces();
    await sh(["ip", "netns", "add", A]);
    await sh(["ip", "netns", "add", B]);
    await sh([
      "ip",
      "link",
      "add",
      "mnt-slv-va",
      "netns",
      A,
      "type",
      "veth",
      "peer",
      "name",
      "mnt-slv-vb",
      "netns",
      B,
    ]);
    for (
      const [ns, dev, addr] of [[A, "mnt-slv-va", "198.18.99.1/24"], [B, "mnt-slv-vb", "198.18.99.2/24"]]
    ) {
      await sh(["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
      await sh(["ip", "-n", ns, "link", "set", dev, "up"]);
      await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    await fn();
  } finally {
    for (const ns of [A, B]) await sh(["ip", "netns", "del", ns]).catch(() => {});
  }
}

/** Starts both workers, wires them as neighbours and waits until each reports the other established. */
async function startPair(key?: Uint8Array): Promise<SleeveWorker[]> {
  const workers: SleeveWorker[] = [];
  const established: Promise<void>[] = [];
  for (
    const [ns, us, them, overlay, them4] of [
      [A, PEER_A, PEER_B, "10.99.0.1/24", "198.18.99.2"],
      [B, PEER_B, PEER_A, "10.99.0.2/24", "198.18.99.1"],
    ]
  ) {
    let up!: () => void;
    established.push(new Promise((r) => (up = r)));
    const onEvent = (e: SleeveEvent) => e.type === "established" && up();
    const w = await SleeveWorker.start({ us, tapName: TAP, netns: ns, port: 6783, mtu: 1400, onEvent });
    workers.push(w);
    await sh(["ip", "-n", ns, "addr", "add", overlay, "dev", w.tapName]);
    await sh(["ip", "-n", ns, "link", "set", w.tapName, "up"]);
    w.setPeer(them, { endpoint: { address: them4, port: 6783 }, sessionKey: key, outbound: us === PEER_A });
    w.setRoutes({ unicast: new Map([[them, them]]), broadcast: new Map([[us, [them]], [them, []]]) });
  }
  await Promise.all(established);
  return workers;
}

/** Sends 20 MB of seeded bytes over TCP from A to B and returns both SHA-256 digests and the byte count. */
async function transfer(): Promise<{ sent: string; received: string }> {
  const server = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      B,
      "python3",
      "-c",
      `
import hashlib, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("10.99.0.2", 5001)); s.listen(1)
print("ready", flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest(), flush=True)`,
    ],
    stdout: "piped",
  }).spawn();
  const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.equal((await lines.read()).value?.trim(), "ready");
  const sent = await sh([
    "ip",
    "netns",
    "exec",
    A,
    "python3",
    "-c",
    `
import hashlib, random, socket
data = random.Random(7).randbytes(20 << 20)
s = socket.create_connection(("10.99.0.2", 5001), timeout=20); s.sendall(data); s.close()
print(len(data), hashlib.sha256(data).hexdigest())`,
  ]);
  let received = "";
  for (let r = await lines.read(); !r.done; r = await lines.read()) received += r.value;
  await server.status;
  return { sent: sent.trim(), received: received.trim() };
}

async function iperf(label: string): Promise<void> {
  const seconds = Deno.env.get("SLEEVE_IPERF_SECONDS");
  if (!seconds) return;
  const server = new Deno.Command("ip", {
    args: ["netns", "exec", B, "iperf3", "-s", "-1", "-B", "10.99.0.2"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await new Promise((r) => setTimeout(r, 300));
  const out = JSON.parse(
    await sh(["ip", "netns", "exec", A, "iperf3", "-c", "10.99.0.2", "-t", seconds, "-J"]),
  );
  await server.status;
  console.log(`sleeve ${label}: ${(out.end.sum_received.bits_per_second / 1e9).toFixed(2)} Gbit/s`);
}

for (const sealed of [false, true]) {
  Deno.test({
    name: `SleeveWorker tunnels ping and a 20 MB TCP transfer between two namespaces (${
      sealed ? "sealed" : "plain"
    })`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () =>
      withNamespaces(async () => {
        const key = sealed ? crypto.getRandomValues(new Uint8Array(32)) : undefined;
        const workers = await startPair(key);
        try {
          const ping = await sh([
            "ip",
            "netns",
            "exec",
            A,
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            "10.99.0.2",
          ]);
          assert.match(ping, / 0% packet loss/);
          const { sent, received } = await transfer();
          assert.equal(received, sent);
          assert.match(sent, /^20971520 [0-9a-f]{64}$/);
          await iperf(sealed ? `sealed (${workers[0].crypto})` : "plain");
          const [a, b] = await Promise.all(workers.map((w) => w.stats()));
          assert.equal(a.links[0].established, true);
          assert.equal(a.links[0].sealed, sealed);
          assert.equal(a.links[0].pmtuVerified, true);
          assert.equal(a.links[0].maxDatagram, 1472, "the veth's 1500 minus IPv4 and UDP headers");
          // With offloads on, TCP crosses as super-frames of up to 64 KiB: count bytes, not frames.
          assert.ok(
            b.bytesToDevice > 20_000_000 && a.framesToDevice > 100,
            `${b.bytesToDevice} ${a.framesToDevice}`,
          );
          assert.equal(a.drops.auth + b.drops.auth + a.drops.decode + b.drops.decode, 0);
        } finally {
          await Promise.all(workers.map((w) => w.stop()));
        }
      }),
  });
}

Deno.test({
  name: "SleeveWorker.start() rejects with the Worker's reason and refuses bad names on the main thread",
  fn: async () => {
    await assert.rejects(
      SleeveWorker.start({ us: PEER_A, tapName: "bad/name", port: 0 }),
      /Cannot start the sleeve: Invalid TAP name 'bad\/name'/,
    );
    assert.throws(() => SleeveWorker.start({ us: "nope", tapName: TAP }), /Invalid peer name 'nope'/);
  },
});
