/**
 * The containers this router attached: the kernel work is src/netdev/attach.ts; this keeps the record
 * (container id, namespace, label, addresses) in the data directory with crash-safe writes, so `ps` and a
 * restarted router know what is attached, also containers attached by PID or path.
 *
 * @module
 */
import type { NetlinkSocket } from "../../ffi/netlink/socket.ts";
import { attachContainer, detachContainer, listAttached } from "../netdev/attach.ts";
import { UsageError } from "../errors.ts";
import { parseCIDR } from "../net/ip.ts";
import { type Container, resolveContainer } from "../runtime/container.ts";
import type { DataDir } from "./data_dir.ts";

const FILE = "attachments.json";

/** One attached container as `meshnet ps` shows it. */
export interface Attachment {
  /** Stable container id. */
  id: string;
  /** Label for people, e.g. "c1" or "pid 1234". */
  label: string;
  /** Its network namespace file. */
  netnsPath: string;
  /** The host end of its veth. */
  hostIfname: string;
  /** MAC of its interface. */
  mac: string;
  /** Its addresses, CIDR. */
  addresses: string[];
}

/** Settings shared by every attach. */
export interface AttachmentsOptions {
  /** Bridge to plug containers into. */
  bridge: string;
  /** MTU of container interfaces. */
  mtu: number;
  /** Our peer name, mixed into container MACs so equal ids on two hosts differ. */
  peerName: string;
}

/** The attach/detach/ps service of one router. */
export class Attachments {
  #dir: DataDir;
  #nl: NetlinkSocket;
  #opts: AttachmentsOptions;
  #records: Map<string, Attachment>;

  /** Loads the record from the data directory. */
  constructor(dir: DataDir, nl: NetlinkSocket, opts: AttachmentsOptions) {
    this.#dir = dir;
    this.#nl = nl;
    this.#opts = opts;
    this.#records = new Map((dir.readJSON<Attachment[]>(FILE) ?? []).map((a) => [a.id, a]));
  }

  /**
   * Attaches `ref` (netns name, path or PID) with `cidrs`, or adds them to its interface.
   *
   * @throws {UsageError} for a malformed CIDR or no address
   * @throws {Error} naming the container when it is unknown or the kernel refuses
   */
  async attach(ref: string, cidrs: string[]): Promise<Attachment> {
    if (cidrs.length === 0) {
      throw new UsageError(`Cannot attach ${ref}: give at least one address, e.g. 10.32.1.5/12`);
    }
    for (const c of cidrs) {
      try {
        parseCIDR(c);
      } catch (err) {
        throw new UsageError(`Cannot attach ${ref}: ${(err as Error).message}`);
      }
    }
    const container = await resolveContainer(ref, { action: "attach" });
    const r = attachContainer(this.#nl, {
      container,
      bridge: this.#opts.bridge,
      addresses: cidrs,
      mtu: this.#opts.mtu,
      macSeed: this.#opts.peerName,
    });
    const before = this.#records.get(container.id);
    const a: Attachment = {
      id: container.id,
      label: container.label,
      netnsPath: container.netnsPath,
      hostIfname: r.hostIfname,
      mac: r.mac,
      addresses: [...(r.created ? [] : before?.addresses ?? []), ...r.added],
    };
    this.#records.set(a.id, a);
    this.#save();
    return a;
  }

  /**
   * Removes `cidrs` from `ref`'s interface, or the whole interface when none are given or none are left.
   *
   * @returns the addresses removed
   * @throws {Error} naming the container when it is unknown or not attached
   */
  async detach(ref: string, cidrs: string[]): Promise<string[]> {
    const container = await resolveContainer(ref, { action: "detach" });
    const r = detachContainer({ container, addresses: cidrs });
    const a = this.#records.get(container.id);
    if (r.interfaceRemoved) this.#records.delete(container.id);
    else if (a) a.addresses = a.addresses.filter((x) => !r.removed.includes(x));
    this.#save();
    return r.removed;
  }

  /** The attached containers, from the kernel's view of the bridge, matched with the record. */
  list(): Attachment[] {
    const known: Container[] = [...this.#records.values()].map(({ id, label, netnsPath }) => ({
      id,
      label,
      netnsPath,
    }));
    const out: Attachment[] = [];
    for (const port of listAttached(this.#nl, this.#opts.bridge, { containers: known })) {
      if (!port.container) continue;
      out.push({
        id: port.container.id,
        label: port.container.label,
        netnsPath: port.container.netnsPath,
        hostIfname: port.hostIfname,
        mac: port.mac ?? "",
        addresses: port.addresses,
      });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  #save(): void {
    this.#dir.writeJSON(FILE, [...this.#records.values()]);
  }
}
