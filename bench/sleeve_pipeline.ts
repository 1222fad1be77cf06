/**
 * Benchmark of the sleeve's user-space pipeline without the kernel: two {@link Sleeve} engines in this process,
 * one's device handing out TCP super-frames as a TAP with offloads does, its datagrams going straight to the
 * other's socket, whose device takes the coalesced result. What it times is the engines' own work per 64 KiB
 * super-frame (cutting, records, sealing; opening, checking, coalescing), as a ratio to copying the same
 * bytes once (`Uint8Array.set`) in the same run — what the kernel's share costs is bench/sleeve.ts's to
 * measure. The doubles copy each super-frame in and each datagram batch across, as the kernel would, and the
 * path between them carries datagrams of at most {@link PATH_DATAGRAM} bytes (a 1500-byte underlay), so each
 * segment travels in its own datagram, sealed on its own, as on a real network; the bench fails when a larger
 * one is sent.
 *
 * Flow: per mode, the receiver's container speaks first (so the sender learns its MAC), then rounds of
 * {@link FRAMES} super-frames of one flow: the sender pumps once (all of them cut and sent), then the
 * receiver pumps until its socket is empty. After {@link WARM_UP} rounds, {@link BLOCKS} blocks of
 * {@link ROUNDS} rounds are timed (wall clock per phase, one thread); the median block is reported, with the
 * load average. Modes: plain to a peer that takes partial checksums, plain to one that does not (complete
 * checksums), and sealed with AES-256-GCM from libgcrypt, OpenSSL and libsodium where they load.
 *
 * Run: `deno task bench:pipeline`
 *
 * @module
 */
import type { Endpoint, PacketConn } from "../ffi/packet_conn.ts";
import { endpoint } from "../ffi/packet_conn.ts";
import type { FrameDevice } from "../ffi/frame_device.ts";
import { gcryptAes256gcm } from "../ffi/gcrypt.ts";
import { opensslAes256gcm } from "../ffi/openssl.ts";
import { aes256gcm, libsodium, type SecretBox } from "../ffi/sodium.ts";
import { FakeClock } from "../src/mesh/testing/fake_clock.ts";
import { ASSUMED_DATAGRAM } from "../src/overlay/sleeve/constants.ts";
import { Sleeve } from "../src/overlay/sleeve/sleeve.ts";
import { randomFlow, superFrame, tcpFrame } from "../tests/overlay/sleeve/tcp_frames.ts";
import { SeededRandom } from "../testing/seeded_random.ts";

/** TCP payload per super-frame (what a TAP hands out under a bulk transfer), and the container MSS. */
const PAYLOAD = 65_000, MSS = 1336;
/** Super-frames per round (the engine's drain limit), rounds per block, timed blocks, warm-up rounds. */
const FRAMES = 16, ROUNDS = 200, BLOCKS = 9, WARM_UP = 300;
/** The largest UDP payload the path carries: a 1500-byte IPv4 underlay, as the lab's and most networks'. */
const PATH_DATAGRAM = ASSUMED_DATAGRAM;
const A = "02:00:00:00:00:0a", B = "02:00:00:00:00:0b";
const MAC_A = [2, 0, 0, 0, 0, 1], MAC_B = [2, 0, 0, 0, 0, 2];

/** A TAP with offloads: hands out queued frames, counts what is written. */
class QueueDevice implements FrameDevice {
  readonly name = "bench";
  readonly batchSize = FRAMES;
  readonly vnetHeaderSize = 10;
  readonly queue: Uint8Array[] = [];
  written = 0;
  mtu(): number {
    return 1376;
  }
  read(bufs: Uint8Array[], sizes: number[]): number {
    let n = 0;
    for (; n < bufs.length && this.queue.length > 0; n++) {
      const f = this.queue.shift()!;
      bufs[n].set(f);
      sizes[n] = f.length;
    }
    return n;
  }
  write(frames: Uint8Array[]): number {
    this.written += frames[0].length;
    return 1;
  }
  readable(): Promise<boolean> {
    return new Promise(() => {});
  }
  close(): void {}
}

/**
 * A socket whose sends land in the peer's inbox (copied, into a ring of buffers), with GSO and GRO. Datagrams
 * (or GSO segments) larger than {@link PATH_DATAGRAM} are lost, as behind a router that sends no ICMP, and
 * counted in {@link tooBig}.
 */
class InboxConn implements PacketConn {
  readonly local: Endpoint;
  readonly batchSize = FRAMES;
  peer!: InboxConn;
  /** Datagrams the path lost for being larger than {@link PATH_DATAGRAM}. */
  tooBig = 0;
  /** Datagrams sent (a GSO send counts each of its segments). */
  datagrams = 0;
  readonly #inbox: { data: Uint8Array; segment: number }[] = [];
  readonly #ring = Array.from({ length: 64 }, () => new Uint8Array(65_536));
  #next = 0;

  constructor(address: string) {
    this.local = endpoint(address, 6783);
  }
  get pending(): number {
    return this.#inbox.length;
  }
  #arrive(bytes: Uint8Array, segment: number): void {
    const b = this.#ring[this.#next++ & 63];
    b.set(bytes);
    this.#inbox.push({ data: b.subarray(0, bytes.length), segment });
  }
  send(packets: Uint8Array[]): number {
    for (const p of packets) {
      this.datagrams++;
      if (p.length > PATH_DATAGRAM) this.tooBig++;
      else this.peer.#arrive(p, 0);
    }
    return packets.length;
  }
  sendSegments(data: Uint8Array, length: number, segmentSize: number): boolean {
    this.datagrams += Math.ceil(length / segmentSize);
    if (segmentSize > PATH_DATAGRAM) this.tooBig++;
    else this.peer.#arrive(data.subarray(0, length), segmentSize);
    return true;
  }
  receive(bufs: Uint8Array[], sizes: number[], sources: Endpoint[]): number {
    return this.receiveBatch(bufs, sizes, sources, []);
  }
  receiveBatch(bufs: Uint8Array[], sizes: number[], sources: Endpoint[], segments: number[]): number {
    let n = 0;
    for (; n < bufs.length && this.#inbox.length > 0; n++) {
      const d = this.#inbox.shift()!;
      bufs[n].set(d.data);
      sizes[n] = d.data.length;
      segments[n] = d.segment;
      sources[n] = this.peer.local;
    }
    return n;
  }
  readable(): Promise<boolean> {
    return new Promise(() => {});
  }
  close(): void {}
}

/** One mode: how the link is set up. */
interface Mode {
  name: string;
  partialChecksums: boolean;
  gcm?: SecretBox;
}

/** Median µs per super-frame of the send and the receive phase, and datagrams sent per super-frame. */
function measure(mode: Mode): { send: number; receive: number; datagrams: number } {
  const rnd = new SeededRandom(1);
  const flow = { ...randomFlow(rnd, false), macs: new Uint8Array([...MAC_B, ...MAC_A]), df: true };
  flow.options = new Uint8Array([1, 1, 8, 10, ...rnd.bytes(8)]); // a timestamp option, as Linux sends
  const frames = Array.from({ length: FRAMES }, () => superFrame(flow, 0, 0x10, 1, rnd.bytes(PAYLOAD), MSS));
  const devA = new QueueDevice(), devB = new QueueDevice();
  const connA = new InboxConn("198.18.0.1"), connB = new InboxConn("198.18.0.2");
  connA.peer = connB;
  connB.peer = connA;
  const clock = new FakeClock(1_000), box = libsodium(), gcm = mode.gcm;
  const sessionKey = gcm ? new Uint8Array(32).fill(9) : undefined;
  const path = { assumedDatagram: PATH_DATAGRAM, maxDatagram: PATH_DATAGRAM };
  const a = new Sleeve({ us: A, device: devA, conn: connA, clock, box, gcm, ...path });
  const b = new Sleeve({ us: B, device: devB, conn: connB, clock, box, gcm, ...path });
  const link = { partialChecksums: mode.partialChecksums, sessionKey, cipher: gcm && "aes256gcm" } as const;
  a.setPeer(B, { endpoint: connB.local, outbound: true, ...link });
  b.setPeer(A, { endpoint: connA.local, outbound: false, ...link });
  const routes = (us: string, them: string) => ({
    unicast: new Map([[them, them]]),
    broadcast: new Map([[us, [them]], [them, []]]),
  });
  a.setRoutes(routes(A, B));
  b.setRoutes(routes(B, A));
  const ack = tcpFrame(
    { ...flow, macs: new Uint8Array([...MAC_A, ...MAC_B]) },
    1,
    0x10,
    1,
    new Uint8Array(0),
  );
  devB.queue.push(new Uint8Array([...new Uint8Array(10), ...ack]));
  for (let i = 0; i < 3; i++) (b.pump(), a.pump());
  let seq = 1;
  const round = (): [number, number] => {
    for (const f of frames) {
      const at = 10 + 14 + 20 + 4; // the TCP sequence number behind the virtio-net, Ethernet and IPv4 headers
      [f[at], f[at + 1], f[at + 2], f[at + 3]] = [seq >>> 24, seq >>> 16 & 255, seq >>> 8 & 255, seq & 255];
      seq = (seq + PAYLOAD) >>> 0;
      devA.queue.push(f);
    }
    const t0 = performance.now();
    a.pump();
    const t1 = performance.now();
    while (connB.pending > 0) b.pump();
    return [t1 - t0, performance.now() - t1];
  };
  for (let i = 0; i < WARM_UP; i++) round();
  const written = devB.written, sent = connA.datagrams, sends: number[] = [], receives: number[] = [];
  for (let k = 0; k < BLOCKS; k++) {
    let send = 0, receive = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const [s, r] = round();
      send += s;
      receive += r;
    }
    sends.push(send / ROUNDS / FRAMES * 1000);
    receives.push(receive / ROUNDS / FRAMES * 1000);
  }
  const delivered = (devB.written - written) / (BLOCKS * ROUNDS * FRAMES);
  if (Math.abs(delivered - PAYLOAD) > 2000) {
    throw new Error(`${mode.name}: ${delivered} bytes delivered per super-frame, expected about ${PAYLOAD}`);
  }
  if (connA.tooBig + connB.tooBig > 0) {
    throw new Error(
      `${mode.name}: ${
        connA.tooBig + connB.tooBig
      } datagrams larger than the path's ${PATH_DATAGRAM} bytes were sent`,
    );
  }
  const datagrams = (connA.datagrams - sent) / (BLOCKS * ROUNDS * FRAMES);
  return { send: median(sends), receive: median(receives), datagrams };
}

/** Median µs of one copy of a super-frame. */
function memcpy(): number {
  const from = new Uint8Array(PAYLOAD + 100), to = new Uint8Array(PAYLOAD + 100), times: number[] = [];
  for (let k = 0; k < BLOCKS + 1; k++) {
    const t = performance.now();
    for (let i = 0; i < ROUNDS * FRAMES; i++) to.set(from);
    if (k > 0) times.push((performance.now() - t) / (ROUNDS * FRAMES) * 1000);
  }
  return median(times);
}

function median(xs: number[]): number {
  return [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
}

const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`machine: 2 shared cores, load average ${load()} at start`);
const modes: Mode[] = [
  { name: "plain, partial checksums", partialChecksums: true },
  { name: "plain, complete checksums", partialChecksums: false },
];
const gcrypt = gcryptAes256gcm(), openssl = opensslAes256gcm(), sodiumGcm = aes256gcm();
if (gcrypt) modes.push({ name: "AES-256-GCM (libgcrypt)", partialChecksums: true, gcm: gcrypt });
if (openssl) modes.push({ name: "AES-256-GCM (OpenSSL)", partialChecksums: true, gcm: openssl });
if (sodiumGcm) modes.push({ name: "AES-256-GCM (libsodium)", partialChecksums: true, gcm: sodiumGcm });
const copy = memcpy();
console.log(`one copy of a ${PAYLOAD}-byte super-frame: ${copy.toFixed(2)} µs; median of ${BLOCKS} blocks`);
console.log(
  "| mode | datagrams | send µs | receive µs | send × copy | receive × copy | Gbit/s per core, send / receive |",
);
console.log("|---|---|---|---|---|---|---|");
for (const mode of modes) {
  const { send, receive, datagrams } = measure(mode);
  const gbps = (us: number) => (PAYLOAD * 8 / us / 1000).toFixed(1);
  console.log(
    `| ${mode.name} | ${datagrams.toFixed(1)} | ${send.toFixed(1)} | ${receive.toFixed(1)} | ${
      (send / copy).toFixed(1)
    } | ${(receive / copy).toFixed(1)} | ${gbps(send)} / ${gbps(receive)} |`,
  );
}
console.log(`load average ${load()} at end`);
