import assert from "node:assert/strict";
import { parseNetConf } from "../../src/cni/config.ts";

Deno.test("deploy/cni/meshnet.conflist: every plugin config parses for every version it offers", () => {
  const list = JSON.parse(
    Deno.readTextFileSync(new URL("../../deploy/cni/meshnet.conflist", import.meta.url)),
  );
  assert.equal(list.name, "meshnet");
  assert.deepEqual(list.cniVersions, ["0.4.0", "1.0.0", "1.1.0"]);
  // Runtimes that read cniVersions take its newest; older ones (Podman 4.3's libcni) read cniVersion only and
  // cannot take a 1.1.0 result, so that is 1.0.0.
  assert.equal(list.cniVersion, "1.0.0");
  for (const cniVersion of list.cniVersions) {
    for (const plugin of list.plugins) {
      // A runtime flattens the list into one config per plugin, as here.
      const c = parseNetConf(JSON.stringify({ ...plugin, cniVersion, name: list.name }));
      assert.equal(c.type, "meshnet-cni");
    }
  }
});
