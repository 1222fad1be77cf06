/**
 * The router's data plane: the sleeve Worker with its TAP port, and the kernel VXLAN fast datapath
 * (src/overlay/fastdp/), both on the bridge and driven by the mesh.
 *
 * Flow: a connection comes up → the peer's UDP endpoint and session key go to the sleeve, and its underlay
 * address and offered overlays to fastdp → the sleeve's heartbeats are acknowledged → `established` marks
 * the connection established in the topology (routes then use it) → a `lost` event (acknowledgements
 * stopped) closes the connection, which the connection maker redials. Every topology change sends the sleeve
 * the new unicast and broadcast route tables. Packets never touch the main thread: the Worker owns the TAP
 * and the UDP socket, the kernel moves fastdp frames.
 *
 * Every frame takes exactly one path per peer pair:
 * - `vxlan-6784` (UDP 6784, one VNI) and the TAP are isolated bridge ports: they never forward to each
 *   other, container ports reach both. A frame that arrived by VXLAN is therefore never relayed by the
 *   sleeve, and a frame from the sleeve never leaves by VXLAN. VXLAN frames are never relayed at all, so
 *   multi-hop destinations are the sleeve's: relaying stays there.
 * - The VXLAN flood list (all-zeros entries) holds the peers on fastdp only; the kernel learns which host
 *   each remote MAC lives behind from the frames that arrive (learning on), and fastdp deletes learned
 *   entries pointing at a host that is not on fastdp (fdb_plan.ts).
 * - The sleeve is told the fastdp peers (`setFastPeers`): frames from the bridge to a MAC behind one of them
 *   are left to VXLAN, and a local flood goes as one copy to every other reachable peer, so each peer gets
 *   every broadcast exactly once, by VXLAN or by sleeve, also when some pairs are fastdp and others sleeve.
 * - On a switch the bridge forgets what it learned on the port the pair left, so conversations follow at
 *   once instead of after the bridge's ageing time; a MAC it learns on the sleeve's port later, from frames
 *   a peer sent before its own end switched, is forgotten when the sleeve reports a frame for it
 *   (`leftToFastdp`).
 * Fastdp needs no password (this kernel has no IPsec ESP), both ends offering "fastdp" in the handshake, an
 * IPv4 underlay, and heartbeats: frames of the full overlay MTU through VXLAN, acked the same size, every
 * 500 ms until the pair is on fastdp, then every 2 s (slower with over 20 pairs on fastdp); 2 acks in a row
 * put a pair on fastdp, 3 heartbeats unanswered in a row (2 s after the first; the reference waits 60 s) put
 * it back on sleeve, and the sleeve link, which heartbeats every 10 s while the pair is on fastdp,
 * heartbeats every second again. The
 * overlay MTU is the underlay's less 50 unless --mtu is given, so no frame is dropped for size; a pair on
 * sleeve answers too-big frames with ICMP "fragmentation needed" (sleeve PMTU discovery).
 *
 * @module
 */
import { linkSet } from "../../ffi/netlink/link.ts";
import type { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { logger } from "../log.ts";
import type { PeerName } from "../mesh/gossip.ts";
import { FastDp } from "../overlay/fastdp/fastdp.ts";
import { overlayMtuFromUnderlay } from "../overlay/fastdp/underlay_mtu.ts";
import { agreedCipher } from "../overlay/sleeve/cipher.ts";
import { PARTIAL_CHECKSUMS } from "../overlay/sleeve/constants.ts";
import { type RouteTables, sameRouteTables } from "../overlay/sleeve/forwarder.ts";
import type { SleeveStats } from "../overlay/sleeve/sleeve.ts";
import { SleeveWorker } from "../overlay/sleeve/sleeve_worker.ts";
import type { RouterConfig } from "./config.ts";
import type { MeshTransport } from "./mesh_transport.ts";

const log = logger("dataplane");

/** The TAP device that joins the sleeve to the bridge. */
export const SLEEVE_TAP = "weave-tap";

/**
 * The overlay MTU to use: --mtu when given; with fastdp possible (not --no-fastdp, no password), the
 * underlay's MTU less the VXLAN overhead; else the configured default.
 */
export function overlayMtu(nl: NetlinkSocket, config: RouterConfig): number {
  if (!config.mtuFromUnderlay || !config.fastdp || config.password !== undefined) return config.mtu;
  return overlayMtuFromUnderlay(nl, config.bridge) ?? config.mtu;
}

/**
 * Runs one event handler so that its failure is logged with the peer (or MAC) it was for and goes no
 * further: an event from the network never ends the router, nor stops the handlers after it.
 */
function isolated(what: string, peer: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.error(`Handling ${what} failed`, { peer, error: (err as Error).message });
  }
}

/** The sleeve and fastdp of one router. */
export class DataPlane {
  readonly #sleeve: SleeveWorker;
  readonly #fastdp: FastDp;
  /** The route tables last given to the Worker. */
  #routesSent?: RouteTables;

  /** Wraps a started sleeve and fastdp; use {@link DataPlane.start}. */
  constructor(sleeve: SleeveWorker, fastdp: FastDp) {
    this.#sleeve = sleeve;
    this.#fastdp = fastdp;
  }

  /**
   * Starts the sleeve Worker, plugs its TAP into the bridge, adds the VXLAN device (unless fastdp is off or
   * the mesh encrypted; when it cannot be made, connections stay on sleeve and say why), and wires both to
   * the mesh. Call before the mesh starts: it sets the overlays the handshake offers.
   *
   * @throws {Error} when the TAP or the UDP port cannot be opened, naming them
   */
  static async start(
    config: RouterConfig,
    us: PeerName,
    nl: NetlinkSocket,
    mesh: MeshTransport,
  ): Promise<DataPlane> {
    // Set once fastdp exists (after the sleeve: its TAP must be on the bridge first); no peer is fastdp before.
    let leftToFastdp = (_mac: string, _peer: PeerName): void => {};
    const sleeve = await SleeveWorker.start({
      us,
      tapName: SLEEVE_TAP,
      mtu: config.mtu,
      offload: config.offload,
      host: config.host,
      port: config.port,
      onEvent: (e) =>
        isolated(`sleeve ${e.type} event`, "peer" in e ? e.peer : e.mac, () => {
          if (e.type === "established") mesh.established(e.peer);
          else if (e.type === "lost") {
            mesh.close(
              e.peer,
              `UDP heartbeats stopped being acknowledged (none for ${(e.silentMs / 1000).toFixed(1)} s, ` +
                `${
                  e.quiet ? "pair on fastdp" : "pair on the sleeve"
                }); check that UDP port is open between the hosts`,
            );
          } else if (e.type === "mtu") log.info("Path MTU verified", { peer: e.peer, mtu: e.mtu });
          else if (e.type === "leftToFastdp") leftToFastdp(e.mac, e.peer);
          else log.debug("MAC moved", { mac: e.mac, from: e.from, to: e.to });
        }),
      onError: (err) => log.error("Sleeve error", { error: err.message }),
    });
    sleeve.done.catch((err) => log.error("Sleeve data plane stopped", { error: (err as Error).message }));
    try {
      linkSet(nl, sleeve.tapName, { master: config.bridge, mtu: config.mtu, up: true });
    } catch (err) {
      await sleeve.stop();
      throw err;
    }
    const fastdp = FastDp.open(nl, {
      us,
      mtu: config.mtu,
      enabled: config.fastdp,
      encrypted: config.password !== undefined,
      bridge: config.bridge,
      tap: sleeve.tapName,
      onChange: (fast) => {
        sleeve.setFastPeers(fast);
        log.info("Fastdp peers changed", { fastdp: fast });
      },
    });
    leftToFastdp = (mac, peer) => fastdp.leftToFastdp(mac, peer);
    mesh.overlays = fastdp.overlays;
    mesh.ciphers = sleeve.ciphers;
    mesh.offloads = sleeve.offloads;
    const plane = new DataPlane(sleeve, fastdp);
    mesh.onConnection((e) => {
      // The sleeve and fastdp each on their own: one failing leaves the other's state right.
      if (e.type === "up") {
        isolated("sleeve peer up", e.name, () =>
          sleeve.setPeer(e.name, {
            endpoint: { address: e.host, port: e.port },
            sessionKey: e.sessionKey ?? undefined,
            outbound: e.outbound,
            cipher: agreedCipher(sleeve.ciphers, e.ciphers),
            partialChecksums: e.offloads.includes(PARTIAL_CHECKSUMS),
          }));
        isolated("fastdp peer up", e.name, () => fastdp.peerUp(e.name, e.host, e.overlays));
      } else {
        isolated("fastdp peer down", e.name, () => fastdp.peerDown(e.name));
        isolated("sleeve peer down", e.name, () => sleeve.removePeer(e.name));
      }
    });
    mesh.core.onTopologyChange(() => isolated("route update", "all", () => plane.#routes(mesh)));
    log.info("Data plane started", {
      tap: sleeve.tapName,
      port: sleeve.port,
      crypto: sleeve.crypto,
      mtu: config.mtu,
      overlays: fastdp.overlays,
    });
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

  /** The overlay of the connection to `peer`: `fastdp`, or `sleeve (why it is not fastdp)`. */
  overlay(peer: PeerName): string {
    return this.#fastdp.overlay(peer);
  }

  /** `fastdp` or `sleeve`, for metric labels. */
  overlayType(peer: PeerName): "fastdp" | "sleeve" {
    return this.#fastdp.overlayType(peer);
  }

  /** Deletes the VXLAN device and stops the Worker (the TAP goes with it). */
  stop(): Promise<void> {
    this.#fastdp.stop();
    return this.#sleeve.stop();
  }

  /** Gives the Worker the data-plane routes when they changed (most topology changes leave them as they are). */
  #routes(mesh: MeshTransport): void {
    const tables = mesh.core.dataPlaneRoutes();
    if (this.#routesSent !== undefined && sameRouteTables(tables, this.#routesSent)) return;
    this.#sleeve.setRoutes(tables);
    this.#routesSent = tables;
  }
}
