/**
 * The mesh over real TCP: accepts and dials connections, runs the handshake, and wires each
 * {@link ProtocolConnection} to the {@link MeshCore}.
 *
 * Flow: accept loop (rate-limited by a token bucket, capped by --conn-limit) and one timer, armed for the
 * earliest of the core's timers and the {@link ConnectionMaker}'s next due target (so an idle mesh does not
 * poll), that runs the core's timers and dials the targets that are due → handshake → a connection in the
 * pair's non-preferred direction is held, and the lower name decides (its own dial to the host under way: it
 * waits for that, else it wires the connection at once; the higher name holds until the lower one speaks on
 * it or closes it) → duplicate and restart checks (both ends keep the same one) →
 * `core.connectionAdded` → messages go to `core.receive` until the connection closes →
 * `core.connectionRemoved` and the target is scheduled for retry. Everything runs on the one JavaScript
 * thread; sends are fire-and-forget with a per-connection count of writes in flight that marks a neighbour
 * congested in the core, so gossip for it is merged instead of queued.
 *
 * Pre-authentication memory: every connection still handshaking (accepted or dialled) reserves
 * PRE_AUTH_CONNECTION_BYTES, the most its handshake can hold, out of one {@link ByteBudget}; an accepted
 * connection that does not fit is closed at once, so unauthenticated peers together never hold more than
 * the budget however many connect. Refused and failed inbound connections are logged at most once a minute
 * per peer host, with a count ({@link RateLimitedLog}).
 *
 * Isolation: no event from one peer can end the router. Every async task started here (accept loop, dials,
 * per-connection runs) ends in a catch that logs the peer or address, and each connection listener is
 * called on its own: one that throws is logged with the peer and the others still run.
 *
 * @module
 */
import { MESH_PORT, PRE_AUTH_BUDGET_BYTES, PRE_AUTH_CONNECTION_BYTES } from "../mesh/constants.ts";
import { ByteBudget } from "../mesh/byte_budget.ts";
import { RateLimitedLog } from "../mesh/rate_limited_log.ts";
import { ConnectionMaker, type Target } from "../mesh/connection_maker.ts";
import { preferredDirection, ProtocolConnection, resolveDuplicate } from "../mesh/connection.ts";
import type { PeerName } from "../mesh/gossip.ts";
import { isGossipTag } from "../mesh/gossip_message.ts";
import { handshake, SelfConnectionError } from "../mesh/handshake.ts";
import { MeshCore } from "../mesh/mesh_core.ts";
import { StallTolerantDeadline } from "../mesh/stall_tolerant_deadline.ts";
import { TokenBucket } from "../mesh/token_bucket.ts";
import { logger } from "../log.ts";
import { VERSION } from "../version.ts";
import { checkNotSelf, formatPeerAddress, parsePeerAddress, type RouterConfig } from "./config.ts";
import type { ConnectionStatus } from "../client/wire.ts";

const log = logger("mesh");

/**
 * The least time between two runs of the core's timers and the dials, in milliseconds: deadlines that close
 * share one run.
 */
const MIN_TICK_MS = 10;
/** A dial that has not connected after this long fails, in milliseconds. */
const DIAL_TIMEOUT_MS = 5_000;
/**
 * Connections' heartbeats (every 30 s) and dead-peer checks (every 7.5 s) fall on multiples of this, so a
 * router with 40 connections wakes for them at most every 2 s instead of about 7 times a second.
 */
const CONNECTION_TIMER_GRID_MS = 2_000;
/**
 * A dial of ours to a host falling due within this long (ms) counts as under way: a connection in the pair's
 * non-preferred direction (dialled by the higher name) that reaches the lower name then waits for it. When two
 * peers dial each other at once (every pair of a mesh launched together), wiring both would exchange full
 * state, start the data plane and tear it all down again when the preferred one replaced the other.
 */
const DUPLICATE_GRACE_MS = 1_000;
/**
 * The longest the lower name holds the higher name's connection while its own dial to that host is under
 * way, in ms: a dial's timeout and a handshake's (a busy host takes seconds).
 */
const DUPLICATE_WAIT_MAX_MS = 15_000;
/**
 * The longest the higher name holds its own dial's connection for the lower name's decision (wire it and
 * speak, or close it), in ms; past it, it is wired (a peer without the decision, of an older version).
 */
const PEER_DECISION_MAX_MS = DUPLICATE_WAIT_MAX_MS + 5_000;
/** How often a held connection checks whether it may stop waiting, in ms. */
const DUPLICATE_CHECK_MS = 100;
/** Writes in flight to one neighbour above which its gossip is held and merged. */
const CONGESTION_WRITES = 32;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A connection in the pair's non-preferred direction before it is wired: messages that arrive meanwhile wait
 * (the receive loop reads the next only after the handler settles), and the first one tells the holder that
 * the peer wired it.
 */
class Hold {
  /** True until {@link release} or {@link end}. */
  holding = true;
  /** The connection closed while held. */
  ended = false;
  /** A message arrived, or the connection closed. */
  heard = false;
  #release!: () => void;
  readonly #released = new Promise<void>((r) => (this.#release = r));

  /** A message arrived while held: resolves when it may be handled. */
  spoken(): Promise<void> {
    this.heard = true;
    return this.#released;
  }

  /** Wired: held messages go on. */
  release(): void {
    this.holding = false;
    this.#release();
  }

  /** Closed while held: held messages are dropped. */
  end(): void {
    if (!this.holding) return;
    this.ended = this.heard = true;
    this.release();
  }
}

/** A connection coming up (with what the data plane needs to reach the peer) or going down. */
export type ConnectionEvent =
  | {
    type: "up";
    name: PeerName;
    /** The peer's IP address. */
    host: string;
    /** The peer's mesh port (TCP control, UDP sleeve). */
    port: number;
    /** The connection's session key, or null when unencrypted. */
    sessionKey: Uint8Array | null;
    outbound: boolean;
    /** The overlays the peer offered in its handshake, e.g. ["fastdp", "sleeve"]. */
    overlays: string[];
    /** The sleeve ciphers the peer offered, most preferred first; empty from a peer that predates them. */
    ciphers: string[];
    /** The sleeve offloads the peer offered; empty from a peer that predates them or takes none. */
    offloads: string[];
  }
  | { type: "down"; name: PeerName };

/**
 * How long a new connection may wait for its data plane before it is closed, in milliseconds of our own
 * running time (a stalled event loop is not counted). Generous: during a mass bring-up on a busy host a
 * close costs a redial and a handshake (more load), while waiting costs nothing (the connection is merely
 * pending and carries no routes).
 */
const ESTABLISH_TIMEOUT_MS = 20_000;

interface Live {
  conn: ProtocolConnection;
  established: boolean;
  establishDeadline: StallTolerantDeadline;
  address: string;
  outbound: boolean;
  /** Whether the connection runs in the pair's preferred direction (see preferredDirection). */
  preferred: boolean;
  target?: string;
  writes: number;
  /** More than CONGESTION_WRITES writes are in flight. */
  congested: boolean;
  /** The core has been told the neighbour is congested (and must be told when it is not). */
  coreCongested: boolean;
  since: Date;
}

/** Options of {@link MeshTransport} beyond the router's configuration. */
export interface MeshTransportOptions {
  /** Bytes all handshaking connections may hold together (default PRE_AUTH_BUDGET_BYTES). */
  preAuthBudgetBytes?: number;
}

/** Accepts, dials and holds the mesh connections of one router. */
export class MeshTransport {
  /** The pure mesh core (topology, routes, gossip). */
  readonly core: MeshCore;
  /** The targets and their retry state. */
  readonly maker: ConnectionMaker;
  /** Connections closed since start, by any cause. */
  terminations = 0;
  /** The overlays offered in handshakes, most preferred first; the data plane sets it before start. */
  overlays: string[] = ["sleeve"];
  /** The sleeve ciphers offered in handshakes, most preferred first; the data plane sets it before start. */
  ciphers: string[] = [];
  /** The sleeve offloads offered in handshakes; the data plane sets it before start. */
  offloads: string[] = [];

  #config: RouterConfig;
  #uid: bigint;
  #live = new Map<PeerName, Live>();
  /** Connections past their handshake held in the pair's non-preferred direction (see {@link Hold}). */
  #holding = 0;
  /** Handshakes in progress per remote host (IP address); their sum is {@link handshaking}. */
  readonly #handshakingHosts = new Map<string, number>();
  #listener?: Deno.Listener;
  #ticker?: ReturnType<typeof setTimeout>;
  /** When {@link #ticker} fires (performance.now()), or Infinity when it is not armed. */
  #tickAt = Infinity;
  #started = false;
  #bucket = new TokenBucket();
  #stopping = false;
  #listeners: ((e: ConnectionEvent) => void)[] = [];
  #preAuth: ByteBudget;
  #refusals = new RateLimitedLog({ write: log.warn });

  /**
   * @param config the router's configuration (port, password, limits, peers)
   * @param identity our name, nickname and this run's UID
   * @param options the pre-authentication budget
   */
  constructor(
    config: RouterConfig,
    identity: { name: PeerName; nickname: string; uid: bigint },
    options: MeshTransportOptions = {},
  ) {
    this.#config = config;
    this.#preAuth = new ByteBudget(options.preAuthBudgetBytes ?? PRE_AUTH_BUDGET_BYTES);
    this.#uid = identity.uid;
    this.core = new MeshCore({
      ...identity,
      send: (n, tag, payload) => this.#send(n, tag, payload),
      random: Math.random,
      now: () => performance.now(),
      scheduled: () => this.#arm(),
    });
    this.maker = new ConnectionMaker({ now: () => performance.now() });
    this.core.onPeerRemoved((name) => log.info("Peer removed: no longer reachable", { peer: name }));
    if (config.discovery) {
      this.core.onTopologyChange(() => {
        this.maker.discovered(this.core.discovery().map((t) => t.address));
        this.#arm();
      });
    }
  }

  /**
   * Listens for peers and starts dialling the configured ones.
   *
   * @throws {Error} when the mesh port cannot be bound, naming it and what to do
   */
  start(): void {
    const { host, port } = this.#config;
    try {
      this.#listener = Deno.listen({ hostname: host, port, transport: "tcp" });
    } catch (err) {
      const why = err instanceof Deno.errors.AddrInUse ? "the port is in use" : (err as Error).message;
      throw new Error(
        `Cannot listen for peers on ${formatPeerAddress({ host, port })}: ${why}; pass another --port`,
      );
    }
    this.maker.add(this.#config.peers.map(formatPeerAddress));
    this.#acceptLoop(this.#listener).catch((err) =>
      log.error("Stopped accepting peer connections", { error: (err as Error).message })
    );
    this.#started = true;
    this.#arm();
  }

  /** Closes the listener and every connection. */
  stop(): void {
    this.#stopping = true;
    clearTimeout(this.#ticker);
    this.#ticker = undefined;
    this.#refusals.stop();
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
    for (const l of this.#live.values()) l.conn.close("router stopping");
  }

  /**
   * Adds targets (`meshnet connect`); with `replace`, the explicit list becomes exactly `peers`.
   *
   * @throws {UsageError} naming a malformed peer; nothing is changed then
   */
  connect(peers: string[], replace: boolean): void {
    const addresses = peers.map((p) => {
      const peer = parsePeerAddress(p, this.#config.port);
      checkNotSelf(peer, { host: this.#config.host, port: this.port });
      return formatPeerAddress(peer);
    });
    this.maker.add(addresses, replace);
    this.#arm();
  }

  /**
   * Removes targets (`meshnet forget`); existing connections stay.
   *
   * @throws {UsageError} naming a malformed peer
   */
  forget(peers: string[]): void {
    this.maker.forget(peers.map((p) => formatPeerAddress(parsePeerAddress(p, this.#config.port))));
  }

  /** Calls `listener` when a connection comes up (handshake done) or goes down. */
  onConnection(listener: (e: ConnectionEvent) => void): void {
    this.#listeners.push(listener);
  }

  /** The data plane to `name` works both ways: the connection counts as established in the topology. */
  established(name: PeerName): void {
    const live = this.#live.get(name);
    if (!live || live.established) return;
    live.established = true;
    live.establishDeadline.stop();
    this.core.connectionEstablished(name);
    log.info("Connection established", { peer: name, address: live.address });
  }

  /** Closes the connection to `name`, if any, with `reason`. */
  close(name: PeerName, reason: string): void {
    this.#live.get(name)?.conn.close(reason);
  }

  /** The live connections, sorted by address. */
  connections(): ConnectionStatus[] {
    return [...this.#live.entries()].map(([name, l]) => ({
      name,
      nickname: l.conn.remote.nickname,
      address: l.address,
      outbound: l.outbound,
      encrypted: l.conn.sessionKey !== null,
      state: l.established ? "established" as const : "pending" as const,
      since: l.since.toISOString(),
    })).sort((a, b) => (a.address < b.address ? -1 : 1));
  }

  /** The targets and their state, with `nextTry` as wall-clock milliseconds. */
  targets(): Target[] {
    const offset = Date.now() - performance.now();
    return this.maker.list().map((t) => ({ ...t, nextTry: t.nextTry + offset }));
  }

  /** Handshakes in progress. */
  get handshaking(): number {
    let n = 0;
    for (const k of this.#handshakingHosts.values()) n += k;
    return n;
  }

  /** Bytes reserved now by connections that have not finished their handshake. */
  get preAuthBytes(): number {
    return this.#preAuth.held;
  }

  /** The port the mesh listens on (the configured one, or the one the system chose for port 0). */
  get port(): number {
    return (this.#listener?.addr as Deno.NetAddr | undefined)?.port ?? this.#config.port;
  }

  #atLimit(): boolean {
    const limit = this.#config.connLimit;
    return limit > 0 && this.#live.size + this.handshaking + this.#holding >= limit;
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    while (!this.#stopping) {
      await this.#bucket.wait();
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept() as Deno.TcpConn;
      } catch (err) {
        if (!this.#stopping) {
          log.error("Stopped accepting peer connections", { error: (err as Error).message });
        }
        return;
      }
      const remote = conn.remoteAddr as Deno.NetAddr;
      const address = formatPeerAddress({ host: remote.hostname, port: remote.port });
      if (this.#atLimit()) {
        this.#refusals.note(
          remote.hostname,
          `Connection limit reached (${this.#config.connLimit}); refused connection`,
          {
            from: address,
          },
        );
        conn.close();
        continue;
      }
      if (!this.#preAuth.tryReserve(PRE_AUTH_CONNECTION_BYTES)) {
        this.#refusals.note(
          remote.hostname,
          `Too many connections handshaking (${this.#preAuth.held} bytes held of ${this.#preAuth.limit}); refused connection`,
          { from: address },
        );
        conn.close();
        continue;
      }
      this.#run(conn, address, false).catch((err) =>
        log.error("Inbound connection failed", { address, error: (err as Error).message })
      );
    }
  }

  /**
   * Makes sure the timer fires by the time the core or the connection maker next has work (at least
   * {@link MIN_TICK_MS} from now); it only ever moves the timer sooner.
   */
  #arm(): void {
    if (!this.#started || this.#stopping) return;
    const now = performance.now();
    const at = Math.max(Math.min(this.core.nextTimer(), this.maker.nextDue()), now + MIN_TICK_MS);
    if (at === Infinity || at >= this.#tickAt) return;
    clearTimeout(this.#ticker);
    this.#tickAt = at;
    this.#ticker = setTimeout(() => {
      this.#ticker = undefined;
      this.#tickAt = Infinity;
      try {
        this.#tick();
      } catch (err) {
        // A timer callback that throws ends Deno: log, and the timer is armed again below.
        log.error("Mesh tick failed", { error: (err as Error).message, stack: (err as Error).stack });
      }
      this.#arm();
    }, at - now);
  }

  #tick(): void {
    this.core.tick();
    for (const address of this.maker.due()) {
      if (this.#atLimit()) {
        this.maker.failed(address, `Connection limit reached (${this.#config.connLimit})`);
        continue;
      }
      this.#dial(address).catch((err) =>
        log.error("Dial failed", { address, error: (err as Error).message })
      );
    }
  }

  async #dial(target: string): Promise<void> {
    const { host, port } = parsePeerAddress(target, MESH_PORT);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const connecting = Deno.connect({ hostname: host, port, transport: "tcp" });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${DIAL_TIMEOUT_MS / 1000} s`)),
          DIAL_TIMEOUT_MS,
        );
      });
      connecting.then((c) => this.#stopping && c.close(), () => {});
      const conn = await Promise.race([connecting, timeout]);
      if (!this.#preAuth.tryReserve(PRE_AUTH_CONNECTION_BYTES)) {
        conn.close();
        throw new Error(`too many connections handshaking (${this.#preAuth.held} bytes held); will retry`);
      }
      await this.#run(conn, target, true, target);
    } catch (err) {
      if (err instanceof SelfConnectionError) this.maker.ourselves(target);
      else this.maker.failed(target, (err as Error).message);
      this.#arm(); // the retry
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Handshakes on `conn` and, if it is wanted, hands it to the core. Throws only for outbound failures.
   * The caller reserved PRE_AUTH_CONNECTION_BYTES for it; they are released when the handshake ends.
   */
  async #run(conn: Deno.TcpConn, address: string, outbound: boolean, target?: string): Promise<void> {
    const remoteHost = parsePeerAddress(address).host;
    this.#handshakingHosts.set(remoteHost, (this.#handshakingHosts.get(remoteHost) ?? 0) + 1);
    let result;
    try {
      conn.setNoDelay(true);
      result = await handshake(conn, {
        features: {
          name: this.core.name,
          nickname: this.#config.nickname,
          uid: this.#uid,
          overlays: this.overlays,
          version: VERSION,
          port: this.port,
          ciphers: this.ciphers,
          offloads: this.offloads,
        },
        outbound,
        password: this.#config.password,
      });
    } catch (err) {
      if (outbound) {
        log.warn("Handshake failed", { address, outbound, error: (err as Error).message });
        throw err;
      }
      this.#refusals.note(parsePeerAddress(address).host, "Handshake failed", {
        address,
        outbound,
        error: (err as Error).message,
      });
      return;
    } finally {
      const left = this.#handshakingHosts.get(remoteHost)! - 1;
      if (left > 0) this.#handshakingHosts.set(remoteHost, left);
      else this.#handshakingHosts.delete(remoteHost);
      this.#preAuth.release(PRE_AUTH_CONNECTION_BYTES);
    }
    const remote = result.remote;
    const preferred = preferredDirection(this.core.name, remote.name, outbound);
    const hold = !preferred && !this.#live.has(remote.name) ? new Hold() : undefined;
    const conn2 = new ProtocolConnection(result, {
      onMessage: async (tag, payload) => {
        if (hold?.holding && (await hold.spoken(), hold.ended)) return;
        this.#receive(remote.name, tag, payload);
      },
      onClose: (error) => {
        hold?.end();
        this.#closed(remote.name, conn2, error);
      },
      timerGridMs: CONNECTION_TIMER_GRID_MS,
    });
    if (hold) {
      this.#holding++;
      try {
        if (outbound) await this.#awaitPeerDecision(conn2, hold, remote.name);
        else await this.#awaitOwnDial(remoteHost, remote.name);
      } finally {
        this.#holding--;
      }
      if (hold.ended) {
        if (outbound) throw new Error("the peer kept the connection it dialled");
        return;
      }
    }
    const existing = this.#live.get(remote.name);
    if (existing) {
      if (existing.conn.remote.uid !== remote.uid) {
        log.info("Peer restarted; replacing its old connection", { peer: remote.name });
        existing.conn.close("peer restarted");
      } else {
        const choice = resolveDuplicate(
          { uid: existing.conn.uid, preferred: existing.preferred },
          { uid: conn2.uid, preferred },
        );
        if (choice !== "keepNew") conn2.close("duplicate connection");
        if (choice !== "keepExisting") existing.conn.close("duplicate connection");
        if (choice !== "keepNew") {
          if (target) this.#adopt(existing, target);
          return;
        }
      }
    }
    if (this.#stopping) {
      hold?.release();
      return conn2.close("router stopping");
    }
    const live: Live = {
      conn: conn2,
      established: false,
      establishDeadline: new StallTolerantDeadline({
        timeoutMs: ESTABLISH_TIMEOUT_MS,
        onExpire: (silent) =>
          conn2.close(
            `no UDP heartbeat acknowledged within ${Math.round(silent / 1000)} s; ` +
              `check that UDP port ${remote.port} is open between the hosts`,
          ),
      }),
      address,
      outbound,
      preferred,
      target,
      writes: 0,
      congested: false,
      coreCongested: false,
      since: new Date(),
    };
    live.establishDeadline.start();
    if (!target) this.#adoptInbound(live, remote.name);
    this.#live.set(remote.name, live);
    if (live.target) this.maker.connected(live.target);
    this.core.connectionAdded({
      name: remote.name,
      nickname: remote.nickname,
      uid: remote.uid,
      address,
      outbound,
    });
    if (!hold || !outbound) conn2.start(); // a held outbound connection was started to hear the peer
    hold?.release();
    const up: ConnectionEvent = {
      type: "up",
      name: remote.name,
      host: remoteHost,
      port: remote.port,
      sessionKey: conn2.sessionKey,
      outbound,
      overlays: remote.overlays,
      ciphers: remote.ciphers ?? [],
      offloads: remote.offloads ?? [],
    };
    this.#emit(up);
    log.info("Connection added", {
      peer: `${remote.name}(${remote.nickname})`,
      address,
      direction: outbound ? "outbound" : "inbound",
      encrypted: conn2.sessionKey !== null,
    });
  }

  /** Tells every listener, each on its own: one that throws is logged and does not stop the others. */
  #emit(e: ConnectionEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        log.error(`Handling connection ${e.type} failed`, { peer: e.name, error: (err as Error).message });
      }
    }
  }

  /**
   * Our dial reached a peer with a lower name, whose own dial would be the pair's preferred connection: the
   * peer decides. It wires ours, and speaks on it at once, when it has no dial of its own to us; it closes
   * ours once its own is up. Reads the connection (the first message waits, see {@link Hold}) until either,
   * or the preferred connection is up here, for at most {@link PEER_DECISION_MAX_MS}.
   */
  async #awaitPeerDecision(conn: ProtocolConnection, hold: Hold, name: PeerName): Promise<void> {
    conn.start();
    const deadline = performance.now() + PEER_DECISION_MAX_MS;
    while (!hold.heard && !this.#live.has(name) && performance.now() < deadline) {
      await sleep(DUPLICATE_CHECK_MS);
    }
  }

  /**
   * A peer with a higher name dialled us, and the pair's preferred connection is ours to dial: we decide.
   * Waits while our own dial to that host is under way or due (or a handshake with it runs), for at most
   * {@link DUPLICATE_WAIT_MAX_MS}; the caller then wires the peer's connection unless ours came up.
   */
  async #awaitOwnDial(host: string, name: PeerName): Promise<void> {
    const deadline = performance.now() + DUPLICATE_WAIT_MAX_MS;
    while (
      !this.#live.has(name) && performance.now() < deadline &&
      (this.#handshakingHosts.has(host) || this.#dialPending(host))
    ) await sleep(DUPLICATE_CHECK_MS);
  }

  /** Whether we are dialling `host`, or will within {@link DUPLICATE_GRACE_MS}. */
  #dialPending(host: string): boolean {
    const soon = performance.now() + DUPLICATE_GRACE_MS;
    return this.maker.list().some((t) =>
      parsePeerAddress(t.address).host === host &&
      (t.state === "connecting" || (t.state === "waiting" || t.state === "failed") && t.nextTry <= soon)
    );
  }

  /** A dialled target turned out to reach a peer we already have a connection to. */
  #adopt(live: Live, target: string): void {
    live.target ??= target;
    this.maker.connected(target);
  }

  /** An inbound connection from the host of a target counts as that target's connection. */
  #adoptInbound(live: Live, name: PeerName): void {
    const host = parsePeerAddress(live.address).host;
    const t = this.maker.list().find((t) =>
      t.state !== "connected" && parsePeerAddress(t.address).host === host
    );
    if (t) {
      live.target = t.address;
      log.debug("Inbound connection serves target", { peer: name, target: t.address });
    }
  }

  #receive(from: PeerName, tag: number, payload: Uint8Array): void {
    if (isGossipTag(tag)) {
      this.core.receive(from, tag, payload);
    } else {
      log.debug("Ignoring message with an unknown tag", { peer: from, tag });
    }
  }

  #closed(name: PeerName, conn: ProtocolConnection, error: Error): void {
    this.terminations++;
    const live = this.#live.get(name);
    if (live?.conn !== conn) return; // a duplicate or replaced connection: never added
    this.#live.delete(name);
    live.establishDeadline.stop();
    this.core.connectionRemoved(name);
    this.#emit({ type: "down", name });
    if (live.target) this.maker.disconnected(live.target, error.message);
    this.#arm(); // the redial
    if (!this.#stopping) {
      log.info("Connection closed", { peer: name, address: live.address, reason: error.message });
    }
  }

  #send(neighbour: PeerName, tag: number, payload: Uint8Array): void {
    const live = this.#live.get(neighbour);
    if (!live) return;
    live.writes++;
    if (live.writes > CONGESTION_WRITES && !live.congested) {
      // The core may not be called back from inside send(): tell it in a microtask, and only if the writes
      // have not drained meanwhile, so a congestion mark is never set after its own clearing.
      live.congested = true;
      queueMicrotask(() => {
        if (!live.congested || live.coreCongested || this.#live.get(neighbour) !== live) return;
        live.coreCongested = true;
        this.core.connectionCongested(neighbour, true);
      });
    }
    live.conn.send(tag, payload).catch(() => {}).finally(() => {
      live.writes--;
      if (!live.congested || live.writes > 0) return;
      live.congested = false;
      if (!live.coreCongested) return;
      live.coreCongested = false;
      if (this.#live.get(neighbour) === live) this.core.connectionCongested(neighbour, false);
    });
  }
}
