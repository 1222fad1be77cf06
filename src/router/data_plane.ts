/**
 * The router's data plane: the sleeve Worker and its TAP port on the bridge, driven by the mesh.
 *
 * Flow: a connection comes up → the peer's UDP endpoint and session key go to the sleeve → the sleeve's
 * heartbeats are acknowledged → `established` marks the connection established in the topology (routes
 * then use it) → a `lost` event (acknowledgements stopped) closes the connection, which the connection
 * maker redials. Every topology change sends the sleeve the new unicast and broadcast route tables. Packets
 * never touch the main thread: the Worker owns the TAP and the UDP socket.
 *
 * @module
 */
import { linkSet } from "../../ffi/netlink/link.ts";
import type { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { logger } from "../log.ts";
import type { PeerName } from "../mesh/gossip.ts";
import type { SleeveStats } from "../overlay/sleeve/sleeve.ts";
import { SleeveWorker } from "../overlay/sleeve/sleeve_worker.ts";
import type { RouterConfig } from "./config.ts";
import type { MeshTransport } from "./mesh_transport.ts";

const log = logger("sleeve");

/** The TAP device that joins the sleeve to the bridge. */
export const SLEEVE_TAP = "weave-tap";

/** The sleeve of one router. */
export class DataPlane {
  readonly #sleeve: SleeveWorker;

  /** Wraps a started sleeve; use {@link DataPlane.start}. */
  constructor(sleeve: SleeveWorker) {
    this.#sleeve = sleeve;
  }

  /**
   * Starts the sleeve Worker, plugs its TAP into the bridge, and wires it to the mesh.
   *
   * @throws {Error} when the TAP or the UDP port cannot be opened, naming them
   */
  static async start(
    config: RouterConfig,
    us: PeerName,
    nl: NetlinkSocket,
    mesh: MeshTransport,
  ): Promise<DataPlane> {
    const sleeve = await SleeveWorker.start({
      us,
      tapName: SLEEVE_TAP,
      mtu: config.mtu,
      host: config.host,
      port: config.port,
      onEvent: (e) => {
        if (e.type === "established") mesh.established(e.peer);
        else if (e.type === "lost") {
          mesh.close(
            e.peer,
            "UDP heartbeats stopped being acknowledged; check that UDP port is open between the hosts",
          );
        } else if (e.type === "mtu") log.info("Path MTU verified", { peer: e.peer, mtu: e.mtu });
        else log.debug("MAC moved", { mac: e.mac, from: e.from, to: e.to });
      },
      onError: (err) => log.error("Sleeve error", { error: err.message }),
    });
    sleeve.done.catch((err) => log.error("Sleeve data plane stopped", { error: (err as Error).message }));
    try {
      linkSet(nl, sleeve.tapName, { master: config.bridge, mtu: config.mtu, up: true });
    } catch (err) {
      await sleeve.stop();
      throw err;
    }
    const plane = new DataPlane(sleeve);
    mesh.onConnection((e) => {
      if (e.type === "up") {
        sleeve.setPeer(e.name, {
          endpoint: { address: e.host, port: e.port },
          sessionKey: e.sessionKey ?? undefined,
          outbound: e.outbound,
        });
      } else sleeve.removePeer(e.name);
    });
    mesh.core.onTopologyChange(() => plane.#routes(mesh));
    log.info("Sleeve started", { tap: sleeve.tapName, port: sleeve.port, crypto: sleeve.crypto });
    return plane;
  }

  /** The sleeve's counters and per-link state. */
  stats(): Promise<SleeveStats> {
    return this.#sleeve.stats();
  }

  /** Which secretbox implementation seals datagrams: `libsodium` or `tweetnacl`. */
  get crypto(): string {
    return this.#sleeve.crypto;
  }

  /** Stops the Worker (the TAP goes with it). */
  stop(): Promise<void> {
    return this.#sleeve.stop();
  }

  #routes(mesh: MeshTransport): void {
    const r = mesh.core.routes();
    this.#sleeve.setRoutes({
      unicast: new Map(Object.entries(r.unicast)),
      broadcast: new Map(Object.entries(r.broadcast)),
    });
  }
}
