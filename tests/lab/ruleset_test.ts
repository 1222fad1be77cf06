import assert from "node:assert/strict";
import { blockedPairs, renderRuleset } from "../../src/lab/ruleset.ts";
import type { LabState } from "../../src/lab/state.ts";
import { linked, TOPOLOGIES } from "../../src/lab/topology.ts";
import { between, prng } from "./prng.ts";

function state(over: Partial<LabState>): LabState {
  return { prefix: "mnlab-", hosts: 3, containers: 0, topology: "full", cuts: [], losses: [], ...over };
}

Deno.test("renderRuleset() of a full lab has an empty blocked set and no loss rules", () => {
  const s = renderRuleset(state({}));
  assert.match(s, /^table bridge lab\ndelete table bridge lab\ntable bridge lab \{/);
  assert.doesNotMatch(s, /elements/);
  assert.doesNotMatch(s, /numgen/);
  assert.match(s, /iifname \. oifname @blocked drop/);
});

Deno.test("renderRuleset() blocks h1-h3 both ways in a line and adds loss rules both ways", () => {
  const s = renderRuleset(state({ topology: "line", losses: [{ a: 1, b: 2, percent: 30 }] }));
  assert.match(s, /elements = \{ "h1" \. "h3", "h3" \. "h1" \}/);
  assert.match(s, /iifname "h1" oifname "h2" numgen random mod 1000 < 300 drop/);
  assert.match(s, /iifname "h2" oifname "h1" numgen random mod 1000 < 300 drop/);
});

Deno.test("renderRuleset() takes loss in tenths of a percent", () => {
  const s = renderRuleset(state({ losses: [{ a: 1, b: 2, percent: 0.5 }] }));
  assert.match(s, /iifname "h1" oifname "h2" numgen random mod 1000 < 5 drop/);
});

Deno.test("renderRuleset() drops everything for 100 percent loss (nft refuses 'mod 100 < 100')", () => {
  const s = renderRuleset(state({ losses: [{ a: 2, b: 3, percent: 100 }] }));
  assert.match(s, /iifname "h2" oifname "h3" drop/);
  assert.doesNotMatch(s, /numgen/);
});

Deno.test("blockedPairs() is exactly the unlinked or cut pairs (seeded)", () => {
  const rand = prng(42);
  for (let run = 0; run < 200; run++) {
    const hosts = between(rand, 1, 8);
    const topology = TOPOLOGIES[between(rand, 0, 2)];
    const cuts: { a: number; b: number }[] = [];
    for (let a = 1; a <= hosts; a++) {
      for (let b = a + 1; b <= hosts; b++) if (rand() < 0.3) cuts.push({ a, b });
    }
    const got = new Set(blockedPairs(state({ hosts, topology, cuts })).map(([a, b]) => `${a}-${b}`));
    for (let a = 1; a <= hosts; a++) {
      for (let b = a + 1; b <= hosts; b++) {
        const want = !linked(topology, a, b) || cuts.some((c) => c.a === a && c.b === b);
        assert.equal(got.has(`${a}-${b}`), want, `${topology} ${a}-${b}`);
      }
    }
  }
});

Deno.test("renderRuleset() drops and counts IPv4 and IPv6 fragments only when the lab asks for it", () => {
  const allowed = renderRuleset(state({}));
  assert.match(allowed, /counter fragments \{/, "the counter exists either way, so it can always be read");
  assert.doesNotMatch(allowed, /frag-off|exthdr frag/);
  const dropped = renderRuleset(state({ dropFragments: true }));
  assert.match(dropped, /ether type ip ip frag-off & 0x3fff != 0 counter name "fragments" drop/);
  assert.match(dropped, /ether type ip6 exthdr frag exists counter name "fragments" drop/);
});
