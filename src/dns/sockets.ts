/**
 * The sockets the DNS server and the forwarder use, behind a small interface (as the sleeve's packet
 * connection is), so their logic runs against the real network ({@link denoSockets}) or an in-memory one
 * (testing/memory_sockets.ts) in tests. Deno's own socket types fit these interfaces as they are.
 *
 * @module
 */
import type { Stream } from "./framing.ts";
import { BatchUdp } from "./udp_batch.ts";

/** A UDP socket: Deno.DatagramConn fits. */
export interface DatagramSocket {
  /** The bound address. */
  readonly addr: Deno.Addr;
  /**
   * Waits for one datagram.
   * @throws {Deno.errors.BadResource} once the socket is closed
   */
  receive(buf?: Uint8Array): Promise<[Uint8Array, Deno.Addr]>;
  /** Sends one datagram to `to`; resolves to the bytes sent. */
  send(data: Uint8Array, to: Deno.Addr): Promise<number>;
  /** Closes the socket; pending receives reject. */
  close(): void;
}

/**
 * The server's UDP socket, served by handing it a handler: {@link BatchUdp} (recvmmsg/sendmmsg on an FFI
 * socket) on the real network, {@link serveEach} over any {@link DatagramSocket} elsewhere. `A` is the
 * socket's client address, opaque to the server, which only hands it back to `send`.
 */
export interface DatagramServer<A = unknown> {
  /** The bound address. */
  readonly local: { address: string; port: number };
  /**
   * Serves until closed: each query goes through `handle`, whose reply (if any) is sent to its client.
   * @param onError called with each receive or send failure; serving goes on
   */
  serve(
    handle: (query: Uint8Array, from: A) => Uint8Array | undefined,
    onError: (e: Error) => void,
  ): Promise<void>;
  /** Sends one later reply (a forward's) now; false when it could not go. */
  send(reply: Uint8Array, to: A): boolean;
  /** Closes the socket, ending serve. */
  close(): void;
}

/** A {@link DatagramServer} over one {@link DatagramSocket}: one receive and one send per query. */
export function serveEach(socket: DatagramSocket): DatagramServer<Deno.Addr> {
  let closed = false;
  const addr = socket.addr as Deno.NetAddr;
  return {
    local: { address: addr.hostname, port: addr.port },
    async serve(handle, onError) {
      while (!closed) {
        let data: Uint8Array, from: Deno.Addr;
        try {
          [data, from] = await socket.receive();
        } catch (e) {
          if (closed || e instanceof Deno.errors.BadResource) return;
          onError(e as Error);
          continue;
        }
        const reply = handle(data, from);
        if (reply) socket.send(reply, from).catch(onError);
      }
    },
    send(reply, to) {
      if (closed) return false;
      socket.send(reply, to).catch(() => {/* the client went away */});
      return true;
    },
    close() {
      closed = true;
      socket.close();
    },
  };
}

/** A TCP connection: Deno.TcpConn fits. */
export interface StreamConn extends Stream {
  /** Closes both directions; pending reads end. */
  close(): void;
}

/** A TCP listener: Deno.TcpListener fits. */
export interface StreamListener {
  /** The bound address, when known (the kernel's pick for port 0). */
  readonly addr?: Deno.Addr;
  /**
   * Waits for the next connection.
   * @throws {Deno.errors.BadResource} once the listener is closed
   */
  accept(): Promise<StreamConn>;
  /** Stops listening; a pending accept rejects. */
  close(): void;
}

/** How the DNS code reaches the network. */
export interface DnsSockets {
  /**
   * Binds a UDP socket (port 0: any free port).
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  listenDatagram(hostname: string, port: number): DatagramSocket;
  /**
   * Binds the server's UDP socket (port 0: any free port).
   * @throws {Deno.errors.AddrInUse} or {@link SyscallError} EADDRINUSE when the port is taken
   */
  serveDatagrams(hostname: string, port: number): DatagramServer;
  /**
   * Listens for TCP.
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  listen(hostname: string, port: number): StreamListener;
  /** Connects over TCP. */
  connect(hostname: string, port: number): Promise<StreamConn>;
}

/**
 * The real network (Deno.listenDatagram needs --unstable-net; the server's batched UDP socket is FFI and
 * needs --allow-ffi).
 */
export const denoSockets: DnsSockets = {
  listenDatagram: (hostname, port) => Deno.listenDatagram({ transport: "udp", hostname, port }),
  serveDatagrams: (hostname, port) => BatchUdp.open(hostname, port),
  listen: (hostname, port) => Deno.listen({ transport: "tcp", hostname, port }),
  connect: (hostname, port) => Deno.connect({ hostname, port }),
};
