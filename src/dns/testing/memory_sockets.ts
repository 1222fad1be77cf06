/**
 * An in-memory network for the DNS server and forwarder ({@link DnsSockets}): UDP sockets keyed by
 * address and port that hand datagrams to each other, and TCP connections as pairs of byte pipes. No
 * loss, no reordering; closing rejects pending receives and accepts with Deno.errors.BadResource, as the
 * real sockets do. Single-threaded: everything happens on the caller's event loop.
 *
 * @module
 */
import {
  type DatagramServer,
  type DatagramSocket,
  type DnsSockets,
  serveEach,
  type StreamConn,
  type StreamListener,
} from "../sockets.ts";

/** First port handed out for port 0. */
const FIRST_EPHEMERAL_PORT = 40_000;

const key = (hostname: string, port: number) => `${hostname}|${port}`;

/** Values and waiters: what `take()` gets once something is `put()`. */
class Waitable<T> {
  readonly #items: T[] = [];
  readonly #waiters: PromiseWithResolvers<T>[] = [];
  #closed = false;

  put(item: T): void {
    if (this.#closed) return;
    const w = this.#waiters.shift();
    if (w) w.resolve(item);
    else this.#items.push(item);
  }

  take(): Promise<T> {
    if (this.#items.length) return Promise.resolve(this.#items.shift()!);
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    const w = Promise.withResolvers<T>();
    this.#waiters.push(w);
    return w.promise;
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(new Deno.errors.BadResource("closed"));
  }
}

/** One direction of a TCP connection: bytes written at one end, read at the other. */
class Pipe {
  #chunks: Uint8Array[] = [];
  #wake?: () => void;
  #ended = false;

  write(p: Uint8Array): void {
    this.#chunks.push(p.slice());
    this.#wake?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#ended) return null;
      await new Promise<void>((r) => this.#wake = r);
      this.#wake = undefined;
    }
    const head = this.#chunks[0];
    const n = Math.min(p.length, head.length);
    p.set(head.subarray(0, n));
    if (n === head.length) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(n);
    return n;
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }
}

/** The in-memory network; see the module comment. */
export class MemorySockets implements DnsSockets {
  readonly #udp = new Map<string, { queue: Waitable<[Uint8Array, Deno.Addr]> }>();
  readonly #tcp = new Map<string, Waitable<StreamConn>>();
  #nextPort = FIRST_EPHEMERAL_PORT;

  #port(port: number): number {
    return port === 0 ? this.#nextPort++ : port;
  }

  /** Binds the server's UDP socket: {@link listenDatagram} served one datagram at a time. */
  serveDatagrams(hostname: string, port: number): DatagramServer {
    return serveEach(this.listenDatagram(hostname, port));
  }

  /** Binds a UDP socket; datagrams to a wildcard-bound socket's port arrive too. */
  listenDatagram(hostname: string, port: number): DatagramSocket {
    const p = this.#port(port), k = key(hostname, p);
    if (this.#udp.has(k)) throw new Deno.errors.AddrInUse(`UDP ${hostname}:${p} is in use`);
    const entry = { queue: new Waitable<[Uint8Array, Deno.Addr]>() };
    this.#udp.set(k, entry);
    const addr: Deno.NetAddr = { transport: "udp", hostname, port: p };
    return {
      addr,
      receive: () => entry.queue.take(),
      send: (data, to) => {
        const t = to as Deno.NetAddr;
        const dst = this.#udp.get(key(t.hostname, t.port)) ??
          this.#udp.get(key(t.hostname.includes(":") ? "::" : "0.0.0.0", t.port));
        dst?.queue.put([data.slice(), addr]);
        return Promise.resolve(data.length);
      },
      close: () => {
        entry.queue.close();
        this.#udp.delete(k);
      },
    };
  }

  /** Listens for TCP on `hostname` and `port`. */
  listen(hostname: string, port: number): StreamListener {
    const p = this.#port(port), k = key(hostname, p);
    if (this.#tcp.has(k)) throw new Deno.errors.AddrInUse(`TCP ${hostname}:${p} is in use`);
    const pending = new Waitable<StreamConn>();
    this.#tcp.set(k, pending);
    return {
      addr: { transport: "tcp", hostname, port: p },
      accept: () => pending.take(),
      close: () => {
        pending.close();
        this.#tcp.delete(k);
      },
    };
  }

  /**
   * Connects to a listener.
   * @throws {Deno.errors.ConnectionRefused} when nothing listens there
   */
  connect(hostname: string, port: number): Promise<StreamConn> {
    const listener = this.#tcp.get(key(hostname, port));
    if (!listener) {
      return Promise.reject(new Deno.errors.ConnectionRefused(`Nothing listens on ${hostname}:${port}`));
    }
    const up = new Pipe(), down = new Pipe();
    const end = () => {
      up.end();
      down.end();
    };
    const end1 = (rx: Pipe, tx: Pipe): StreamConn => ({
      read: (p) => rx.read(p),
      write: (p) => {
        tx.write(p);
        return Promise.resolve(p.length);
      },
      close: end,
    });
    listener.put(end1(up, down));
    return Promise.resolve(end1(down, up));
  }
}
