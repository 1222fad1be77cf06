import assert from "node:assert/strict";
import { Routes } from "../../../src/overlay/sleeve/forwarder.ts";

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
