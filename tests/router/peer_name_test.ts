import assert from "node:assert/strict";
import { DataDir } from "../../src/router/data_dir.ts";
import { loadPeerName, parsePeerName, randomPeerName } from "../../src/router/peer_name.ts";

Deno.test("randomPeerName() is a locally administered unicast MAC", () => {
  for (let i = 0; i < 100; i++) {
    const n = randomPeerName();
    assert.match(n, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(parseInt(n.slice(0, 2), 16) & 3, 2);
  }
});

Deno.test("parsePeerName() normalises case and refuses malformed names", () => {
  assert.equal(parsePeerName("CE:31:E0:06:45:1E"), "ce:31:e0:06:45:1e");
  for (const bad of ["", "ce:31:e0:06:45", "ce-31-e0-06-45-1e", "zz:31:e0:06:45:1e"]) {
    assert.throws(() => parsePeerName(bad), /Invalid peer name/);
  }
});

Deno.test("loadPeerName() persists one name across starts and honours --name", () => {
  const path = Deno.makeTempDirSync({ prefix: "mn-peername-" });
  try {
    const d = new DataDir(path);
    const first = loadPeerName(d);
    assert.equal(loadPeerName(d), first);
    assert.equal(loadPeerName(d, "02:00:00:00:00:01"), "02:00:00:00:00:01");
    assert.equal(loadPeerName(d), "02:00:00:00:00:01");
  } finally {
    Deno.removeSync(path, { recursive: true });
  }
});
