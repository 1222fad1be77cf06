import assert from "node:assert/strict";
import { Routes, sameRouteTables } from "../../../src/overlay/sleeve/forwarder.ts";

Deno.test("Routes.from() converts names and answers next hops and broadcast trees", () => {
  const a = "02:00:00:00:00:0a", b = "02:00:00:00:00:0b", c = "02:00:00:00:00:0c";
  const r = Routes.from({ unicast: new Map([[c, b], [b, b]]), broadcast: new Map([[a, [b]], [c, []]]) });
  assert.equal(r.nextHop(0x0200_0000_000c), 0x0200_0000_000b);
  assert.equal(r.nextHop(0x0200_0000_000a), undefined);
  assert.deepEqual(r.broadcastHops(0x0200_0000_000a), [0x0200_0000_000b]);
  assert.deepEqual(r.broadcastHops(0x0200_0000_000b), []);
  assert.throws(
    () => Routes.from({ unicast: new Map(), broadcast: new Map([[a, ["b"]]]) }),
    /Invalid peer name 'b'/,
  );
});

Deno.test("sameRouteTables() ignores the order of entries, not of broadcast hops, and sees every difference", () => {
  const a = "02:00:00:00:00:0a", b = "02:00:00:00:00:0b", c = "02:00:00:00:00:0c";
  const t = (unicast: [string, string][], broadcast: [string, string[]][]) => ({
    unicast: new Map(unicast),
    broadcast: new Map(broadcast),
  });
  const base = t([[b, b], [c, b]], [[a, [b, c]], [b, []]]);
  assert.ok(sameRouteTables(base, t([[c, b], [b, b]], [[b, []], [a, [b, c]]])));
  for (
    const other of [
      t([[b, b]], [[a, [b, c]], [b, []]]),
      t([[b, b], [c, c]], [[a, [b, c]], [b, []]]),
      t([[b, b], [a, b]], [[a, [b, c]], [b, []]]),
      t([[b, b], [c, b]], [[a, [c, b]], [b, []]]),
      t([[b, b], [c, b]], [[a, [b]], [b, []]]),
      t([[b, b], [c, b]], [[a, [b, c]], [c, []]]),
      t([[b, b], [c, b]], [[a, [b, c]]]),
    ]
  ) {
    assert.equal(sameRouteTables(base, other), false, JSON.stringify([...other.unicast, ...other.broadcast]));
    assert.equal(sameRouteTables(other, base), false);
  }
});
