/**
 * Peer identity: the 48-bit peer name (written like a MAC address), generated once and persisted in the
 * data directory, and the 64-bit UID, new at every start so other peers can tell a restarted peer.
 *
 * @module
 */
import type { PeerName } from "../mesh/gossip.ts";
import type { DataDir } from "./data_dir.ts";
import { PEER_NAME } from "../../base/mac.ts";

const NAME_FILE = "peer-name";

/**
 * Checks and normalises a peer name given by the user (`--name`).
 *
 * @throws {Error} when it is not six hex pairs separated by colons
 */
export function parsePeerName(s: string): PeerName {
  const n = s.trim().toLowerCase();
  if (!PEER_NAME.test(n)) {
    throw new Error(`Invalid peer name '${s}': expected six hex pairs like 'ce:31:e0:06:45:1e'`);
  }
  return n;
}

/** A random peer name: locally administered, unicast (the low two bits of the first byte are 1 and 0). */
export function randomPeerName(): PeerName {
  const b = crypto.getRandomValues(new Uint8Array(6));
  b[0] = (b[0] & 0xfc) | 0x02;
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

/**
 * The persisted peer name; `wanted` (from --name) replaces it, otherwise the stored one is used, otherwise a new
 * random one is generated and stored.
 *
 * @throws {Error} when `wanted` or the stored name is malformed
 */
export function loadPeerName(dir: DataDir, wanted?: string): PeerName {
  if (wanted !== undefined) {
    const name = parsePeerName(wanted);
    if (dir.readText(NAME_FILE)?.trim() !== name) dir.write(NAME_FILE, name + "\n");
    return name;
  }
  const stored = dir.readText(NAME_FILE);
  if (stored !== undefined) return parsePeerName(stored);
  const name = randomPeerName();
  dir.write(NAME_FILE, name + "\n");
  return name;
}

/** A fresh random 64-bit UID (new at every daemon start). */
export function randomUid(): bigint {
  const v = new DataView(crypto.getRandomValues(new Uint8Array(8)).buffer);
  return v.getBigUint64(0);
}
