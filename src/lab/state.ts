/**
 * The lab state file, `/run/meshnet-lab/<prefix>.json`: what `lab up` built (hosts, containers, topology)
 * and the cut, loss and fragment rules added since. `status`, `cut`, `heal` and `loss` read it; the nftables table
 * in the LAN namespace is always rendered from it. `down` never needs it (it works from the prefix alone).
 * Writes are atomic (temporary file, then rename); concurrent `cut`/`loss` commands on one lab are not
 * serialised, the last writer wins.
 *
 * @module
 */
import { MAX_CONTAINERS, MAX_HOSTS, STATE_DIR } from "./constants.ts";
import { checkPrefix } from "./names.ts";
import { parseTopology, type Topology } from "./topology.ts";

/** Two hosts, `a < b` (1-based). */
export interface HostPair {
  /** Lower host number. */
  a: number;
  /** Higher host number. */
  b: number;
}

/** A share of packets dropped in both directions between hosts `a` and `b`. */
export interface Loss extends HostPair {
  /** Percent of packets dropped in each direction, 1–100. */
  percent: number;
}

/** Everything known about one lab. */
export interface LabState {
  /** The name prefix of every object of the lab. */
  prefix: string;
  /** Number of hosts, 1–{@link MAX_HOSTS}. */
  hosts: number;
  /** Container namespaces per host, 0–{@link MAX_CONTAINERS}. */
  containers: number;
  /** Which hosts may reach each other. */
  topology: Topology;
  /** Partitioned host pairs, sorted by `a` then `b`. */
  cuts: HostPair[];
  /** Lossy host pairs, sorted by `a` then `b`; at most one per pair. */
  losses: Loss[];
  /** True when the underlay drops every IP fragment (IPv4 and IPv6), lab-wide; absent means allowed. */
  dropFragments?: boolean;
}

/** The directory holding every host's meshnet data directory for the lab with `prefix`. */
export function meshnetRoot(prefix: string): string {
  return `${STATE_DIR}/${prefix}meshnet`;
}

/** The path of the state file of the lab with `prefix`. */
export function statePath(prefix: string): string {
  return `${STATE_DIR}/${prefix}.json`;
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new Error(
      `${what} must be an integer from ${min} to ${max}, got ${JSON.stringify(v) ?? "nothing"}`,
    );
  }
  return v;
}

/** A number from 0.1 to 100 in steps of 0.1 (a loss percent). */
function tenths(v: unknown, what: string): number {
  const n = typeof v === "number" ? Math.round(v * 10) : NaN;
  if (!(n >= 1 && n <= 1000) || Math.abs((v as number) * 10 - n) > 1e-9) {
    throw new Error(`${what} must be 0.1 to 100 in steps of 0.1, got ${JSON.stringify(v) ?? "nothing"}`);
  }
  return n / 10;
}

function pair(v: unknown, hosts: number, what: string): HostPair {
  if (typeof v !== "object" || v === null) throw new Error(`${what} must be an object {a, b}`);
  const o = v as Record<string, unknown>;
  const a = int(o.a, `${what}.a`, 1, hosts), b = int(o.b, `${what}.b`, 1, hosts);
  if (a >= b) throw new Error(`${what} must have a < b, got a=${a} b=${b}`);
  return { a, b };
}

/**
 * Checks a parsed state file and returns it as a {@link LabState}.
 *
 * @throws {Error} `Invalid lab state: …` naming the first bad field
 */
export function checkState(v: unknown): LabState {
  try {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("expected a JSON object");
    const o = v as Record<string, unknown>;
    if (typeof o.prefix !== "string") throw new Error("prefix must be a string");
    const prefix = checkPrefix(o.prefix);
    const hosts = int(o.hosts, "hosts", 1, MAX_HOSTS);
    const containers = int(o.containers, "containers", 0, MAX_CONTAINERS);
    if (typeof o.topology !== "string") throw new Error("topology must be a string");
    const topology = parseTopology(o.topology);
    if (!Array.isArray(o.cuts) || !Array.isArray(o.losses)) throw new Error("cuts and losses must be arrays");
    const cuts = Array.from(o.cuts, (c, i) => pair(c, hosts, `cuts[${i}]`));
    const losses = Array.from(o.losses, (l, i) => ({
      ...pair(l, hosts, `losses[${i}]`),
      percent: tenths((l as Record<string, unknown>).percent, `losses[${i}].percent`),
    }));
    if (o.dropFragments !== undefined && typeof o.dropFragments !== "boolean") {
      throw new Error("dropFragments must be true or false");
    }
    return {
      prefix,
      hosts,
      containers,
      topology,
      cuts,
      losses,
      ...(o.dropFragments ? { dropFragments: true } : {}),
    };
  } catch (err) {
    throw new Error(`Invalid lab state: ${(err as Error).message}`);
  }
}

/**
 * Reads the state of the lab with `prefix`, or returns undefined when it has no state file.
 *
 * @throws {Error} when the file cannot be read or is not a valid state (`Invalid lab state in '…': …`)
 */
export async function readState(prefix: string): Promise<LabState | undefined> {
  const path = statePath(prefix);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    return checkState(JSON.parse(text));
  } catch (err) {
    throw new Error(
      `Cannot read lab state '${path}': ${
        (err as Error).message
      }; run 'meshnet lab down --prefix ${prefix}' and up again`,
    );
  }
}

/** Writes `state` atomically to its state file, creating the state directory if needed. */
export async function writeState(state: LabState): Promise<void> {
  await Deno.mkdir(STATE_DIR, { recursive: true });
  const path = statePath(state.prefix), tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(state, null, 2) + "\n");
  await Deno.rename(tmp, path);
}

/** Deletes the state file of the lab with `prefix` (and a leftover temporary file); missing files are fine. */
export async function removeState(prefix: string): Promise<void> {
  for (const path of [statePath(prefix), `${statePath(prefix)}.tmp`]) {
    await Deno.remove(path).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }
}
