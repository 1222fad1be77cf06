/**
 * The forwarding entries the VXLAN device should hold, and the changes from what it holds: a pure function
 * of the fastdp state, so it is tested without a kernel.
 *
 * Wanted, per candidate peer (fastdp offered by both ends, whatever its heartbeats): a permanent entry for
 * its peer name as a MAC, so heartbeats reach its host even while the pair is on sleeve. Per peer on fastdp:
 * an all-zeros entry (the flood list: broadcast, multicast and unknown unicast go to every fastdp peer once).
 * The kernel learns container MACs behind fastdp peers from the frames they send (learning on); a learned
 * entry that points at a host not on fastdp is stale (the pair fell back) and is deleted, so no unicast goes
 * to VXLAN for a pair that is on sleeve.
 *
 * The changes are idempotent against any table, so fastdp reconciles rather than assumes: a peer's entry is
 * written with replace semantics (whatever the kernel holds for that MAC meanwhile, learned from a heartbeat
 * or left by an earlier host of the peer, it becomes ours), flood destinations with append (a repeat is a
 * no-op), and deleting an entry that is already gone is fine. The kernel table of a VXLAN holds one
 * destination per unicast MAC and a list per all-zeros MAC.
 *
 * @module
 */

/** The all-zeros MAC of the flood list. */
export const FLOOD_MAC = "00:00:00:00:00:00";

/** One entry of the VXLAN device's own table, as far as the plan cares. */
export interface VxlanEntry {
  /** MAC address, lower-case colon form. */
  mac: string;
  /** Remote host (underlay IP). */
  dst: string;
  /** "permanent" for ours; anything else was learned by the kernel. */
  state: string;
}

/** What fastdp wants. */
export interface FdbWanted {
  /** Candidate peers: peer name → underlay IP. */
  candidates: ReadonlyMap<string, string>;
  /** Names of the candidates whose pair is on fastdp. */
  fast: ReadonlySet<string>;
}

/** Entries to delete and to write (write after delete). */
export interface FdbChanges {
  /** Entries to delete, by MAC and destination; one already gone is skipped. */
  del: VxlanEntry[];
  /** Permanent entries to write: a peer's MAC with replace, a flood destination with append. */
  add: VxlanEntry[];
}

/**
 * Plans the changes that turn `current` into the wanted table.
 *
 * @example
 * ```ts
 * const c = planFdb([], { candidates: new Map([["02:00:00:00:00:02", "198.18.0.2"]]), fast: new Set() });
 * // c.add: the heartbeat entry of 02:00:00:00:00:02; no flood entry until the pair is on fastdp
 * ```
 */
export function planFdb(current: readonly VxlanEntry[], wanted: FdbWanted): FdbChanges {
  const want = new Map<string, VxlanEntry>();
  const put = (mac: string, dst: string) => want.set(`${mac} ${dst}`, { mac, dst, state: "permanent" });
  for (const [name, ip] of wanted.candidates) put(name, ip);
  const fastIps = new Set<string>();
  for (const name of wanted.fast) {
    const ip = wanted.candidates.get(name);
    if (ip === undefined) continue;
    fastIps.add(ip);
    put(FLOOD_MAC, ip);
  }
  const have = new Set<string>();
  const del: VxlanEntry[] = [];
  for (const e of current) {
    const key = `${e.mac} ${e.dst}`;
    const ours = e.state === "permanent";
    if (ours && want.has(key)) have.add(key);
    else if (wanted.candidates.has(e.mac)) continue; // its wanted entry replaces it
    else if (ours || e.mac === FLOOD_MAC || !fastIps.has(e.dst)) del.push(e);
  }
  const add = [...want].filter(([k]) => !have.has(k)).map(([, e]) => e);
  return { del, add };
}
