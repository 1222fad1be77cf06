/**
 * The nftables ruleset of the underlay LAN, rendered from a {@link LabState}: one `bridge` table in the LAN
 * namespace whose forward chain drops frames between bridge ports `h<a>` and `h<b>` when the topology does
 * not link the two hosts or the pair is cut, and drops a random share of them when the pair is lossy
 * (`numgen random mod 100 < PCT`, since this kernel has no netem; nft refuses `< 100`, so 100
 * percent is a plain drop). With {@link LabState.dropFragments}, every IPv4 fragment (MF set or a
 * fragment offset: `ip frag-off & 0x3fff != 0`, so first fragments too) and every IPv6 packet with a
 * fragment header is dropped and counted in the named counter {@link FRAGMENT_COUNTER} (reset whenever the
 * table is replaced). Filtering on bridge ports catches ARP,
 * IP and anything a later meshnet sends, with no need to know addresses or MACs.
 *
 * The script replaces the whole table in one `nft -f` transaction, so rules are never half applied.
 *
 * @module
 */
import { NFT_TABLE } from "./constants.ts";
import type { LabState } from "./state.ts";
import { linked } from "./topology.ts";

/** The named nftables counter of the IP fragments the underlay dropped. */
export const FRAGMENT_COUNTER = "fragments";

/** The LAN-namespace bridge port (veth end) of host `host`, e.g. `h2`. */
export function lanPort(host: number): string {
  return `h${host}`;
}

/** The host pairs `[a, b]` (`a < b`) whose frames are all dropped: unlinked by the topology, or cut. */
export function blockedPairs(state: LabState): [number, number][] {
  const out: [number, number][] = [];
  const cut = new Set(state.cuts.map((c) => `${c.a}-${c.b}`));
  for (let a = 1; a <= state.hosts; a++) {
    for (let b = a + 1; b <= state.hosts; b++) {
      if (!linked(state.topology, a, b) || cut.has(`${a}-${b}`)) out.push([a, b]);
    }
  }
  return out;
}

/**
 * Renders the `nft -f` script that (re)creates the lab's table from `state`.
 *
 * @example
 * ```ts
 * renderRuleset({ prefix: "mnlab-", hosts: 3, containers: 0, topology: "line", cuts: [], losses: [] });
 * // table bridge lab … elements = { "h1" . "h3", "h3" . "h1" } …
 * ```
 */
export function renderRuleset(state: LabState): string {
  const blocked = blockedPairs(state).flatMap(([a, b]) => [
    `"${lanPort(a)}" . "${lanPort(b)}"`,
    `"${lanPort(b)}" . "${lanPort(a)}"`,
  ]);
  const lossy = state.losses.flatMap(({ a, b, percent }) => {
    const share = percent >= 100 ? "" : `numgen random mod 1000 < ${Math.round(percent * 10)} `;
    return [[a, b], [b, a]].map(([x, y]) =>
      `    iifname "${lanPort(x)}" oifname "${lanPort(y)}" ${share}drop`
    );
  });
  const fragments = state.dropFragments
    ? [
      `    ether type ip ip frag-off & 0x3fff != 0 counter name "${FRAGMENT_COUNTER}" drop`,
      `    ether type ip6 exthdr frag exists counter name "${FRAGMENT_COUNTER}" drop`,
    ]
    : [];
  return [
    `table bridge ${NFT_TABLE}`,
    `delete table bridge ${NFT_TABLE}`,
    `table bridge ${NFT_TABLE} {`,
    `  counter ${FRAGMENT_COUNTER} {`,
    `  }`,
    `  set blocked {`,
    `    type ifname . ifname`,
    ...(blocked.length ? [`    elements = { ${blocked.join(", ")} }`] : []),
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority 0; policy accept;`,
    `    iifname . oifname @blocked drop`,
    ...fragments,
    ...lossy,
    `  }`,
    `}`,
    ``,
  ].join("\n");
}
