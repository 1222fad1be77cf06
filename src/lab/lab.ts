/**
 * A lab: N virtual hosts on this machine, each a network namespace joined to one underlay LAN, with M
 * container namespaces per host. Tests, benchmarks and `meshnet lab` use it.
 *
 * ```
 *            <prefix>lan: br0 ── nftables table "lab" (topology, cut, loss)
 *          h1 ┘  h2 ┘  …  hN ┘          (veth ends, bridge ports)
 *   <prefix>h1 eth0 198.18.0.1/15   <prefix>h2 eth0 198.18.0.2/15   …
 *   <prefix>h1c1 … h1cM (lo only)   <prefix>h2c1 … h2cM              …
 * ```
 *
 * Flow: {@link Lab.up} builds everything with `ip` and `nft` (never touching the root namespace) and writes
 * the state file; `exec`, `spawn`, `cut`, `heal`, `loss` and `fragments` act on it; {@link Lab.down} kills the spawned
 * processes and everything else in the namespaces, then deletes them. Containers get no links: meshnet's
 * `attach` wires them. A Lab object is not safe for concurrent rule changes from several tasks.
 *
 * @module
 */
import { UsageError } from "../../base/errors.ts";
import {
  DEFAULT_PREFIX,
  HOST_UPLINK,
  LAN_BRIDGE,
  MAX_CONTAINERS,
  MAX_HOSTS,
  NFT_TABLE,
} from "./constants.ts";
import { checkPrefix, containerNs, hostNs, type LabName, lanNs, resolveName } from "./names.ts";
import { labNamespaces, removeLab } from "./namespaces.ts";
import { FRAGMENT_COUNTER, lanPort, renderRuleset } from "./ruleset.ts";
import { mustRun, runCommand, type RunResult } from "./runner.ts";
import { type HostPair, type LabState, readState, statePath, writeState } from "./state.ts";
import { parseTopology, peersOf, type Topology } from "./topology.ts";
import { hostAddress, hostMac, UNDERLAY_PREFIX_LENGTH } from "./underlay.ts";

/** What {@link Lab.up} builds. */
export interface LabOptions {
  /** Name prefix of every object, e.g. `mnlab-` (see {@link checkPrefix}). Default `mnlab-`. */
  prefix?: string;
  /** Number of hosts, 1–{@link MAX_HOSTS}. Default 2. */
  hosts?: number;
  /** Container namespaces per host, 0–{@link MAX_CONTAINERS}. Default 0. */
  containers?: number;
  /** Which hosts reach each other. Default `full`. */
  topology?: Topology;
}

/** One host of a lab. */
export interface LabHost {
  /** Host number, from 1. */
  number: number;
  /** Short name, e.g. `h1`. */
  name: string;
  /** Network namespace, e.g. `mnlab-h1`. */
  ns: string;
  /** Underlay address (on `eth0`), e.g. `198.18.0.1`. */
  address: string;
  /** Its container namespaces, e.g. `["mnlab-h1c1", "mnlab-h1c2"]`. */
  containers: string[];
}

/** Where the standard streams of {@link Lab.spawn} go; each defaults to `"null"`. */
export interface SpawnOptions {
  /** stdin of the process. */
  stdin?: "piped" | "inherit" | "null";
  /** stdout of the process. */
  stdout?: "piped" | "inherit" | "null";
  /** stderr of the process. */
  stderr?: "piped" | "inherit" | "null";
}

function checkCount(n: number, what: string, min: number, max: number): number {
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`Invalid ${what} '${n}': use a whole number from ${min} to ${max}`);
  }
  return n;
}

/** A running lab. Build one with {@link Lab.up} or attach to an existing one with {@link Lab.open}. */
export class Lab {
  #state: LabState;
  #children = new Map<Deno.ChildProcess, SpawnOptions>();

  /** Wraps a state; use {@link Lab.up} or {@link Lab.open} instead. */
  constructor(state: LabState) {
    this.#state = state;
  }

  /**
   * Builds a lab. When a step fails, whatever was built is removed again before the error is thrown.
   *
   * @throws {UsageError} on a bad prefix, count or topology
   * @throws {Error} when a lab with this prefix already exists (`run 'meshnet lab down --prefix P' first`),
   *   or when `ip` or `nft` fails
   * @example
   * ```ts
   * const lab = await Lab.up({ prefix: "mnt1a2b-", hosts: 3, containers: 2, topology: "line" });
   * try {
   *   await lab.exec("h1", ["ping", "-c1", lab.peersOf("h1")[0].address]);
   * } finally {
   *   await lab.down();
   * }
   * ```
   */
  static async up(options: LabOptions = {}): Promise<Lab> {
    const state: LabState = {
      prefix: checkPrefix(options.prefix ?? DEFAULT_PREFIX),
      hosts: checkCount(options.hosts ?? 2, "host count", 1, MAX_HOSTS),
      containers: checkCount(options.containers ?? 0, "container count", 0, MAX_CONTAINERS),
      topology: parseTopology(options.topology ?? "full"),
      cuts: [],
      losses: [],
    };
    const { prefix } = state;
    const inUse = (ns: string) =>
      new Error(
        `Lab '${prefix}' already exists (namespace '${ns}'); run 'meshnet lab down --prefix ${prefix}' first`,
      );
    const existing = await labNamespaces(prefix);
    if (existing.length > 0) throw inUse(existing[0]);
    // Creating the LAN namespace (O_EXCL in iproute2) claims the prefix: of two racing `up`s, the loser
    // stops here and must not clean up the winner's lab.
    const claim = await runCommand(["ip", "netns", "add", lanNs(prefix)]);
    if (claim.code !== 0) {
      if (/exists/i.test(claim.stderr)) throw inUse(lanNs(prefix));
      throw new Error(`Cannot create namespace '${lanNs(prefix)}': ${claim.stderr.trim()}; run as root`);
    }
    const lab = new Lab(state);
    try {
      await lab.#build();
    } catch (err) {
      await removeLab(prefix);
      throw err;
    }
    return lab;
  }

  /**
   * Attaches to the lab with `prefix` that an earlier {@link Lab.up} (maybe in another process) built.
   *
   * @throws {Error} `No lab 'P': …` when it has no state file or no LAN namespace
   */
  static async open(prefix: string): Promise<Lab> {
    checkPrefix(prefix);
    const state = await readState(prefix);
    const live = await labNamespaces(prefix);
    if (!state || !live.includes(lanNs(prefix))) {
      throw new Error(
        `No lab '${prefix}': ${
          state ? `namespace '${lanNs(prefix)}' is missing` : `no state file '${statePath(prefix)}'`
        }; run 'meshnet lab up --prefix ${prefix}'${live.length ? " after 'meshnet lab down'" : ""}`,
      );
    }
    return new Lab(state);
  }

  async #build(): Promise<void> {
    const { prefix, hosts, containers } = this.#state;
    const lan = lanNs(prefix);
    const all = this.hosts.flatMap((h) => [h.ns, ...h.containers]);
    await mustRun(["ip", "-batch", "-"], all.map((ns) => `netns add ${ns}\n`).join(""));
    const lanScript = [`link add ${LAN_BRIDGE} type bridge`, `link set ${LAN_BRIDGE} up`, `link set lo up`];
    for (let i = 1; i <= hosts; i++) {
      lanScript.push(
        `link add ${lanPort(i)} type veth peer name ${HOST_UPLINK} address ${hostMac(i)} netns ${
          hostNs(prefix, i)
        }`,
        `link set ${lanPort(i)} master ${LAN_BRIDGE} up`,
      );
    }
    await batchIn(lan, lanScript);
    // Every host knows every other's MAC as a permanent neighbour: the kernel's ARP table is one for all
    // namespaces and holds 1024 resolved entries by default (gc_thresh3), which a 40-host full mesh (1560)
    // overflows ("neighbor table overflow", dials never answered); permanent entries do not count.
    await Promise.all(this.hosts.map((h) =>
      batchIn(h.ns, [
        `link set lo up`,
        `addr add ${h.address}/${UNDERLAY_PREFIX_LENGTH} dev ${HOST_UPLINK}`,
        `link set ${HOST_UPLINK} up`,
        ...this.hosts.filter((o) => o.number !== h.number).map((o) =>
          `neigh replace ${o.address} lladdr ${hostMac(o.number)} dev ${HOST_UPLINK} nud permanent`
        ),
      ])
    ));
    if (containers > 0) {
      await Promise.all(this.hosts.flatMap((h) => h.containers).map((ns) => batchIn(ns, ["link set lo up"])));
    }
    await this.#apply();
  }

  /** Writes the state file and replaces the nftables table in the LAN namespace with one rendered from it. */
  async #apply(): Promise<void> {
    await writeState(this.#state);
    await mustRun(["ip", "netns", "exec", lanNs(this.prefix), "nft", "-f", "-"], renderRuleset(this.#state));
  }

  /** The name prefix of this lab's objects. */
  get prefix(): string {
    return this.#state.prefix;
  }

  /** The topology the lab was built with. */
  get topology(): Topology {
    return this.#state.topology;
  }

  /** A copy of the lab's state (hosts, containers, topology, cuts, losses). */
  get state(): LabState {
    return structuredClone(this.#state);
  }

  /** The hosts, in order h1, h2, …. */
  get hosts(): LabHost[] {
    const { prefix, hosts, containers } = this.#state;
    return Array.from({ length: hosts }, (_, k) => {
      const n = k + 1;
      return {
        number: n,
        name: `h${n}`,
        ns: hostNs(prefix, n),
        address: hostAddress(n),
        containers: Array.from({ length: containers }, (_, j) => containerNs(prefix, n, j + 1)),
      };
    });
  }

  /** Resolves a name (`lan`, `h2`, `h2c1`, or the full namespace name) and checks it exists in this lab. */
  #resolve(name: string | number): LabName {
    const parsed = resolveName(this.prefix, typeof name === "number" ? `h${name}` : name);
    const { hosts, containers } = this.#state;
    if ((parsed.host ?? 0) > hosts || (parsed.container ?? 0) > containers) {
      const range = containers > 0 ? `h1..h${hosts}, h1c1..h${hosts}c${containers}` : `h1..h${hosts}`;
      throw new UsageError(`No such lab namespace '${name}' in lab '${this.prefix}': use lan, ${range}`);
    }
    return parsed;
  }

  /**
   * One host, by number (1-based) or name (`h2`, `mnlab-h2`).
   *
   * @throws {UsageError} when `host` names no host of this lab
   */
  host(host: number | string): LabHost {
    const parsed = this.#resolve(host);
    if (parsed.host === undefined || parsed.container !== undefined) {
      throw new UsageError(`Invalid host '${host}': use a host name like h1 (not a container or lan)`);
    }
    return this.hosts[parsed.host - 1];
  }

  /**
   * The full namespace name of `name` (`lan`, `h2`, `h2c1` or already full).
   *
   * @throws {UsageError} when `name` names nothing in this lab
   */
  ns(name: string): string {
    return this.prefix + this.#resolve(name).short;
  }

  /** The container namespaces of `host`, e.g. `["mnlab-h1c1", "mnlab-h1c2"]`. */
  containersOf(host: number | string): string[] {
    return this.host(host).containers;
  }

  /**
   * The hosts that `host` should be told about when meshnet is launched on it: all others for `full`,
   * the neighbours for `line`, the hub (or, for the hub, every leaf) for `star`. Cuts do not change it.
   */
  peersOf(host: number | string): LabHost[] {
    const { topology, hosts } = this.#state;
    return peersOf(topology, hosts, this.host(host).number).map((n) => this.hosts[n - 1]);
  }

  /**
   * Runs `cmd` inside namespace `name` (`lan`, `h1`, `h1c2` or the full name) to completion.
   *
   * @throws {UsageError} when `name` names nothing in this lab
   * @example
   * ```ts
   * const r = await lab.exec("h1", ["ping", "-c1", "-W1", "198.18.0.2"]);
   * if (r.code !== 0) console.log(r.stdout);
   * ```
   */
  exec(name: string, cmd: string[]): Promise<RunResult> {
    return runCommand(["ip", "netns", "exec", this.ns(name), ...cmd]);
  }

  /**
   * Starts `cmd` inside namespace `name` and tracks it: {@link Lab.down} kills it and closes its pipes.
   *
   * @throws {UsageError} when `name` names nothing in this lab
   */
  spawn(name: string, cmd: string[], options: SpawnOptions = {}): Deno.ChildProcess {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", this.ns(name), ...cmd],
      stdin: options.stdin ?? "null",
      stdout: options.stdout ?? "null",
      stderr: options.stderr ?? "null",
    }).spawn();
    this.#children.set(child, options);
    child.status.then(() => this.#children.delete(child));
    return child;
  }

  #pair(a: number | string, b: number | string, verb: string): HostPair {
    const [x, y] = [this.host(a).number, this.host(b).number];
    if (x === y) throw new UsageError(`Cannot ${verb} host '${a}' and itself: name two different hosts`);
    return { a: Math.min(x, y), b: Math.max(x, y) };
  }

  /**
   * Partitions hosts `a` and `b`: every frame between them is dropped on the underlay, both ways.
   *
   * @throws {UsageError} when a host is unknown or both are the same
   */
  async cut(a: number | string, b: number | string): Promise<void> {
    const p = this.#pair(a, b, "cut");
    const cuts = this.#state.cuts.filter((c) => c.a !== p.a || c.b !== p.b);
    this.#state.cuts = [...cuts, p].sort((x, y) => x.a - y.a || x.b - y.b);
    await this.#apply();
  }

  /**
   * Removes the cut between hosts `a` and `b`, or every cut when called without hosts. Loss rules stay.
   *
   * @throws {UsageError} when a host is unknown or both are the same
   */
  async heal(a?: number | string, b?: number | string): Promise<void> {
    if (a === undefined || b === undefined) {
      if (a !== undefined || b !== undefined) {
        throw new UsageError("Cannot heal one host: name two hosts or none");
      }
      this.#state.cuts = [];
    } else {
      const p = this.#pair(a, b, "heal");
      this.#state.cuts = this.#state.cuts.filter((c) => c.a !== p.a || c.b !== p.b);
    }
    await this.#apply();
  }

  /**
   * Drops `percent` percent of frames between hosts `a` and `b`, in each direction (a round trip is lost
   * with probability 1 − (1 − p)²). 0 removes the rule.
   *
   * @throws {UsageError} when a host is unknown, both are the same, or `percent` is not 0–100 in steps of 0.1
   */
  async loss(a: number | string, b: number | string, percent: number): Promise<void> {
    const p = this.#pair(a, b, "set loss between");
    if (!(percent >= 0 && percent <= 100) || Math.abs(percent * 10 - Math.round(percent * 10)) > 1e-9) {
      throw new UsageError(`Invalid loss percent '${percent}': use 0 to 100 in steps of 0.1, like 0.5`);
    }
    const losses = this.#state.losses.filter((l) => l.a !== p.a || l.b !== p.b);
    if (percent > 0) losses.push({ ...p, percent });
    this.#state.losses = losses.sort((x, y) => x.a - y.a || x.b - y.b);
    await this.#apply();
  }

  /**
   * Drops (`drop` true) or allows every IP fragment on the underlay, between all hosts, IPv4 and IPv6 —
   * like a firewall, NAT or cloud network that discards fragments.
   */
  async fragments(drop: boolean): Promise<void> {
    if (drop) this.#state.dropFragments = true;
    else delete this.#state.dropFragments;
    await this.#apply();
  }

  /**
   * The IP fragments (packets) the underlay dropped since fragments were last set to drop (or any rule
   * change, which replaces the table).
   *
   * @throws {Error} when nft cannot read the counter
   */
  async fragmentsDropped(): Promise<number> {
    const out = await mustRun([
      "ip",
      "netns",
      "exec",
      lanNs(this.prefix),
      "nft",
      "list",
      "counter",
      "bridge",
      NFT_TABLE,
      FRAGMENT_COUNTER,
    ]);
    const m = /packets (\d+)/.exec(out);
    if (!m) throw new Error(`Cannot read counter '${FRAGMENT_COUNTER}' of lab '${this.prefix}': ${out}`);
    return Number(m[1]);
  }

  /**
   * Removes the whole lab: kills the processes it spawned and every other process in its namespaces,
   * deletes the namespaces (with their links and nftables table) and the state file.
   *
   * @returns the namespaces that were deleted
   * @throws {Error} when a namespace cannot be deleted
   */
  async down(): Promise<string[]> {
    const children = [...this.#children];
    for (const [child] of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }
    const removed = await removeLab(this.prefix);
    for (const [child, opts] of children) {
      await child.status;
      if (opts.stdout === "piped") await child.stdout.cancel().catch(() => {});
      if (opts.stderr === "piped") await child.stderr.cancel().catch(() => {});
      if (opts.stdin === "piped") await child.stdin.close().catch(() => {});
    }
    return removed;
  }
}

/** Runs `ip -batch -` with `lines` inside namespace `ns`. */
async function batchIn(ns: string, lines: string[]): Promise<void> {
  await mustRun(["ip", "-netns", ns, "-batch", "-"], lines.map((l) => l + "\n").join(""));
}
