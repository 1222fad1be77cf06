/**
 * Lab topologies: which hosts of the one underlay LAN may reach each other, and so which peers each
 * host is told about when meshnet is launched on it.
 *
 * - `full`: every host reaches every other host.
 * - `line`: h1–h2–h3…: only neighbours reach each other.
 * - `star`: h1 is the hub; every other host reaches only h1.
 *
 * @module
 */
import { UsageError } from "../../base/errors.ts";

/** The topologies `lab up --topology` accepts. */
export const TOPOLOGIES = ["full", "line", "star"] as const;

/** One of {@link TOPOLOGIES}. */
export type Topology = typeof TOPOLOGIES[number];

/**
 * Checks a topology name.
 *
 * @throws {UsageError} `Unknown topology 'x': …`
 */
export function parseTopology(s: string): Topology {
  if (!(TOPOLOGIES as readonly string[]).includes(s)) {
    throw new UsageError(`Unknown topology '${s}': use one of ${TOPOLOGIES.join(", ")}`);
  }
  return s as Topology;
}

/** True when hosts `a` and `b` (1-based, different) may reach each other in `topology`. */
export function linked(topology: Topology, a: number, b: number): boolean {
  if (a === b) return false;
  switch (topology) {
    case "full":
      return true;
    case "line":
      return Math.abs(a - b) === 1;
    case "star":
      return a === 1 || b === 1;
  }
}

/**
 * The hosts that `host` reaches in a lab of `hosts` hosts, in ascending order.
 *
 * @example
 * ```ts
 * peersOf("line", 4, 2); // [1, 3]
 * peersOf("star", 4, 3); // [1]
 * ```
 */
export function peersOf(topology: Topology, hosts: number, host: number): number[] {
  const out: number[] = [];
  for (let other = 1; other <= hosts; other++) if (linked(topology, host, other)) out.push(other);
  return out;
}
