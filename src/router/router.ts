/**
 * The router: one per host, wiring the subsystems (mesh now; sleeve, IPAM and DNS as they land) and
 * answering what the API asks of them.
 *
 * @module
 */
import type { PeerName } from "../mesh/gossip.ts";
import { VERSION } from "../version.ts";
import type { RouterConfig } from "./config.ts";
import type { DataDir } from "./data_dir.ts";
import { loadPeerName, randomUid } from "./peer_name.ts";

/** The full state of the router as served by `GET /report`. */
export interface Report {
  /** meshnet version. */
  version: string;
  /** Our peer name. */
  name: PeerName;
  /** Our nickname. */
  nickname: string;
  /** This run's UID (decimal). */
  uid: string;
  /** Process id of the daemon. */
  pid: number;
  /** Start time, ISO 8601. */
  startedAt: string;
  /** Whether control messages are encrypted. */
  encryption: boolean;
}

/** The router of one host. */
export class Router {
  /** Validated configuration. */
  readonly config: RouterConfig;
  /** The data directory. */
  readonly dir: DataDir;
  /** Our peer name (persisted). */
  readonly name: PeerName;
  /** This run's UID. */
  readonly uid: bigint;
  /** When this run started. */
  readonly startedAt = new Date();

  /** Loads identity from the data directory; starts nothing yet. */
  constructor(config: RouterConfig, dir: DataDir) {
    this.config = config;
    this.dir = dir;
    this.name = loadPeerName(dir, config.name);
    this.uid = randomUid();
  }

  /** Starts the subsystems. */
  async start(): Promise<void> {}

  /** Stops the subsystems, closing every connection. */
  async stop(): Promise<void> {}

  /** The full state as JSON-ready data. */
  report(): Report {
    return {
      version: VERSION,
      name: this.name,
      nickname: this.config.nickname,
      uid: this.uid.toString(),
      pid: Deno.pid,
      startedAt: this.startedAt.toISOString(),
      encryption: this.config.password !== undefined,
    };
  }
}
