/**
 * The engine's loop under a storm that never ends: the device always has frames (a broadcast storm on the
 * bridge) and every one floods to a neighbour. Before the drain budget the loop never yielded and nothing
 * else on its thread ever ran again; now timers, route updates and stats calls are served while it drains.
 * Assertions are on completion and on progress, never on timing.
 */
import assert from "node:assert/strict";
import type { FrameDevice } from "../../../ffi/frame_device.ts";
import { MemoryNetwork } from "../../../ffi/testing/memory_packet_conn.ts";
import { type Clock, systemClock } from "../../../src/mesh/clock.ts";
import { Sleeve } from "../../../src/overlay/sleeve/sleeve.ts";
import { BROADCAST_MAC, frame, mac, peerName } from "./testbed.ts";

/** A device whose every read returns a full batch of broadcast frames: a storm on the bridge. */
class StormDevice implements FrameDevice {
  readonly name = "storm";
  readonly batchSize = 64;
  readonly #frame = frame(BROADCAST_MAC, mac(1), "storm ".repeat(40));
  reads = 0;

  mtu(): number {
    return 1500;
  }

  read(bufs: Uint8Array[], sizes: number[]): number {
    this.reads++;
    for (let i = 0; i < bufs.length; i++) bufs[i].set(this.#frame), sizes[i] = this.#frame.length;
    return bufs.length;
  }

  write(frames: Uint8Array[]): number {
    return frames.length;
  }

  readable(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): void {}
}

/** The system clock, counting the timer callbacks it runs (the engine's ticks). */
function countingClock(): Clock & { fired: number } {
  const clock = {
    fired: 0,
    now: systemClock.now,
    clearTimeout: systemClock.clearTimeout,
    setTimeout: (fn: () => void, ms: number) => systemClock.setTimeout(() => (clock.fired++, fn()), ms),
  };
  return clock;
}

/** Resolves after `ms` on a real timer: only when the engine's loop yields. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("Sleeve.run() under an endless storm still runs timers, route updates and stats calls", async () => {
  const network = new MemoryNetwork({ capacity: 1_000 });
  const device = new StormDevice();
  const clock = countingClock();
  const peer = network.listen("10.0.0.2", 6783);
  const sleeve = new Sleeve({ us: peerName(0), device, conn: network.listen("10.0.0.1", 6783), clock });
  sleeve.setPeer(peerName(1), { endpoint: peer.local });
  const routes = (hops: string[]) => ({
    unicast: new Map([[peerName(1), peerName(1)]]),
    broadcast: new Map([[peerName(0), hops]]),
  });
  sleeve.setRoutes(routes([peerName(1)]));
  const run = sleeve.run();
  try {
    await sleep(200); // never resolves while the loop holds the thread
    const first = sleeve.stats();
    assert.ok(first.framesFromDevice > 0, "the storm is being drained");
    assert.ok(clock.fired > 0, "the engine's tick timer ran during the storm");
    sleeve.setRoutes(routes([])); // the route update the storm used to starve: stop flooding to the peer
    await sleep(50);
    const sent = sleeve.stats().datagramsSent;
    await sleep(200);
    const later = sleeve.stats();
    assert.ok(later.framesFromDevice > first.framesFromDevice, "still draining the storm");
    assert.ok(later.datagramsSent - sent < 20, `the new routes hold: ${later.datagramsSent - sent} sent`);
  } finally {
    sleeve.close();
    await run;
    peer.close();
  }
});
