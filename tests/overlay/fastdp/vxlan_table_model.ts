/**
 * A model of a VXLAN device's own forwarding table as the kernel keeps it (drivers/net/vxlan): one
 * destination per unicast MAC, a list per all-zeros MAC; an exclusive add of a present MAC fails with
 * EEXIST, replace overwrites a unicast entry (learned or not), append adds a flood destination once, a delete
 * of a missing entry fails with ENOENT, and learning never overrides a permanent entry. The oracle for
 * fastdp's programming in unit tests; the lab test checks the real kernel against the same expectations.
 *
 * @module
 */
import { type FdbChanges, FLOOD_MAC, type VxlanEntry } from "../../../src/overlay/fastdp/fdb_plan.ts";

/** An error carrying the errno the kernel would answer. */
export class ModelError extends Error {
  /** EEXIST 17, ENOENT 2, EOPNOTSUPP 95. */
  constructor(readonly errno: number, message: string) {
    super(message);
  }
}

/** The table of one device. */
export class VxlanTableModel {
  readonly #macs = new Map<string, { dst: string; state: string }[]>();

  /** The entries, as a dump lists them. */
  entries(): VxlanEntry[] {
    return [...this.#macs].flatMap(([mac, rs]) => rs.map((r) => ({ mac, ...r })));
  }

  /** `bridge fdb add|append|replace MAC dst DST self permanent`. */
  add(mac: string, dst: string, mode: "excl" | "append" | "replace"): void {
    const rs = this.#macs.get(mac);
    const flood = mac === FLOOD_MAC;
    if (rs === undefined) return void this.#macs.set(mac, [{ dst, state: "permanent" }]);
    if (mode === "excl") throw new ModelError(17, `EEXIST ${mac}`);
    if (mode === "replace") {
      if (flood) throw new ModelError(95, "EOPNOTSUPP replace of the all-zeros MAC");
      return void this.#macs.set(mac, [{ dst, state: "permanent" }]);
    }
    if (flood && !rs.some((r) => r.dst === dst)) rs.push({ dst, state: "permanent" });
  }

  /** `bridge fdb del MAC dst DST self`. */
  del(mac: string, dst: string): void {
    const rs = this.#macs.get(mac);
    const i = rs?.findIndex((r) => r.dst === dst) ?? -1;
    if (i < 0) throw new ModelError(2, `ENOENT ${mac} ${dst}`);
    rs!.splice(i, 1);
    if (rs!.length === 0) this.#macs.delete(mac);
  }

  /** The kernel learned `mac` behind `dst` from an arriving frame. */
  learn(mac: string, dst: string): void {
    const rs = this.#macs.get(mac);
    if (rs === undefined) return void this.#macs.set(mac, [{ dst, state: "dynamic" }]);
    if (rs[0].state !== "permanent") rs[0] = { dst, state: "dynamic" };
  }

  /** Applies planned changes the way VxlanDevice.apply does: missing deletions skipped. */
  apply(changes: FdbChanges): void {
    for (const e of changes.del) {
      try {
        this.del(e.mac, e.dst);
      } catch (err) {
        if ((err as ModelError).errno !== 2) throw err;
      }
    }
    for (const e of changes.add) this.add(e.mac, e.dst, e.mac === FLOOD_MAC ? "append" : "replace");
  }
}

/**
 * What the table must hold for `candidates` (peer name → IP) with `fast` on fastdp, as sorted
 * "mac dst" strings of the permanent entries; learned entries are checked separately ({@link learnedOk}).
 */
export function expectedPermanent(candidates: ReadonlyMap<string, string>, fast: Iterable<string>): string[] {
  const floods = new Set([...fast].map((n) => `${FLOOD_MAC} ${candidates.get(n)}`));
  return [...[...candidates].map(([n, ip]) => `${n} ${ip}`), ...floods].sort();
}

/** True when a learned entry may stay: it points at a fastdp host and is not a peer's own MAC. */
export function learnedOk(
  e: VxlanEntry,
  candidates: ReadonlyMap<string, string>,
  fastIps: Set<string>,
): boolean {
  return e.state === "permanent" || (fastIps.has(e.dst) && e.mac !== FLOOD_MAC && !candidates.has(e.mac));
}
