/**
 * Traffic helpers for end-to-end tests and benchmarks of the data plane on lab hosts: waiting for the mesh
 * to converge, processes whose output is watched while they run (tcpdump, python3 servers, iperf3), TCP
 * transfers checked by SHA-256, and UDP payloads read back from tcpdump captures.
 *
 * Every wait is a bounded poll: it returns as soon as its condition holds and fails with what it last saw.
 *
 * @module
 */
import assert from "node:assert/strict";
import { until } from "../../testing/poll.ts";
import { type Lab, meshnet } from "../../src/lab/mod.ts";
import type { Report } from "../../src/client/wire.ts";

/** How often the polls below look again, in ms. */
const POLL_MS = 100;

/** The real python3 binary (not a pyenv shim, whose bash start-up costs ~100 ms a call). */
export const PYTHON = new TextDecoder().decode(
  new Deno.Command("python3", { args: ["-c", "import sys; print(sys.executable)"] }).outputSync().stdout,
).trim();

/** A TCP sink: listens on argv[1], prints `ready`, then the byte count and SHA-256 of one connection. */
const TCP_SINK = `
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1); print("ready", flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest(), flush=True)
`;

/** Sends file argv[3] over TCP to argv[1]:argv[2] and waits for the sink to close. */
const TCP_SOURCE = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.sendfile(open(sys.argv[3], "rb")); s.shutdown(socket.SHUT_WR); s.recv(1)
`;

/** Sends each length-prefixed (u16 BE) datagram of file argv[3] to argv[1]:argv[2] over UDP. */
const UDP_REPLAY = `
import socket, struct, sys
d = open(sys.argv[3], "rb").read(); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); i = 0
while i < len(d):
    n = struct.unpack(">H", d[i:i + 2])[0]; s.sendto(d[i + 2:i + 2 + n], (sys.argv[1], int(sys.argv[2]))); i += 2 + n
`;

/** Sends argv[3] (text) `argv[4]` times to argv[1]:argv[2] over UDP, with multicast TTL 4. */
const UDP_SEND = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 4)
for _ in range(int(sys.argv[4])): s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
`;

/** Joins group argv[1] on the interface with address argv[3], binds port argv[2], prints `ready`, then each datagram. */
const MULTICAST_SINK = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(sys.argv[1]) + socket.inet_aton(sys.argv[3]))
print("ready", flush=True)
while True: print(s.recv(2048).decode(errors="replace"), flush=True)
`;

/** Returns `host`'s `meshnet report`. */
export async function report(lab: Lab, host: string | number): Promise<Report> {
  const r = await meshnet(lab, host, ["report"]);
  assert.equal(r.code, 0, `meshnet report on ${host}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value other than undefined, or fails after `ms` with `describe()`. */
export function poll<T>(probe: () => Promise<T | undefined>, ms: number, describe: () => string): Promise<T> {
  return until(describe, ms, probe, POLL_MS);
}

/** Why `r` (the report of one of `n` hosts) is not converged yet, or undefined when it is. */
function unconverged(r: Report, n: number): string | undefined {
  const { peers, connections, routes } = r.router;
  if (peers.length !== n) return `${r.nickname} knows ${peers.length} of ${n} peers`;
  const pending = connections.filter((c) => c.state !== "established");
  if (pending.length > 0) return `${r.nickname}: connection to ${pending[0].nickname} is ${pending[0].state}`;
  for (const p of peers) {
    const c = p.connections.find((c) => !c.established);
    if (c) return `${r.nickname} sees ${p.nickname}'s connection to ${c.name} not established`;
    if (p.name !== r.name && routes[p.name] === undefined) {
      return `${r.nickname} has no route to ${p.nickname}`;
    }
  }
  return undefined;
}

/** One line per host: each peer it knows, with the version and connections (+ established, - not) it has of it. */
function view(r: Report): string {
  const peers = r.router.peers.map((p) =>
    `${p.nickname} v${p.version} [${
      p.connections.map((c) => `${c.name}${c.established ? "+" : "-"}${c.outbound ? ">" : "<"}`).join(" ")
    }]`
  );
  const conns = r.router.connections.map((c) => `${c.nickname} ${c.state}`).join(", ");
  return `${r.nickname} (${r.name}) sees ${peers.join("; ")}; its connections: ${conns}`;
}

/**
 * Waits until every host's report shows every peer, only established connections and a route to every
 * other peer, then until each `[from, address]` ping gets an answer; all within `ms`.
 *
 * @returns how long it took, in ms
 */
export async function converge(lab: Lab, pings: [string, string][], ms = 20_000): Promise<number> {
  const start = Date.now(), n = lab.hosts.length;
  let why = "", reports: Report[] = [];
  await poll(
    async () => {
      reports = await Promise.all(lab.hosts.map((h) => report(lab, h.name)));
      why = reports.map((r) => unconverged(r, n)).find((w) => w !== undefined) ?? "";
      return why ? undefined : true;
    },
    ms,
    () => `mesh not converged: ${why}; views:\n${reports.map(view).join("\n")}`,
  );
  for (const [from, to] of pings) {
    await poll(
      async () => (await lab.exec(from, ["ping", "-c1", "-W1", to])).code === 0 || undefined,
      ms - (Date.now() - start),
      () => `no ping answer from ${to} to ${from} after convergence`,
    );
  }
  return Date.now() - start;
}

/** A process in a lab namespace whose stdout and stderr are collected while it runs. */
export class Watched {
  readonly #child: Deno.ChildProcess;
  readonly #readers: Promise<void>[];
  /** Everything it wrote to stdout so far. */
  stdout = "";
  /** Everything it wrote to stderr so far. */
  stderr = "";

  /** Starts `cmd` in namespace `ns` of `lab` (the lab kills it on teardown). */
  constructor(lab: Lab, ns: string, cmd: string[]) {
    this.#child = lab.spawn(ns, cmd, { stdout: "piped", stderr: "piped" });
    this.#readers = [
      this.#collect(this.#child.stdout, (s) => this.stdout += s),
      this.#collect(this.#child.stderr, (s) => this.stderr += s),
    ];
  }

  async #collect(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
    for await (const s of stream.pipeThrough(new TextDecoderStream())) add(s);
  }

  /** Waits until `ok(this)` holds, failing after `ms` with its output. */
  async until(ok: (w: Watched) => boolean, ms = 10_000): Promise<void> {
    await poll(
      () => Promise.resolve(ok(this) || undefined),
      ms,
      () => `process output: ${this.stdout.slice(-500)} ${this.stderr.slice(-500)}`,
    );
  }

  /** Waits for it to exit by itself; returns its exit code. */
  async wait(): Promise<number> {
    const { code } = await this.#child.status;
    await Promise.all(this.#readers);
    return code;
  }

  /** Sends `signal` (SIGINT lets tcpdump flush) and waits for it to exit; returns its stdout. */
  async stop(signal: Deno.Signal = "SIGINT"): Promise<string> {
    try {
      this.#child.kill(signal);
    } catch {
      // Exited already.
    }
    await this.wait();
    return this.stdout;
  }
}

/**
 * Starts tcpdump in `ns` with `args` (interface, options, filter) and waits until it listens.
 *
 * @example
 * ```ts ignore
 * const cap = await tcpdump(lab, "h2c1", ["-i", "ethwe", "arp"]);
 * const lines = await cap.stop();
 * ```
 */
export async function tcpdump(lab: Lab, ns: string, args: string[]): Promise<Watched> {
  const w = new Watched(lab, ns, ["tcpdump", "--immediate-mode", "-l", "-n", "-U", ...args]);
  await w.until((w) => w.stderr.includes("listening on"));
  return w;
}

/** Starts a python3 script (one of this module's) in `ns` and waits until it prints `ready`. */
async function python(lab: Lab, ns: string, script: string, args: string[]): Promise<Watched> {
  const w = new Watched(lab, ns, [PYTHON, "-c", script, ...args]);
  await w.until((w) => w.stdout.startsWith("ready"));
  return w;
}

/** Runs a python3 script of this module in `ns` to completion and checks it succeeded. */
async function pythonRun(lab: Lab, ns: string, script: string, args: string[]): Promise<void> {
  const r = await lab.exec(ns, [PYTHON, "-c", script, ...args]);
  assert.equal(r.code, 0, r.stderr);
}

/** Writes `bytes` random bytes to a new temporary file (the lab's namespaces share /tmp); returns its path and SHA-256. */
export async function randomFile(bytes: number): Promise<{ path: string; sha256: string }> {
  const path = await Deno.makeTempFile({ prefix: "mnt-sleeve-" });
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  await Deno.writeFile(path, data);
  return { path, sha256: await sha256(data) };
}

/** The SHA-256 of `data`, in hex. */
export async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Sends file `path` over TCP from container `from` to a sink in container `to` (at overlay address
 * `address`, port 7001).
 *
 * @returns the byte count and SHA-256 the sink received
 */
export async function transfer(
  lab: Lab,
  from: string,
  to: string,
  address: string,
  path: string,
): Promise<{ bytes: number; sha256: string }> {
  const sink = await python(lab, to, TCP_SINK, ["7001"]);
  await pythonRun(lab, from, TCP_SOURCE, [address, "7001", path]);
  assert.equal(await sink.wait(), 0, sink.stderr);
  const [bytes, sum] = sink.stdout.trim().split("\n").at(-1)!.split(" ");
  return { bytes: Number(bytes), sha256: sum };
}

/** Sends `text` as `count` UDP datagrams from `ns` to `address`:`port` (multicast TTL 4). */
export function sendUdp(lab: Lab, ns: string, address: string, port: number, text: string, count = 1) {
  return pythonRun(lab, ns, UDP_SEND, [address, String(port), text, String(count)]);
}

/** Sends each datagram of `datagrams` from `ns` to `address`:`port` over UDP. */
export async function replayUdp(
  lab: Lab,
  ns: string,
  address: string,
  port: number,
  datagrams: Uint8Array[],
) {
  const path = await Deno.makeTempFile({ prefix: "mnt-sleeve-" });
  try {
    const out = new Uint8Array(datagrams.reduce((n, d) => n + 2 + d.length, 0));
    let i = 0;
    for (const d of datagrams) {
      out[i] = d.length >> 8;
      out[i + 1] = d.length & 0xff;
      out.set(d, i + 2);
      i += 2 + d.length;
    }
    await Deno.writeFile(path, out);
    await pythonRun(lab, ns, UDP_REPLAY, [address, String(port), path]);
  } finally {
    await Deno.remove(path);
  }
}

/** Starts a receiver of multicast `group`:`port` in `ns` (joined on the interface with `address`), once ready. */
export function multicastSink(lab: Lab, ns: string, group: string, port: number, address: string) {
  return python(lab, ns, MULTICAST_SINK, [group, String(port), address]);
}

/** The link-layer header sizes of the pcap link types tcpdump writes here (Ethernet, Linux cooked v1/v2). */
const LINK_HEADER: Record<number, number> = { 1: 14, 113: 16, 276: 20 };

/**
 * The UDP payloads (IPv4 only) of a classic pcap file, in order, with their UDP ports.
 *
 * @throws {Error} on a pcap of another byte order or link type
 */
export function udpPayloads(pcap: Uint8Array): { src: number; dst: number; payload: Uint8Array }[] {
  const v = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  if (v.getUint32(0, true) !== 0xa1b2c3d4) throw new Error("Cannot read pcap: not a little-endian pcap file");
  const link = LINK_HEADER[v.getUint32(20, true)];
  if (link === undefined) throw new Error(`Cannot read pcap: link type '${v.getUint32(20, true)}' not known`);
  const out = [];
  for (let at = 24; at + 16 <= pcap.length;) {
    const captured = v.getUint32(at + 8, true), frame = at + 16;
    at = frame + captured;
    const ip = frame + link;
    if (captured < link + 28 || pcap[ip] >> 4 !== 4 || pcap[ip + 9] !== 17) continue;
    const udp = ip + (pcap[ip] & 0x0f) * 4, length = v.getUint16(udp + 4);
    if (udp + length > at) continue;
    out.push({
      src: v.getUint16(udp),
      dst: v.getUint16(udp + 2),
      payload: pcap.slice(udp + 8, udp + length),
    });
  }
  return out;
}

/** True when `needle` occurs in `haystack`. */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = haystack.indexOf(needle[0]); i >= 0; i = haystack.indexOf(needle[0], i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** `lab.exec` that must succeed; returns stdout. */
export async function mustExec(lab: Lab, ns: string, cmd: string[]): Promise<string> {
  const r = await lab.exec(ns, cmd);
  assert.equal(r.code, 0, `${cmd.join(" ")} in ${ns}: ${r.stdout} ${r.stderr}`);
  return r.stdout;
}

/** The overlay address (no prefix length) of container `c` of host `h`, as startMeshnet attaches it. */
export const overlayAddress = (h: number, c = 1) => `10.32.${h}.${c}`;

/** Counts the lines of `w`'s output that contain `text`. */
function count(w: Watched, text: string): number {
  return w.stdout.split("\n").filter((l) => l.includes(text)).length;
}

/**
 * A broadcast ARP request from container `from` (default h1c1) is seen exactly once by every container (its
 * own outgoing copy included).
 */
export async function broadcastOnce(lab: Lab, target: string, from = "h1c1"): Promise<void> {
  const all = lab.hosts.flatMap((h) => h.containers);
  const caps = await Promise.all(
    all.map((c) => tcpdump(lab, c, ["-i", "ethwe", `arp and dst host ${target}`])),
  );
  await lab.exec(from, ["arping", "-c1", "-w1", "-i", "ethwe", target]);
  const seen = `who-has ${target}`;
  await poll(
    () => Promise.resolve(caps.every((c) => count(c, seen) > 0) || undefined),
    5_000,
    () => `ARP requests seen by ${all.join(", ")}: ${caps.map((c) => count(c, seen))}`,
  );
  await delay(300); // a duplicate or a loop would show up within this
  await Promise.all(caps.map((c) => c.stop()));
  assert.deepEqual(
    caps.map((c) => count(c, seen)),
    all.map(() => 1),
    `ARP requests from ${from} seen by ${all.join(", ")}`,
  );
}

/** Each host's container c1 sends to 239.1.2.3:5000; every c1 receives every message exactly once. */
export async function multicastOnce(lab: Lab): Promise<void> {
  const group = "239.1.2.3", port = 5000;
  const hosts = lab.hosts.map((h) => h.number);
  const sinks = await Promise.all(
    hosts.map((h) => multicastSink(lab, `h${h}c1`, group, port, overlayAddress(h))),
  );
  const heard = (s: Watched, text: string) => s.stdout.split("\n").filter((l) => l === text).length;
  // Warm-up until the group is known on every path (IGMP joins travel through the bridges too).
  for (const h of hosts) {
    await poll(
      async () => {
        await sendUdp(lab, `h${h}c1`, group, port, `warm ${h}`);
        await delay(50);
        return sinks.every((s) => heard(s, `warm ${h}`) > 0) || undefined;
      },
      10_000,
      () => `warm-up from h${h}c1 not heard by all: ${sinks.map((s) => s.stdout).join(" | ")}`,
    );
  }
  for (const h of hosts) await sendUdp(lab, `h${h}c1`, group, port, `data ${h}`);
  await poll(
    () => Promise.resolve(sinks.every((s) => hosts.every((h) => heard(s, `data ${h}`) > 0)) || undefined),
    5_000,
    () => sinks.map((s) => s.stdout).join(" | "),
  );
  await delay(300);
  await Promise.all(sinks.map((s) => s.stop("SIGKILL")));
  for (const [i, s] of sinks.entries()) {
    assert.deepEqual(hosts.map((h) => heard(s, `data ${h}`)), hosts.map(() => 1), `heard by h${hosts[i]}c1`);
  }
}
