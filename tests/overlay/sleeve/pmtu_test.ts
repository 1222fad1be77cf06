import assert from "node:assert/strict";
import { SeededRandom } from "../../../testing/seeded_random.ts";
import {
  MIN_DATAGRAM,
  PMTU_PROBE_TIMEOUT_MS,
  PMTU_RECHECK_MS,
} from "../../../src/overlay/sleeve/constants.ts";
import { PmtuSearch } from "../../../src/overlay/sleeve/pmtu.ts";

/** Runs a search against a path carrying `path` bytes (kernel refusing above `local`); returns the result. */
function search(
  path: number,
  local: number,
  ceiling: number,
  rnd?: SeededRandom,
): { result: number; ms: number } {
  const s = new PmtuSearch(ceiling, 1472);
  let now = 0;
  while (now < 60_000) {
    for (let size = s.next(now); size !== undefined; size = s.next(now)) {
      if (size > local) s.tooBig(size);
      else if (size <= path && !(rnd && rnd.next() < 0.3)) s.acked(size);
    }
    if (s.verified) return { result: s.maxDatagram, ms: now };
    now += PMTU_PROBE_TIMEOUT_MS;
  }
  throw new Error(`search for ${path} did not end`);
}

Deno.test("PmtuSearch finds the exact path MTU, fast when the ceiling already fits", () => {
  assert.deepEqual(search(1472, 65507, 1472), { result: 1472, ms: 0 });
  assert.equal(search(1472, 1472, 65507).result, 1472);
  assert.equal(search(1400, 1472, 9000).result, 1400);
  assert.equal(search(MIN_DATAGRAM, 1472, 9000).result, MIN_DATAGRAM);
});

Deno.test("PmtuSearch finds the path MTU through 30% probe loss (seeded)", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rnd = new SeededRandom(seed);
    const path = 600 + rnd.int(8000);
    const { result } = search(path, 9000, 9000, rnd);
    // A lost ack three times in a row can make a fitting size look too big; the result never exceeds the path.
    assert.ok(result <= path && result > path * 0.8, `seed ${seed}: ${result} for ${path}`);
  }
});

Deno.test("PmtuSearch uses the assumed size until verified, and searches again after tooBig() or the recheck", () => {
  const s = new PmtuSearch(9000, 1472);
  assert.equal(s.maxDatagram, 1472);
  assert.equal(s.verified, false);
  assert.equal(s.next(0), 9000);
  s.acked(9000);
  assert.equal(s.next(0), undefined);
  assert.equal(s.maxDatagram, 9000);
  assert.equal(s.verified, true);
  s.tooBig(9000);
  assert.equal(s.maxDatagram, 8999, "optimistic until the new search ends");
  assert.equal(s.next(1), 8999);
  s.acked(8999);
  assert.equal(s.next(1), undefined);
  assert.equal(s.maxDatagram, 8999);
  assert.equal(s.next(1 + PMTU_RECHECK_MS), 9000, "the recheck tries the ceiling again");
});
