/**
 * Test helpers: random peer graphs and a plain BFS over the true links, the model routes are checked against.
 *
 * @module
 */

import type { SeededRandom } from "../../src/mesh/testing/seeded_random.ts";

/** Peer name of index `i`, as a MAC address. */
export function peerName(i: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, "0");
  return `02:00:00:${hex((i >> 16) & 255)}:${hex((i >> 8) & 255)}:${hex(i & 255)}`;
}

/** A random connected graph on `n` nodes: a random tree plus `extra` random edges, as index pairs. */
export function randomGraph(rng: SeededRandom, n: number, extra: number): [number, number][] {
  const edges = new Set<string>();
  const out: [number, number][] = [];
  const add = (a: number, b: number) => {
    const key = a < b ? `${a} ${b}` : `${b} ${a}`;
    if (a === b || edges.has(key)) return;
    edges.add(key);
    out.push([a, b]);
  };
  for (let i = 1; i < n; i++) add(i, rng.int(i));
  for (let i = 0; i < extra; i++) add(rng.int(n), rng.int(n));
  return out;
}

/** Next hop per reachable destination from `from`, by BFS over `adj` visiting neighbours in name order. */
export function oracleNextHops(
  adj: ReadonlyMap<string, readonly string[]>,
  from: string,
): Map<string, string> {
  const hop = new Map<string, string>();
  const seen = new Set([from]);
  let frontier = [from];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const cur of frontier) {
      for (const nb of [...(adj.get(cur) ?? [])].sort()) {
        if (seen.has(nb)) continue;
        seen.add(nb);
        hop.set(nb, cur === from ? nb : hop.get(cur)!);
        next.push(nb);
      }
    }
    frontier = next;
  }
  return hop;
}
