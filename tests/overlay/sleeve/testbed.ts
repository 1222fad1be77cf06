/**
 * A bench of in-process sleeve engines on memory doubles: N peers on one {@link MemoryNetwork}, each with a
 * memory "bridge" end of its frame device, routes computed by BFS over the given links, a fake clock, and a
 * {@link FilterConn} between each engine and the network so tests can drop, record or tamper datagrams.
 *
 * @module
 */
import { MemoryFrameDevice, memoryFramePair } from "../../../ffi/testing/memory_frame_device.ts";
import { MemoryNetwork } from "../../../ffi/testing/memory_packet_conn.ts";
import type { Endpoint, PacketConn } from "../../../ffi/packet_conn.ts";
import type { FrameDevice } from "../../../ffi/frame_device.ts";
import { aes256gcm, type Cipher, tweetnaclSodium } from "../../../ffi/sodium.ts";
import { SyscallError } from "../../../ffi/libc.ts";
import { FakeClock } from "../../../src/mesh/testing/fake_clock.ts";
import type { RouteTables } from "../../../src/overlay/sleeve/forwarder.ts";
import { Sleeve, type SleeveEvent } from "../../../src/overlay/sleeve/sleeve.ts";
import { PARTIAL_CHECKSUMS } from "../../../src/overlay/sleeve/constants.ts";

/** A PacketConn wrapper whose hooks see every datagram in and out. */
export class FilterConn implements PacketConn {
  readonly local: Endpoint;
  readonly batchSize: number;
  readonly #inner: PacketConn;
  /** Called per received datagram; return undefined to drop it, or other bytes to replace it. */
  onReceive: ((d: Uint8Array) => Uint8Array | undefined) | undefined;
  /** Called per sent datagram; return false to drop it silently; throw to make send() throw. */
  onSend: ((d: Uint8Array, to: Endpoint) => boolean) | undefined;

  constructor(inner: PacketConn) {
    this.#inner = inner;
    this.local = inner.local;
    this.batchSize = inner.batchSize;
  }

  send(packets: Uint8Array[], to: Endpoint): number {
    const pass = this.onSend ? packets.filter((p) => this.onSend!(p, to)) : packets;
    this.#inner.send(pass, to);
    return packets.length;
  }

  receive(bufs: Uint8Array[], sizes: number[], sources: Endpoint[]): number {
    const n = this.#inner.receive(bufs, sizes, sources);
    if (!this.onReceive) return n;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const out = this.onReceive(bufs[i].slice(0, sizes[i]));
      if (out === undefined) continue;
      bufs[kept].set(out);
      sizes[kept] = out.length;
      sources[kept++] = sources[i];
    }
    return kept;
  }

  readable(timeoutMs?: number): Promise<boolean> {
    return this.#inner.readable(timeoutMs);
  }

  close(): void {
    this.#inner.close();
  }
}

/**
 * A {@link FilterConn} that also does "UDP GSO" ({@link PacketConn.sendSegments}): it cuts the buffer into
 * datagrams and sends them one by one, or throws `SyscallError(gsoErrno)` when that is set.
 */
export class GsoConn extends FilterConn {
  /** When set, every GSO send fails with this errno. */
  gsoErrno: number | undefined;
  /** GSO sends made, and datagrams in them. */
  sends = 0;
  datagrams = 0;

  sendSegments(data: Uint8Array, length: number, segmentSize: number, to: Endpoint): boolean {
    if (this.gsoErrno !== undefined) throw new SyscallError("Cannot send (test)", this.gsoErrno);
    const parts = [];
    for (let at = 0; at < length; at += segmentSize) {
      parts.push(data.slice(at, Math.min(at + segmentSize, length)));
    }
    this.send(parts, to);
    this.sends++;
    this.datagrams += parts.length;
    return true;
  }
}

/**
 * A memory frame device that says it has a virtio-net header (a TAP with offloads): the bridge end writes and
 * reads each frame with its 10-byte header in front, the engine sees the same bytes.
 */
export class VnetDevice implements FrameDevice {
  readonly vnetHeaderSize = 10;
  readonly #inner: FrameDevice;

  constructor(inner: FrameDevice) {
    this.#inner = inner;
  }

  get name(): string {
    return this.#inner.name;
  }

  get batchSize(): number {
    return this.#inner.batchSize;
  }

  mtu(): number {
    return this.#inner.mtu();
  }

  read(bufs: Uint8Array[], sizes: number[]): number {
    return this.#inner.read(bufs, sizes);
  }

  write(frames: Uint8Array[]): number {
    return this.#inner.write(frames);
  }

  readable(timeoutMs?: number): Promise<boolean> {
    return this.#inner.readable(timeoutMs);
  }

  close(): void {
    this.#inner.close();
  }
}

/** One peer of the bench. */
export interface Node {
  name: string;
  sleeve: Sleeve;
  /** The bridge's end of the engine's frame device: write frames here, read what the engine delivers. */
  bridge: MemoryFrameDevice;
  conn: FilterConn;
  events: SleeveEvent[];
}

/** Options for {@link bench}. */
export interface BenchOptions {
  /** Seal every link with a per-link key. */
  sealed?: boolean;
  /** The cipher sealed links use. Default `xsalsa20poly1305` (tweetnacl); `aes256gcm` is libsodium's. */
  cipher?: Cipher;
  /** The PMTU search ceiling. Default 9000 (keeps searches short). */
  maxDatagram?: number;
  /** Don't call setPeer/setRoutes (tests that configure by hand). */
  bare?: boolean;
  /** The nodes whose device has offloads ({@link VnetDevice}). Default none. */
  offload?: number[];
  /** The nodes whose conn does UDP GSO ({@link GsoConn}). Default none. */
  gso?: number[];
}

/** The peer name of node i: `02:00:00:00:01:0i`. */
export function peerName(i: number): string {
  return `02:00:00:00:01:${i.toString(16).padStart(2, "0")}`;
}

/** A bench of engines and its helpers. */
export class Bench {
  readonly nodes: Node[] = [];
  readonly clock = new FakeClock(1_000);
  readonly network = new MemoryNetwork({ capacity: 100_000 });
  readonly links: [number, number][];

  constructor(n: number, links: [number, number][], options: BenchOptions = {}) {
    this.links = links;
    const box = tweetnaclSodium();
    const gcm = options.cipher === "aes256gcm" ? aes256gcm() : undefined;
    for (let i = 0; i < n; i++) {
      const [bridge, device] = memoryFramePair({ capacity: 100_000 });
      const inner = this.network.listen(`10.0.0.${i + 1}`, 6783);
      const conn = options.gso?.includes(i) ? new GsoConn(inner) : new FilterConn(inner);
      const events: SleeveEvent[] = [];
      const name = peerName(i);
      const sleeve = new Sleeve({
        us: name,
        device: options.offload?.includes(i) ? new VnetDevice(device) : device,
        conn,
        box,
        gcm,
        clock: this.clock,
        maxDatagram: options.maxDatagram ?? 9000,
        onEvent: (e) => events.push(e),
      });
      this.nodes.push({ name, sleeve, bridge, conn, events });
    }
    if (options.bare) return;
    for (const [a, b] of links) {
      const key = options.sealed ? sessionKeyOf(a, b) : undefined;
      const cipher = options.cipher;
      // As the data plane negotiates it: partial checksums to a peer that offers them (its device has offloads).
      const partial = (i: number) => this.nodes[i].sleeve.offloads.includes(PARTIAL_CHECKSUMS);
      this.nodes[a].sleeve.setPeer(peerName(b), {
        endpoint: this.nodes[b].conn.local,
        sessionKey: key,
        outbound: true,
        cipher,
        partialChecksums: partial(b),
      });
      this.nodes[b].sleeve.setPeer(peerName(a), {
        endpoint: this.nodes[a].conn.local,
        sessionKey: key,
        outbound: false,
        cipher,
        partialChecksums: partial(a),
      });
    }
    this.setRoutes();
  }

  /** Gives every engine BFS unicast routes and per-source broadcast trees over the current links. */
  setRoutes(): void {
    const tables = bfsRoutes(this.nodes.length, this.links);
    this.nodes.forEach((node, x) => node.sleeve.setRoutes(tables[x]));
  }

  /** Pumps every engine until none has work. */
  settle(): void {
    for (let round = 0; round < 1000; round++) {
      let work = 0;
      for (const node of this.nodes) work += node.sleeve.pump();
      if (work === 0) return;
    }
    throw new Error("Bench did not settle in 1000 rounds");
  }

  /** Advances the fake clock by `ms` in `step`s, settling after each. */
  async run(ms: number, step = 50): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      await this.clock.advance(step);
      this.settle();
    }
  }

  /** Drains and returns the frames each node's bridge received. */
  received(): Uint8Array[][] {
    return this.nodes.map((node) => {
      const out: Uint8Array[] = [];
      const bufs = [new Uint8Array(70000)], sizes = [0];
      while (node.bridge.read(bufs, sizes) === 1) out.push(bufs[0].slice(0, sizes[0]));
      return out;
    });
  }

  close(): void {
    for (const node of this.nodes) node.sleeve.close();
  }
}

/**
 * The route tables of each of `n` peers over `links`: BFS unicast next hops, and per source the children of
 * each peer in the source's BFS tree (its broadcast hops).
 */
export function bfsRoutes(n: number, links: readonly (readonly [number, number])[]): RouteTables[] {
  const adj = Array.from({ length: n }, () => [] as number[]);
  for (const [a, b] of links) adj[a].push(b), adj[b].push(a);
  for (const l of adj) l.sort((x, y) => x - y);
  // parent[s][v] = v's parent in the BFS tree rooted at s.
  const parent = Array.from({ length: n }, (_, s) => {
    const p = new Array<number>(n).fill(-1);
    p[s] = s;
    const queue = [s];
    while (queue.length) {
      const u = queue.shift()!;
      for (const v of adj[u]) if (p[v] === -1) p[v] = u, queue.push(v);
    }
    return p;
  });
  return Array.from({ length: n }, (_, x) => {
    const unicast = new Map<string, string>();
    for (let d = 0; d < n; d++) {
      if (d === x || parent[x][d] === -1) continue;
      let hop = d;
      while (parent[x][hop] !== x) hop = parent[x][hop];
      unicast.set(peerName(d), peerName(hop));
    }
    const broadcast = new Map<string, string[]>();
    for (let s = 0; s < n; s++) {
      if (parent[s][x] === -1) continue;
      const children = adj[x].filter((v) => parent[s][v] === x && v !== s);
      broadcast.set(peerName(s), children.map(peerName));
    }
    return { unicast, broadcast };
  });
}

/** A deterministic 32-byte session key per link. */
export function sessionKeyOf(a: number, b: number): Uint8Array {
  return new Uint8Array(32).fill(Math.min(a, b) * 16 + Math.max(a, b) + 1);
}

/** The container MAC `02:00:00:00:00:xx`. */
export function mac(i: number): Uint8Array {
  return Uint8Array.of(2, 0, 0, 0, 0, i);
}

/** The broadcast MAC. */
export const BROADCAST_MAC = Uint8Array.of(255, 255, 255, 255, 255, 255);

/** An Ethernet frame (EtherType 0x88b5, local experimental) with `payload`. */
export function frame(dst: Uint8Array, src: Uint8Array, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const f = new Uint8Array(14 + body.length);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f.set(body, 14);
  return f;
}

/** The payload text of a frame built by {@link frame}. */
export function payloadOf(f: Uint8Array): string {
  return new TextDecoder().decode(f.subarray(14));
}

/** The Internet checksum (RFC 1071) of `b`: 0 over a header whose checksum field is right. */
export function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += b[i] << 8 | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
