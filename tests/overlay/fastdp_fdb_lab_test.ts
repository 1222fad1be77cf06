/**
 * Fastdp's kernel programming for real: random peer up/down sequences (fdb_scenario.ts) drive FastDp over a
 * real VXLAN device on a bridge in a throwaway namespace, with entries "learned" between runs; after each
 * sequence the kernel's table must be exactly what FastDp's state asks for, and no call may throw.
 */
import assert from "node:assert/strict";
import { fdbAdd } from "../../ffi/netlink/neigh.ts";
import { linkAdd } from "../../ffi/netlink/link.ts";
import { SeededRandom } from "../../testing/seeded_random.ts";
import { VXLAN_DEVICE } from "../../src/overlay/fastdp/constants.ts";
import { VxlanDevice } from "../../src/overlay/fastdp/vxlan_device.ts";
import { bridgeJson, withTestNetns } from "../ffi/netlink/fixture.ts";
import { runFdbScenarios } from "./fastdp/fdb_scenario.ts";

Deno.test("fastdp: random peer up/down sequences leave a real VXLAN table equal to the model (seeded property)", async () => {
  await withTestNetns(async (nl, ns) => {
    linkAdd(nl, { kind: "bridge", name: "mnt-br" });
    const device = VxlanDevice.create(nl, "mnt-br", 1450);
    device.up();
    await runFdbScenarios(
      new SeededRandom(0x1ab),
      {
        entries: () => device.entries(),
        apply: (changes) => device.apply(changes),
        learn: (mac, dst) => {
          // What the kernel does on a frame from a new source: a dynamic entry, never over an existing one.
          if (!device.entries().some((e) => e.mac === mac)) {
            fdbAdd(nl, { link: device.index, mac, dst, state: "dynamic" });
          }
        },
      },
      40,
      12,
    );
    const shown = await bridgeJson<{ mac: string; dst?: string; state?: string }>(
      ns,
      "fdb",
      "show",
      "dev",
      VXLAN_DEVICE,
    );
    const fromBridge = shown.filter((e) => e.dst !== undefined).map((e) => `${e.mac} ${e.dst}`).sort();
    assert.deepEqual(fromBridge, device.entries().map((e) => `${e.mac} ${e.dst}`).sort());
  });
});
