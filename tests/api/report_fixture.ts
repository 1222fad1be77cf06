/** A hand-made router report for tests of the pages built from it (dashboard view, status text). */
import type { PeerReport, Report } from "../../src/client/wire.ts";

/** Three peer names; the report's own peer is {@link A} ("h1"). */
export const A = "aa:00:00:00:00:01", B = "bb:00:00:00:00:02", C = "cc:00:00:00:00:03";

/** A connection as a peer reports it. */
export function conn(name: string, address: string, outbound: boolean, established = true) {
  return { name, address, outbound, established };
}

/** A report of peer A with `peers` and `router` overrides, one ring shared by A and C, no DNS. */
export function report(peers: PeerReport[], router: Partial<Report["router"]> = {}): Report {
  return {
    version: "0.1.0",
    name: A,
    nickname: "h1",
    uid: "1",
    pid: 1,
    startedAt: "2026-01-01T00:00:00.000Z",
    router: {
      protocol: "meshnet 1..1",
      encryption: false,
      peerDiscovery: true,
      connLimit: 200,
      port: 6783,
      targets: [],
      connections: [],
      handshaking: 0,
      peers,
      routes: {},
      terminations: 0,
      ...router,
    },
    ipam: {
      rings: [{
        range: "10.32.0.0/30",
        state: "ready",
        owned: "2",
        free: "1",
        reserve: "0",
        reserveReady: true,
        inUse: 1,
        pending: 0,
        majority: true,
        tokens: [
          { start: "10.32.0.0", end: "10.32.0.1", owner: A, epoch: 0 },
          { start: "10.32.0.2", end: "10.32.0.3", owner: C, epoch: 0 },
        ],
      }],
      exposed: [],
    },
  };
}

/** A gossiped peer. */
export function peer(name: string, nickname: string, connections: PeerReport["connections"]): PeerReport {
  return { name, nickname, uid: "1", version: 1, connections };
}
