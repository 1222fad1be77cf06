/**
 * The sockets the DNS server and the forwarder use, behind a small interface (as the sleeve's packet
 * connection is), so their logic runs against the real network ({@link denoSockets}) or an in-memory one
 * (testing/memory_sockets.ts) in tests. Deno's own socket types fit these interfaces as they are.
 *
 * @module
 */
import type { Stream } from "./framing.ts";

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

/** A TCP connection: Deno.TcpConn fits. */
export interface StreamConn extends Stream {
  /** Closes both directions; pending reads end. */
  close(): void;
}

/** A TCP listener: Deno.TcpListener fits. */
export interface StreamListener {
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
   * Listens for TCP.
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  listen(hostname: string, port: number): StreamListener;
  /** Connects over TCP. */
  connect(hostname: string, port: number): Promise<StreamConn>;
}

/** The real network (Deno.listenDatagram needs --unstable-net). */
export const denoSockets: DnsSockets = {
  listenDatagram: (hostname, port) => Deno.listenDatagram({ transport: "udp", hostname, port }),
  listen: (hostname, port) => Deno.listen({ transport: "tcp", hostname, port }),
  connect: (hostname, port) => Deno.connect({ hostname, port }),
};
