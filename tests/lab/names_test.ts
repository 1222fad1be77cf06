import assert from "node:assert/strict";
import { UsageError } from "../../base/errors.ts";
import {
  checkPrefix,
  containerNs,
  hostNs,
  lanNs,
  ownsNs,
  parseShortName,
  resolveName,
} from "../../src/lab/names.ts";
import { between, prng } from "./prng.ts";

Deno.test("checkPrefix() accepts letters and digits ending in one dash", () => {
  for (const p of ["mnlab-", "mnt1a2b-", "a-", "abcdefghijkl-"]) assert.equal(checkPrefix(p), p);
  for (const p of ["", "-", "mnlab", "Mn-", "1ab-", "a-b-", "abcdefghijklm-", "a_b-", "a--"]) {
    assert.throws(() => checkPrefix(p), (e) => e instanceof UsageError && e.message.includes(`'${p}'`));
  }
});

Deno.test("hostNs(), containerNs() and lanNs() build names that ownsNs() claims", () => {
  assert.equal(lanNs("mnlab-"), "mnlab-lan");
  assert.equal(hostNs("mnlab-", 2), "mnlab-h2");
  assert.equal(containerNs("mnlab-", 2, 1), "mnlab-h2c1");
  for (const ns of ["mnlab-lan", "mnlab-h2", "mnlab-h2c1"]) assert.ok(ownsNs("mnlab-", ns));
});

Deno.test("ownsNs() never claims another prefix's or a foreign namespace", () => {
  for (
    const ns of [
      "mnlab-x-h1",
      "mnt1a2b-h1",
      "mnlab-h0",
      "mnlab-h1c0",
      "mnlab-lan2",
      "mnlab-",
      "mnlab-h01",
      "x",
    ]
  ) {
    assert.equal(ownsNs("mnlab-", ns), false, ns);
  }
});

Deno.test("ownsNs() claims each lab name for exactly one prefix (seeded)", () => {
  const rand = prng(7);
  const letters = "abcdefghijklmnopqrstuvwxyz0123456789";
  const prefixes = Array.from({ length: 40 }, () => {
    let p = "m";
    for (let i = between(rand, 0, 5); i > 0; i--) p += letters[between(rand, 0, letters.length - 1)];
    return p + "-";
  });
  const unique = [...new Set(prefixes)];
  for (const p of unique) {
    const names = [
      lanNs(p),
      hostNs(p, between(rand, 1, 200)),
      containerNs(p, between(rand, 1, 9), between(rand, 1, 50)),
    ];
    for (const ns of names) assert.deepEqual(unique.filter((q) => ownsNs(q, ns)), [p], ns);
  }
});

Deno.test("resolveName() takes short and full names and refuses others with the accepted forms", () => {
  assert.deepEqual(resolveName("mnlab-", "h1"), { short: "h1", host: 1, container: undefined });
  assert.deepEqual(resolveName("mnlab-", "mnlab-h3c2"), { short: "h3c2", host: 3, container: 2 });
  assert.deepEqual(resolveName("mnlab-", "lan"), { short: "lan" });
  assert.deepEqual(parseShortName("h12c3"), { short: "h12c3", host: 12, container: 3 });
  for (const bad of ["", "h", "c1", "h1c", "lan1", "other-h1", "h-1", "H1"]) {
    assert.throws(
      () => resolveName("mnlab-", bad),
      (e) => e instanceof UsageError && /use lan, h<N>/.test(e.message),
    );
  }
});
