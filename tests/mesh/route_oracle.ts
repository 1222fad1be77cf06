/**
 * Test helper: a plain BFS over the true links, the model routes are checked against.
 *
 * @module
 */

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
