/**
 * The VXLAN device `vxlan-6784` on the bridge and its forwarding tables, through netlink FFI.
 *
 * The device is an isolated bridge port (so is the sleeve's TAP): isolated ports never forward to each
 * other, container ports reach both, so a frame that came in by VXLAN is never handed to the sleeve (and
 * relayed a second time), nor a frame from the sleeve sent out by VXLAN.
 *
 * @module
 */
import { linkAdd, linkDel, linkList, linkSet, linkSetBridgePort } from "../../../ffi/netlink/link.ts";
import { fdbAdd, fdbDel, fdbList } from "../../../ffi/netlink/neigh.ts";
import { NetlinkError, type NetlinkSocket } from "../../../ffi/netlink/socket.ts";
import { VXLAN_DEVICE, VXLAN_PORT, VXLAN_VNI } from "./constants.ts";
import { type FdbChanges, FLOOD_MAC, type VxlanEntry } from "./fdb_plan.ts";

/** The VXLAN device of one router. */
export class VxlanDevice {
  /** Its interface index. */
  readonly index: number;
  readonly #nl: NetlinkSocket;

  private constructor(nl: NetlinkSocket, index: number) {
    this.#nl = nl;
    this.index = index;
  }

  /**
   * Makes the device afresh (a leftover from an earlier run is deleted first, with its entries), enslaves it
   * to `bridge` as an isolated port, sets `mtu` and brings it up.
   *
   * @throws {NetlinkError} when the device cannot be made, e.g. EADDRINUSE when UDP 6784 is taken
   */
  static create(nl: NetlinkSocket, bridge: string, mtu: number): VxlanDevice {
    if (linkList(nl).some((l) => l.name === VXLAN_DEVICE)) linkDel(nl, VXLAN_DEVICE);
    const link = linkAdd(nl, {
      kind: "vxlan",
      name: VXLAN_DEVICE,
      id: VXLAN_VNI,
      port: VXLAN_PORT,
      learning: true,
      mtu,
      master: bridge,
    });
    try {
      linkSetBridgePort(nl, VXLAN_DEVICE, { isolated: true, learning: true, hairpin: false });
    } catch (err) {
      linkDel(nl, VXLAN_DEVICE);
      throw err;
    }
    return new VxlanDevice(nl, link.index);
  }

  /**
   * Makes `tap` (the sleeve's port) an isolated bridge port too, and gives the bridge a local entry for our
   * peer name as a MAC, so heartbeats addressed to us end at the host instead of flooding the containers.
   *
   * @throws {NetlinkError} naming the link when it is not a bridge port
   */
  isolate(tap: string, bridge: string, us: string): void {
    linkSetBridgePort(this.#nl, tap, { isolated: true });
    fdbAdd(this.#nl, { link: bridge, mac: us, replace: true });
  }

  /** Brings the device up; before the heartbeat socket binds to it (binding to a down device reports ENETDOWN). */
  up(): void {
    linkSet(this.#nl, this.index, { up: true });
  }

  /** The device's own forwarding entries that have a remote host. */
  entries(): VxlanEntry[] {
    return fdbList(this.#nl, { link: this.index })
      .filter((e) => e.self && e.dst !== undefined)
      .map((e) => ({ mac: e.mac, dst: e.dst!, state: e.state }));
  }

  /**
   * Applies planned changes (fdb_plan.ts): deletions, then permanent entries, idempotently: a peer's MAC is
   * written with replace (an entry the kernel learned meanwhile is overwritten, never EEXIST), a flood
   * destination with append (a repeat is a no-op), and entries that vanished meanwhile (aged out) are skipped.
   *
   * @throws {NetlinkError} naming the entry when the kernel refuses one for another reason (e.g. ENODEV)
   */
  apply(changes: FdbChanges): void {
    for (const e of changes.del) {
      try {
        fdbDel(this.#nl, { link: this.index, mac: e.mac, dst: e.dst });
      } catch (err) {
        if (!isGone(err)) throw err;
      }
    }
    for (const e of changes.add) {
      const flood = e.mac === FLOOD_MAC;
      fdbAdd(this.#nl, { link: this.index, mac: e.mac, dst: e.dst, append: flood, replace: !flood });
    }
  }

  /**
   * Forgets what the bridge learned on `port` (dynamic entries only), so the next frames to those MACs flood
   * and the bridge learns where they live now: on a pair's switch between fastdp and sleeve.
   *
   * @returns how many entries were deleted
   */
  forgetLearned(port: string | number): number {
    let n = 0;
    for (const e of fdbList(this.#nl, { link: port })) {
      if (e.master === undefined || e.state !== "dynamic") continue;
      if (this.forgetMac(port, e.mac)) n++;
    }
    return n;
  }

  /**
   * Forgets what the bridge holds for `mac` on `port`, so its frames flood until the bridge learns it anew.
   *
   * @returns true when there was an entry
   */
  forgetMac(port: string | number, mac: string): boolean {
    try {
      fdbDel(this.#nl, { link: port, mac, master: true });
      return true;
    } catch (err) {
      if (isGone(err)) return false;
      throw err;
    }
  }

  /** Deletes the device and its entries. */
  remove(): void {
    linkDel(this.#nl, this.index);
  }
}

/** ENOENT: the entry aged out or was deleted meanwhile. */
function isGone(err: unknown): boolean {
  return err instanceof NetlinkError && err.errno === 2;
}
